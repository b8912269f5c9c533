"""Rows through the BigQuery Storage Write API (datahem/runtime/storage_write.py) against the BigQuery API emulator's
gRPC Write API: the default stream lands rows (nested and repeated columns, TIMESTAMP micros, NUMERIC text); a row the
API refuses, and a row the row message cannot carry, become dead letters of stage `write` with the reason while the
other rows are written; on a committed stream an append whose response was lost is retried at the same offset and
not written twice; and every example row written through the Write API reads back equal, column by column, to the
same row written through insertAll."""

from __future__ import annotations

import json
from decimal import Decimal

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from google.api_core import exceptions as gexc
from google.cloud import bigquery as bq

from datahem.runtime import rowproto, storage_write
from datahem.runtime.beam.io import FAILED, StorageWriteRowsFn
from datahem.runtime.beam.pipeline import write_failed_to_dead_letter
from tests.emulators import bigquery_emulator
from tests.runtime.beam import platform as pf

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

FIELDS = [
    {"name": "_uuid", "type": "STRING", "mode": "REQUIRED"},
    {"name": "sent_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
    {"name": "span", "type": "INTERVAL", "mode": "NULLABLE"},
    {
        "name": "_attributes",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [{"name": "key", "type": "STRING", "mode": "REQUIRED"}, {"name": "value", "type": "STRING"}],
    },
]


def _table(url: str, tmp_path, name: str = "t"):
    """Table d.<name> on the emulator, and its generated-like files (schema JSON, row message) under tmp_path."""
    client = pf.bigquery(url)
    client.create_dataset(f"{pf.PROJECT}.d", exists_ok=True)
    client.create_table(bq.Table(f"{pf.PROJECT}.d.{name}", schema=[bq.SchemaField.from_api_repr(f) for f in FIELDS]))
    folder = tmp_path / "bigquery" / "d"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.schema.json").write_text(json.dumps({"fields": FIELDS}))
    descriptor = rowproto.row_descriptor(name, FIELDS)
    (folder / f"{name}.row.txtpb").write_text(rowproto.descriptor_text(descriptor))
    return rowproto.RowEncoder.for_table(tmp_path / "bigquery", f"d.{name}")


def _row(uuid: str, **extra) -> dict:
    row = {
        "_uuid": uuid,
        "sent_at": "2026-11-27T07:00:00.250Z",
        "amount": "12.5",
        "_attributes": [{"key": "k", "value": uuid}],
    }
    return row | extra


def test_the_default_stream_lands_rows(tmp_path):
    with bigquery_emulator() as url:
        encoder = _table(url, tmp_path)
        writer = storage_write.StorageWriter(pf.PROJECT, "d.t", encoder, url.grpc)
        assert writer.write([_row("a"), _row("b", sent_at=None, _attributes=[])]) == {}
        got = pf.query(url, "SELECT _uuid, UNIX_MICROS(sent_at) AS sent_at, amount, _attributes FROM d.t ORDER BY 1")
        assert got == [
            {
                "_uuid": "a",
                "sent_at": 1795762800250000,
                "amount": Decimal("12.5"),
                "_attributes": [{"key": "k", "value": "a"}],
            },
            {"_uuid": "b", "sent_at": None, "amount": Decimal("12.5"), "_attributes": []},
        ]


def test_refused_rows_become_write_dead_letters(tmp_path):
    with bigquery_emulator() as url:
        _table(url, tmp_path)
        rows = {
            "u-good": _row("u-good"),
            "u-refused": _row("u-refused", span="P1D"),  # ISO 8601: the API refuses the request that carries it
            "u-unfit": _row("u-unfit", sent_at="not a time"),  # the row message cannot carry it: never sent
            "u-good2": _row("u-good2", span="0-0 0 1:0:0"),
        }
        messages = {u: PubsubMessage(f'{{"id": "{u}"}}'.encode(), {"uuid": u, "source": "s"}) for u in rows}
        options = PipelineOptions([f"--project={pf.PROJECT}"], save_main_session=False)
        writer = StorageWriteRowsFn(pf.PROJECT, "d.t", str(tmp_path / "bigquery"), url.grpc)
        with beam.Pipeline(options=options) as p:
            written = (
                p
                | beam.Create([(row, messages[u]) for u, row in rows.items()])
                | beam.ParDo(writer).with_outputs(FAILED, main="ok")
            )
            dead = written[FAILED] | write_failed_to_dead_letter("datahem-test")
            summary = dead | beam.Map(lambda r: (r["uuid"], r["stage"], r["error"].split(":")[0]))
            assert_that(
                summary,
                equal_to(
                    [
                        ("u-refused", "write", "BigQuery rejected the row"),
                        ("u-unfit", "write", "BigQuery rejected the row"),
                    ]
                ),
            )
            reasons = dead | beam.Map(
                lambda r: (r["uuid"], "P1D" in r["error"] or "sent_at: cannot encode" in r["error"])
            )
            assert_that(reasons, equal_to([("u-refused", True), ("u-unfit", True)]), label="reasons")
        assert [r["_uuid"] for r in pf.query(url, "SELECT _uuid FROM d.t ORDER BY 1")] == ["u-good", "u-good2"]


class LosesFirstResponse:
    """The real client, except that the first append's response is lost after the API wrote it (as a time-out
    would): the writer must retry at the same offset."""

    def __init__(self, client):
        self.client = client
        self.appends = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def append_rows(self, requests, **kwargs):
        responses = list(self.client.append_rows(requests, **kwargs))
        self.appends += 1
        if self.appends == 1:
            raise gexc.ServiceUnavailable("the connection dropped before the response arrived")
        return responses


def test_a_replayed_offset_on_a_committed_stream_is_not_written_twice(tmp_path):
    with bigquery_emulator() as url:
        encoder = _table(url, tmp_path)
        client = LosesFirstResponse(storage_write.write_client(url.grpc))
        writer = storage_write.StorageWriter(
            pf.PROJECT, "d.t", encoder, mode="committed", client=client, sleep=lambda s: None
        )
        assert writer.write([_row("a"), _row("b")]) == {}  # first try written, response lost, retried at offset 0
        assert writer.write([_row("c")]) == {}  # offset 2
        assert client.appends == 3
        assert writer.offset == 3
        stream = writer.stream
        # the same rows again at offset 0, as a restarted bundle would send them: ALREADY_EXISTS, not a second copy
        writer.offset = 0
        assert writer.write([_row("a"), _row("b")]) == {}
        writer.close()
        assert stream is not None and writer.stream is None
        got = pf.query(url, "SELECT _uuid, COUNT(*) AS n FROM d.t GROUP BY 1 ORDER BY 1")
        assert got == [{"_uuid": "a", "n": 1}, {"_uuid": "b", "n": 1}, {"_uuid": "c", "n": 1}]


@pytest.mark.parametrize("mode", ["default", "committed"])
def test_a_table_not_yet_migrated_refreshes_the_writer_and_drops_no_row(tmp_path, mode):
    """The release's row message has a column the table does not have yet: the API refuses the writer schema (not the
    rows); the writer refreshes and retries, and once the migration has added the column the rows land, none of them
    a dead letter."""
    with bigquery_emulator() as url:
        encoder = _table(url, tmp_path)  # the row message of every column in FIELDS
        client = pf.bigquery(url)
        client.delete_table(f"{pf.PROJECT}.d.t")
        old = [bq.SchemaField.from_api_repr(f) for f in FIELDS if f["name"] != "span"]
        client.create_table(bq.Table(f"{pf.PROJECT}.d.t", schema=old))
        migrated = []

        def migrate_while_waiting(seconds):
            if not migrated:
                # as a migration does; the emulator's DDL changes its storage, the API call its catalog
                client.query("ALTER TABLE d.t ADD COLUMN span INTERVAL").result()
                table = client.get_table(f"{pf.PROJECT}.d.t")
                if "span" not in [f.name for f in table.schema]:
                    table.schema = [*table.schema, bq.SchemaField("span", "INTERVAL")]
                    client.update_table(table, ["schema"])
                migrated.append(seconds)

        writer = storage_write.StorageWriter(pf.PROJECT, "d.t", encoder, url.grpc, mode, sleep=migrate_while_waiting)
        assert writer.write([_row("a", span="0-0 0 1:0:0"), _row("b")]) == {}
        assert migrated and writer.schema_refreshes == 1
        got = pf.query(url, "SELECT _uuid, span IS NOT NULL AS has_span FROM d.t ORDER BY 1")
        assert got == [{"_uuid": "a", "has_span": True}, {"_uuid": "b", "has_span": False}]


def test_write_api_rows_equal_the_json_path_rows_for_every_example(example_model, convert):
    """Every valid example through its converter, then into two copies of its table: one through the Storage Write
    API, one through insertAll (`insert_rows_json`); read back, the rows are equal column by column."""
    from datahem.runtime.beam import rows as meta_rows
    from datahem.runtime.beam.io import json_row
    from tests.conftest import EXAMPLE
    from tests.examples import load_examples

    generated = EXAMPLE / "generated" / "bigquery"
    examples = [e for e in load_examples() if e.valid]
    with bigquery_emulator() as url:
        client = pf.bigquery(url)
        for dataset in ("events", "events_json"):
            client.create_dataset(f"{pf.PROJECT}.{dataset}")
        compared = 0
        for t in example_model.tables:
            fields = json.loads((generated / t.dataset / f"{t.name}.schema.json").read_text())["fields"]
            schema = [bq.SchemaField.from_api_repr(_without_policy_tags(f)) for f in fields]
            for dataset in ("events", "events_json"):
                client.create_table(bq.Table(f"{pf.PROJECT}.{dataset}.{t.name}", schema=schema))
            rows = []
            for e in (e for e in examples if e.message == t.message):
                attributes = pf.attributes("s", t.message, **e.attributes)
                row, _ = convert(e.message, e.payload, attributes)
                rows.append({**meta_rows.metadata(attributes, "s", "m-1", 1764226800.25), **row})
            encoder = rowproto.RowEncoder.for_table(generated, f"{t.dataset}.{t.name}")
            assert storage_write.StorageWriter(pf.PROJECT, f"events.{t.name}", encoder, url.grpc).write(rows) == {}
            assert client.insert_rows_json(f"{pf.PROJECT}.events_json.{t.name}", [json_row(r) for r in rows]) == []
            by_write_api, by_json = (
                sorted((dict(r) for r in client.list_rows(f"{pf.PROJECT}.{d}.{t.name}")), key=lambda r: r["_uuid"])
                for d in ("events", "events_json")
            )
            assert len(by_write_api) == len(rows)
            for a, b in zip(by_write_api, by_json, strict=True):
                for column in a:
                    assert a[column] == b[column], (t.name, a["_uuid"], column)
                compared += 1
        assert compared == len(examples)


def _without_policy_tags(field: dict) -> dict:
    out = {k: v for k, v in field.items() if k != "policyTags"}
    if "fields" in field:
        out["fields"] = [_without_policy_tags(f) for f in field["fields"]]
    return out
