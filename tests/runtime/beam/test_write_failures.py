"""Rows BigQuery rejects come back to the pipeline and become dead letters of stage `write` (against the BigQuery
API emulator; it reports per-row errors for wrong types, unparsable timestamps and over-precise NUMERICs, though
it accepts some rows real BigQuery rejects — see datahem/dev/bqemulator/README.md)."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from google.cloud import bigquery as bq

from datahem.runtime.beam.io import FAILED, WriteRowsFn
from datahem.runtime.beam.pipeline import write_failed_to_dead_letter
from tests.emulators import bigquery_emulator
from tests.runtime.beam import platform as pf


@pytest.mark.slow
def test_rejected_rows_become_write_dead_letters():
    with bigquery_emulator() as url:
        client = pf.bigquery(url)
        client.create_dataset(f"{pf.PROJECT}.d")
        schema = [bq.SchemaField("_uuid", "STRING", "REQUIRED"), bq.SchemaField("at", "TIMESTAMP")]
        client.create_table(bq.Table(f"{pf.PROJECT}.d.t", schema=schema))
        good = {"_uuid": "u-good", "at": "2026-11-27T07:00:00Z"}
        bad = {"_uuid": "u-bad", "at": "not a time"}
        messages = {
            u: PubsubMessage(f'{{"id": "{u}"}}'.encode(), {"uuid": u, "source": "s"}) for u in ("u-good", "u-bad")
        }
        options = PipelineOptions([f"--project={pf.PROJECT}"], save_main_session=False)
        with beam.Pipeline(options=options) as p:
            written = (
                p
                | beam.Create([(good, messages["u-good"]), (bad, messages["u-bad"])])
                | beam.ParDo(WriteRowsFn(pf.PROJECT, "d.t", url)).with_outputs(FAILED, main="ok")
            )
            dead = written[FAILED] | write_failed_to_dead_letter("datahem-test")
            summary = dead | beam.Map(
                lambda r: (r["uuid"], r["stage"], r["pipeline"], r["payload"] is not None, r["error"][:26])
            )
            assert_that(summary, equal_to([("u-bad", "write", "datahem-test", True, "BigQuery rejected the row:")]))
        assert [r["_uuid"] for r in pf.query(url, "SELECT _uuid FROM d.t")] == ["u-good"]
