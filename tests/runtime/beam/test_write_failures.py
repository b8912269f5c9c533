"""Rows BigQuery rejects come back to the pipeline and become dead letters of stage `write` (against the BigQuery
API emulator; it reports per-row errors for wrong types, unparsable timestamps and over-precise NUMERICs, though
it accepts some rows real BigQuery rejects — see datahem/dev/bqemulator/README.md)."""

from __future__ import annotations

import math

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
from tests.runtime.beam.strict_json import strict_json_front


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


@pytest.mark.slow
def test_a_refused_request_never_blocks_the_rows_it_carries():
    """One batch through the real write path: NaN and ±Infinity doubles are stored as FLOAT64 NaN/±inf (the rule of
    datahem/runtime/beam/io.py: sent as the strings "NaN", "Infinity", "-Infinity"), and a row that makes the
    emulator refuse the whole request (an ISO 8601 INTERVAL: HTTP 400) is isolated as a `write` dead letter while
    every other row of the batch arrives. The strict-JSON front refuses bare NaN tokens as BigQuery does (the emulator
    itself would store them), so the old writer, which sent them and did not catch the 400, fails here."""
    with bigquery_emulator() as emulator, strict_json_front(emulator) as url:
        client = pf.bigquery(url)
        client.create_dataset(f"{pf.PROJECT}.d")
        schema = [
            bq.SchemaField("_uuid", "STRING", "REQUIRED"),
            bq.SchemaField("x", "FLOAT"),
            bq.SchemaField("i", "INTERVAL"),
        ]
        client.create_table(bq.Table(f"{pf.PROJECT}.d.t", schema=schema))
        values = {f"u-{n}": float(n) / 4 for n in range(12)}
        values |= {"u-nan": math.nan, "u-inf": math.inf, "u-ninf": -math.inf, "u-1e400": float("1e400")}
        rows = [{"_uuid": u, "x": x} for u, x in values.items()]
        rows.insert(7, {"_uuid": "u-interval", "x": 1.0, "i": "PT1H"})
        messages = {r["_uuid"]: PubsubMessage(b"{}", {"uuid": r["_uuid"], "source": "s"}) for r in rows}
        options = PipelineOptions([f"--project={pf.PROJECT}"], save_main_session=False)
        with beam.Pipeline(options=options) as p:
            written = (
                p
                | beam.Create([[(r, messages[r["_uuid"]]) for r in rows]])  # one element: one bundle, one batch
                | beam.FlatMap(lambda batch: batch)
                | beam.ParDo(WriteRowsFn(pf.PROJECT, "d.t", url)).with_outputs(FAILED, main="ok")
            )
            dead = written[FAILED] | write_failed_to_dead_letter("datahem-test")
            summary = dead | beam.Map(lambda r: (r["uuid"], r["stage"], "refused the request" in r["error"]))
            assert_that(summary, equal_to([("u-interval", "write", True)]))
        stored = {r["_uuid"]: r for r in pf.query(url, "SELECT _uuid, x, IS_NAN(x) AS nan FROM d.t")}
        assert set(stored) == set(values)
        assert stored["u-nan"]["nan"] is True
        assert (stored["u-inf"]["x"], stored["u-ninf"]["x"], stored["u-1e400"]["x"]) == (math.inf, -math.inf, math.inf)
        assert all(stored[u]["x"] == x for u, x in values.items() if math.isfinite(x))
