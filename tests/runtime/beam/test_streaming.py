"""Every source pipeline and the backup pipeline, streaming on Beam's DirectRunner against the real Pub/Sub
emulator and a BigQuery API emulator: every example event (valid and invalid, plus a redelivered duplicate) is
published with the collector's attributes, and each ends up exactly once as a row or as a dead letter with its
reason; the processed stream carries the protobuf of each valid event; the backup holds every event; a backfill
replays a query's events with backfill=true and the original uuids without a second backup or a second row."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from datahem.compiler.emitters.converters import module_name
from datahem.runtime.beam.local import local_pipelines, run_all
from tests.conftest import EXAMPLE, ROOT
from tests.emulators import bigquery_emulator, pubsub_emulator
from tests.examples import load_examples
from tests.runtime.beam import platform as pf
from tests.runtime.beam.conftest import TEST_KEYS
from tests.runtime.beam.strict_json import strict_json_front

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
GOLDEN = ROOT / "tests" / "golden" / "converters"


@pytest.fixture(scope="module")
def local_platform(example_model):
    mp = pytest.MonkeyPatch()
    # the strict-JSON front refuses a bare NaN token as BigQuery does (the emulator alone would store it)
    with pubsub_emulator() as pubsub, bigquery_emulator() as emulator, strict_json_front(emulator) as bq:
        mp.setenv("PUBSUB_EMULATOR_HOST", pubsub)
        # rows go through the Storage Write API (the pipelines' default write_method) of the same emulator
        mp.setenv("BIGQUERY_STORAGE_EMULATOR_HOST", emulator.grpc)
        mp.setenv("GOOGLE_CLOUD_PROJECT", pf.PROJECT)
        for secret, key in TEST_KEYS.items():
            mp.setenv("DATAHEM_SECRET_" + secret.upper().replace("-", "_"), key.decode())
        pf.create_topics(example_model)
        pf.create_tables(example_model, EXAMPLE / "generated", bq)
        yield pubsub, bq
    mp.undo()


def _options(bq: str, streaming: bool = True) -> PipelineOptions:
    return PipelineOptions(
        [f"--project={pf.PROJECT}", f"--bigquery_endpoint={bq}", "--secret_source=env", "--runner=DirectRunner"],
        streaming=streaming,
        save_main_session=False,
    )


def _source_module(source):
    return importlib.import_module(f"generated.pipelines.source_{source.name}")


def test_sources_stream_rows_dead_letters_processed_backup_and_backfill(local_platform, example_model, convert):
    _, bq = local_platform
    examples = load_examples()
    sent: dict[str, tuple] = {}  # uuid -> (source, example)
    for s in example_model.sources:
        for ex in (e for e in examples if e.message == s.message):
            attrs = pf.attributes(s.name, s.message, **ex.attributes)
            pf.publish(s.table.topic, ex.payload.encode(), attrs)
            sent[attrs["uuid"]] = (s, ex, attrs)
    # a redelivery: the same event (same uuid) published again must not give a second row
    dup_uuid, (dup_source, dup_ex, dup_attrs) = next((u, v) for u, v in sent.items() if v[1].valid)
    pf.publish(dup_source.table.topic, dup_ex.payload.encode(), dup_attrs)
    # a valid "NaN" double among the car logger's events: stored as FLOAT64 NaN, never stalling its batch (issue 17)
    cars = next(s for s in example_model.sources if s.name == "car_temperatures")
    car_ex = next(e for e in examples if e.valid and e.message == cars.message)
    nan_attrs = pf.attributes(cars.name, cars.message, **car_ex.attributes)
    nan_payload = json.dumps({**json.loads(car_ex.payload), "outsideCelsius": "NaN"}).encode()
    pf.publish(cars.table.topic, nan_payload, nan_attrs)
    extra_rows = {nan_attrs["uuid"]}

    options = _options(bq)
    sources = [(m.SPEC, m.convert) for m in (_source_module(s) for s in example_model.sources)]
    backup = importlib.import_module("generated.pipelines.backup")
    results = run_all(local_pipelines(sources, backup.SPEC, options))
    try:
        bqs = example_model.bigquery
        dead_table = f"{bqs.dead_letter_dataset}.{bqs.dead_letter_table}"
        backup_table = f"{bqs.backup_dataset}.{bqs.backup_table}"

        def counts():
            rows = sum(
                pf.query(bq, f"SELECT COUNT(*) AS n FROM `{t.dataset}.{t.name}`")[0]["n"] for t in example_model.tables
            )
            dead = pf.query(bq, f"SELECT COUNT(*) AS n FROM `{dead_table}`")[0]["n"]
            backed = pf.query(bq, f"SELECT COUNT(DISTINCT uuid) AS n FROM `{backup_table}`")[0]["n"]
            events = len(sent) + len(extra_rows)
            return (rows, dead, backed) if rows + dead >= events and backed >= events else None

        rows_n, dead_n = pf.wait_until(counts, 240, "every event as a row or a dead letter")[:2]
        valid = {u for u, (_, ex, _) in sent.items() if ex.valid}
        invalid = set(sent) - valid
        # nothing lost, nothing doubled: events in = rows written + dead-letter rows
        assert (rows_n, dead_n) == (len(valid) + len(extra_rows), len(invalid))
        cars_table = f"{cars.table.dataset}.{cars.table.name}"
        nan_row = pf.query(
            bq, f"SELECT IS_NAN(outside_celsius) AS nan FROM `{cars_table}` WHERE _uuid = '{nan_attrs['uuid']}'"
        )
        assert nan_row == [{"nan": True}]

        for t in example_model.tables:
            golden = json.loads((GOLDEN / f"{module_name(t)}.json").read_text())
            stored = pf.query(bq, f"SELECT * FROM `{t.dataset}.{t.name}`")
            by_uuid = {r["_uuid"]: r for r in stored}
            for u, (s, ex, attrs) in sent.items():
                if ex.message != t.message or not ex.valid:
                    continue
                row = by_uuid[u]
                assert row["_source"] == s.name
                assert {a["key"]: a["value"] for a in row["_attributes"]} == attrs
                assert row["_received_at"] is not None and row["_publish_time"] is not None
                expected = golden[ex.name]["row"]
                for column in ("order_id", "vin", "sku", "response_id", "client_id", "tracking_id", "email"):
                    if column in expected:
                        assert row[column] == expected[column], (ex.name, column)

        dead_rows = {r["uuid"]: r for r in pf.query(bq, f"SELECT * FROM `{dead_table}`")}
        assert set(dead_rows) == invalid
        for u in invalid:
            s, ex, attrs = sent[u]
            assert dead_rows[u]["stage"] == ex.stage, ex.name
            assert ex.reason in dead_rows[u]["error"], (ex.name, dead_rows[u]["error"])
            assert dead_rows[u]["pipeline"] == f"datahem-{s.name.replace('_', '-')}"
            payload = dead_rows[u]["payload"]
            assert (payload if isinstance(payload, bytes) else base64.b64decode(payload)) == ex.payload.encode()

        # the processed stream: one protobuf message per valid event, attributes carried over
        for t in example_model.tables:
            expected = {u for u in valid if sent[u][1].message == t.message}
            extra = extra_rows if t.message == cars.message else set()
            got: dict[str, object] = {}

            def collect(t=t, got=got, expected=expected | extra):
                for m in pf.pull(f"{t.processed_topic}.test"):
                    got[m.attributes["uuid"]] = m
                return set(got) >= expected

            pf.wait_until(collect, 60, f"processed messages of {t.message}")
            assert set(got) == expected | extra
            for u in expected:
                _, ex, attrs = sent[u]
                assert dict(got[u].attributes) == attrs
                assert got[u].data == convert(ex.message, ex.payload, attrs)[1], ex.name

        # backfill: replay the orders backup with backfill=true; no second backup row, no second table row
        orders = next(s for s in example_model.sources if s.name == "orders")
        before_backup = pf.query(bq, f"SELECT COUNT(*) AS n FROM `{backup_table}`")[0]["n"]
        before_rows = pf.query(bq, "SELECT COUNT(*) AS n FROM `events.orders`")[0]["n"]
        watch = f"{orders.table.topic}.replay-test"
        pf.subscriber().create_subscription(
            name=pf.subscriber().subscription_path(pf.PROJECT, watch),
            topic=pf.publisher().topic_path(pf.PROJECT, orders.table.topic),
        )
        proc = subprocess.run(
            [sys.executable, "-m", "datahem.cli", "backfill", "--source", "orders", "--gcp-project", pf.PROJECT,
             "--bigquery-endpoint", bq, "--query",
             f"SELECT payload, attributes FROM `{backup_table}` WHERE source = 'orders'"],
            cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        orders_backed = pf.query(bq, f"SELECT COUNT(*) AS n FROM `{backup_table}` WHERE source = 'orders'")[0]["n"]
        assert orders_backed == sum(1 for s, _, _ in sent.values() if s.name == "orders")
        assert f"replayed {orders_backed} events" in proc.stdout
        replays: dict[str, object] = {}

        def collect_replays():
            for m in pf.pull(watch):
                replays[m.attributes["uuid"]] = m
            return len(replays) >= orders_backed

        pf.wait_until(collect_replays, 60, "the replayed messages")
        orders_sent = {u: v for u, v in sent.items() if v[0].name == "orders"}
        assert set(replays) == set(orders_sent)  # the original uuids
        for u, m in replays.items():
            assert m.attributes["backfill"] == "true"
            assert m.data == orders_sent[u][1].payload.encode()
            assert {k: v for k, v in m.attributes.items() if k != "backfill"} == orders_sent[u][2]
        sentinel = pf.attributes("orders", orders.message)
        pf.publish(
            orders.table.topic,
            next(e for e in examples if e.valid and e.message == orders.message).payload.encode(),
            sentinel,
        )
        pf.wait_until(
            lambda: pf.query(bq, f"SELECT COUNT(*) AS n FROM `{backup_table}` WHERE uuid = '{sentinel['uuid']}'")[0][
                "n"
            ],
            120,
            "the sentinel's backup row",
        )
        assert pf.query(bq, f"SELECT COUNT(*) AS n FROM `{backup_table}`")[0]["n"] == before_backup + 1
        pf.wait_until(
            lambda: pf.query(bq, "SELECT COUNT(*) AS n FROM `events.orders`")[0]["n"] == before_rows + 1,
            120,
            "the sentinel's row",
        )
    finally:
        for result in results:
            result.cancel()
