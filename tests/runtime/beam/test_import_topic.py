"""A Kinesis source with `via: pubsub_import`: Pub/Sub's import topic publishes each Kinesis record with none of
DataHem's attributes (Pub/Sub sets the message id and publish time; the record's data is the message data). The
source's branch and the backup give such a message the attributes the reader would have set, so it becomes a row
like the reader's events do and its backup row replays the same `uuid`; a message a collector published to the same
topic keeps its own. DirectRunner, the Pub/Sub emulator and
the BigQuery API emulator, as the other streaming tests."""

from __future__ import annotations

import dataclasses
import importlib
import json

import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.utils.timestamp import Timestamp

from datahem.runtime.beam.local import local_pipelines, run_all
from datahem.runtime.beam.pipeline import SourceSpec, imported_attributes
from tests.conftest import EXAMPLE, ROOT
from tests.emulators import bigquery_emulator, pubsub_emulator
from tests.examples import load_examples
from tests.runtime.beam import platform as pf

SOURCE = "car_temperatures"


def _spec() -> tuple[SourceSpec, object]:
    module = importlib.import_module(f"generated.pipelines.source_{SOURCE}")
    return dataclasses.replace(module.SPEC, imported_from="kinesis"), module.convert


def test_an_import_topics_message_gets_the_readers_attributes():
    spec, _ = _spec()
    published = Timestamp.of(1764633600.25)
    message = PubsubMessage(b"{}", None, message_id="17", publish_time=published)
    assert imported_attributes(message, SOURCE, spec.message_type, "kinesis").attributes == {
        "uuid": "17",
        "timestamp": "2025-12-02T00:00:00.250000Z",
        "source": SOURCE,
        "message_type": spec.message_type,
        "collector": "kinesis",
    }
    # published by a collector (or replayed by a backfill): its own attributes stay
    own = {"uuid": "u-1", "timestamp": "2025-01-01T00:00:00Z", "source": SOURCE, "collector": "kinesis"}
    assert (
        imported_attributes(PubsubMessage(b"{}", own, "18", published), SOURCE, spec.message_type, "kinesis").attributes
        == own
    )


@pytest.mark.emulator
@pytest.mark.slow
def test_an_import_topics_message_becomes_a_row_with_datahems_attributes(example_model):
    cars = next(s for s in example_model.sources if s.name == SOURCE)
    example = next(e for e in load_examples() if e.valid and e.message == cars.message)
    spec, convert = _spec()
    mp = pytest.MonkeyPatch()
    with pubsub_emulator() as pubsub, bigquery_emulator() as bq:
        mp.setenv("PUBSUB_EMULATOR_HOST", pubsub)
        mp.setenv("GOOGLE_CLOUD_PROJECT", pf.PROJECT)
        try:
            pf.create_topics(example_model, test_subscriptions=False)
            pf.create_tables(example_model, EXAMPLE / "generated", bq)
            # as the import topic publishes a record: the record's bytes, no attribute of DataHem's
            imported_id = pf.publish(cars.table.topic, example.payload.encode(), {})
            options = PipelineOptions(
                [
                    f"--project={pf.PROJECT}",
                    f"--bigquery_endpoint={bq}",
                    f"--bigquery_storage_endpoint={bq.grpc}",  # the default write_method: the Storage Write API
                    "--runner=DirectRunner",
                ],
                streaming=True,
                save_main_session=False,
            )
            sub = cars.table.backup_subscription
            backup = dataclasses.replace(
                importlib.import_module("generated.pipelines.backup").SPEC,
                subscriptions=(sub,),
                imported={sub: (SOURCE, cars.message, "kinesis")},
            )
            results = run_all(local_pipelines([(spec, convert)], backup, options))
            try:
                table = f"{cars.table.dataset}.{cars.table.name}"
                sql = f"SELECT * FROM `{table}`"
                (row,) = pf.wait_until(lambda: pf.query(bq, sql) or None, 240, "the imported record as a row")
                bqs = example_model.bigquery
                backup_sql = f"SELECT * FROM `{bqs.backup_dataset}.{bqs.backup_table}`"
                (backed,) = pf.wait_until(lambda: pf.query(bq, backup_sql) or None, 240, "its backup row")
            finally:
                for result in results:
                    result.cancel()
        finally:
            mp.undo()
    attributes = {a["key"]: a["value"] for a in row["_attributes"]}
    assert row["_uuid"] == imported_id == attributes["uuid"]
    assert row["_source"] == SOURCE
    assert attributes["source"] == SOURCE and attributes["message_type"] == cars.message
    assert attributes["collector"] == "kinesis"
    assert row["_received_at"] == row["_publish_time"] is not None, "received when the import topic published it"
    # the backup holds the same uuid, so a backfill replays it as the same event
    assert (backed["uuid"], backed["message_id"], backed["source"]) == (imported_id, imported_id, SOURCE)
    assert {a["key"]: a["value"] for a in backed["attributes"]} == attributes
    golden = json.loads((ROOT / "tests/golden/converters/grocer_delivery_v1_cartemperature.json").read_text())
    assert row["vin"] == golden[example.name]["row"]["vin"]
