"""`datahem dev` end to end: start it as a user would (a subprocess, on a copy of the example project), wait for its
ready line, send every example event through its real collector (HTTP with the route's auth, SNS notifications
signed with the local key, Kinesis records put into moto), and check where each one landed: a valid event as a row
with the metadata columns, an invalid one as a dead letter with its stage and reason, every one in the backup table.
Then a backfill replays the orders with backfill=true and no second backup row, and after SIGINT nothing the dev
process started is alive. Start-to-ready time and POST-to-row latency are measured and printed (run with -s)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import grpc
import psutil
import pytest
from google.cloud import pubsub_v1
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from datahem.dev import client
from datahem.dev.emulators import stop_group
from datahem.dev.layout import Layout
from datahem.dev.supervisor import READY_MARK
from tests.conftest import DATAHEM, EXAMPLE, copy_project
from tests.examples import load_examples

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
METADATA_COLUMNS = ("_uuid", "_source", "_attributes", "_received_at", "_publish_time")


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """A running `datahem dev`: yields (process, state, project dir, seconds to ready); stops it if a test did not."""
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("dev") / "project")
    out = open(project.parent / "dev.out", "w")  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(
        [*DATAHEM, "dev", "--project", str(project)],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # SIGINT goes to datahem dev alone, as a Ctrl-C would reach only the foreground job
        cwd=project.parent,
    )
    try:
        deadline = time.monotonic() + 180
        while READY_MARK not in (project.parent / "dev.out").read_text():
            text = (project.parent / "dev.out").read_text()
            assert proc.poll() is None, f"datahem dev exited with {proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"datahem dev not ready after 180s:\n{text}"
            time.sleep(0.1)
        ready_s = time.monotonic() - started
        line = next(x for x in (project.parent / "dev.out").read_text().splitlines() if x.startswith(READY_MARK))
        state = json.loads(open(json.loads(line.removeprefix(READY_MARK))["state"]).read())
        print(f"\n[datahem dev] start to ready: {ready_s:.1f}s (supervisor's own count: {state['ready_seconds']}s)")
        yield proc, state, project, ready_s
    finally:
        stop_group(proc, timeout=60)
        out.close()


def _subscriber(state):
    return pubsub_v1.SubscriberClient(
        transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(state["endpoints"]["pubsub"]))
    )


def _count(state, sql: str) -> int:
    return client.query(state, sql)[0]["n"]


def test_every_example_lands_backfill_replays_and_stop_leaves_nothing(dev):
    proc, state, project, _ = dev
    layout = Layout.from_json(state["layout"])
    examples = load_examples(project)

    # --- latency: one valid event POSTed to the HTTP collector, until it is a row of its table ---
    survey = next(s for s in layout.sources if s.name == "survey_responses")
    probe_example = next(e for e in examples if e.message == survey.message and e.valid)
    probe = client.send_http(state, survey, probe_example)
    assert probe.accepted, probe.status
    while _count(state, f"SELECT COUNT(*) AS n FROM `{survey.table}`") < 1:
        assert time.time() - probe.sent_at < 60, "the probe event did not become a row within 60s"
        time.sleep(0.05)
    latency = time.time() - probe.sent_at
    print(f"[datahem dev] POST to row (HTTP collector -> Pub/Sub -> pipeline -> BigQuery emulator): {latency:.2f}s")
    probes = [probe]
    for name, send in (("orders", client.send_sns), ("car_temperatures", None)):
        source = next(s for s in layout.sources if s.name == name)
        example = next(e for e in examples if e.message == source.message and e.valid)
        p = send(state, source, example) if send else client.send_kinesis(state, source, example, {})
        assert p.accepted and p.uuid, p.status
        while not _count(state, f"SELECT COUNT(*) AS n FROM `{source.table}` WHERE _uuid = '{p.uuid}'"):
            assert time.time() - p.sent_at < 60, f"the {p.collector} probe did not become a row within 60s"
            time.sleep(0.05)
        print(f"[datahem dev] {p.collector} send to row: {time.time() - p.sent_at:.2f}s")
        probes.append(p)

    # --- every example through its collector ---
    sent = client.send_examples(state, examples)
    t0 = time.monotonic()
    complete = client.collect(state, [*probes, *sent], 120)
    print(f"[datahem dev] {len(sent)} examples sent; all stored after {time.monotonic() - t0:.1f}s")
    accepted = [s for s in sent if s.accepted]
    assert complete, [f"{s.source.name}/{s.example.name}" for s in accepted if not s.arrived]
    # What a collector cannot carry as one event is reported, never silently dropped, and only for known reasons.
    for s in sent:
        if not s.accepted:
            assert not s.example.valid, (s.source.name, s.example.name, s.status)
            assert s.status.startswith(("not sent:", "refused by the collector: HTTP 400")), s.status
    for kind in ("http", "sns", "kinesis"):
        mine = [s for s in accepted if s.collector == kind]
        assert any(s.example.valid for s in mine) and any(not s.example.valid for s in mine), kind
    assert len(accepted) >= 50

    for s in accepted:
        if s.example.valid:
            row = s.arrived["row"]
            assert all(row[c] is not None for c in METADATA_COLUMNS), (s.example.name, row)
            assert row["_source"] == s.source.name
            attrs = {a["key"]: a["value"] for a in row["_attributes"]}
            assert attrs["uuid"] == s.uuid and attrs["collector"] == s.collector
            assert attrs["message_type"] == s.source.message and attrs["source"] == s.source.name
        else:
            dead = s.arrived["dead_letter"]
            assert dead["stage"] == s.example.stage, s.example.name
            assert s.example.reason in dead["error"], (s.example.name, dead["error"])
            assert dead["pipeline"] == f"datahem-{s.source.name.replace('_', '-')}"
    backed = _count(state, f"SELECT COUNT(DISTINCT uuid) AS n FROM `{layout.backup_table}`")
    total = _count(state, f"SELECT COUNT(*) AS n FROM `{layout.backup_table}`")
    assert backed == total == len(accepted) + len(probes)  # every event once, plus the probes

    # --- backfill: replay the orders with backfill=true; no second backup row, no second table row ---
    orders = next(s for s in layout.sources if s.name == "orders")
    order_uuids = {s.uuid for s in [*probes, *accepted] if s.source == orders}
    watch = f"projects/{layout.gcp_project}/subscriptions/replay-watch-{uuid.uuid4().hex[:8]}"
    sub = _subscriber(state)
    sub.create_subscription(name=watch, topic=f"projects/{layout.gcp_project}/topics/{orders.topic}")
    rows_before = _count(state, f"SELECT COUNT(*) AS n FROM `{orders.table}`")
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": state["endpoints"]["pubsub"]}
    backfill = subprocess.run(
        [*DATAHEM, "backfill", "--project", str(project), "--source", "orders", "--gcp-project", layout.gcp_project,
         "--bigquery-endpoint", state["endpoints"]["bigquery"], "--query",
         f"SELECT payload, attributes FROM `{layout.backup_table}` WHERE source = 'orders'"],
        cwd=project.parent, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert f"replayed {len(order_uuids)} events" in backfill.stdout
    assert f"replaying the events the query selects from the backup table to topic {orders.topic}" in backfill.stderr
    replays: dict[str, dict] = {}
    deadline = time.monotonic() + 60
    while len(replays) < len(order_uuids) and time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            response = sub.pull(subscription=watch, max_messages=100, timeout=5)
            for m in response.received_messages:
                replays[m.message.attributes["uuid"]] = dict(m.message.attributes)
            if response.received_messages:
                sub.acknowledge(subscription=watch, ack_ids=[m.ack_id for m in response.received_messages])
    assert set(replays) == order_uuids  # the original uuids
    assert all(a["backfill"] == "true" for a in replays.values())
    # a sentinel order after the replay: once its backup row is there, the replays' would be too
    sentinel = client.send_sns(state, orders, next(e for e in examples if e.message == orders.message and e.valid))
    assert sentinel.accepted, sentinel.status
    assert client.collect(state, [sentinel], 90)
    assert _count(state, f"SELECT COUNT(*) AS n FROM `{layout.backup_table}`") == total + 1
    assert _count(state, f"SELECT COUNT(*) AS n FROM `{orders.table}`") == rows_before + 1

    # --- a second `datahem dev` for the same project refuses to start, and starts nothing ---
    second = subprocess.run(
        [*DATAHEM, "dev", "--project", str(project)], cwd=project.parent, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 1 and "already running" in second.stderr, second.stdout + second.stderr

    # --- `datahem dev --query` finds the running platform through its state file ---
    q = subprocess.run(
        [*DATAHEM, "dev", "--project", str(project), "--query", f"SELECT COUNT(*) AS n FROM `{orders.table}`"],
        cwd=project.parent, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert q.returncode == 0 and str(rows_before + 1) in q.stdout, q.stdout + q.stderr

    # --- `datahem dev --send-examples` does the same from the command line and reports per table ---
    again = subprocess.run(
        [*DATAHEM, "dev", "--project", str(project), "--send-examples", "--wait", "60"],
        cwd=project.parent, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"sent {len(sent)} example events; {len(accepted)} accepted" in again.stdout
    for source in layout.sources:
        n_valid = sum(1 for s in accepted if s.source == source and s.example.valid)
        n_dead = sum(1 for s in accepted if s.source == source and not s.example.valid)
        assert re.search(rf"{re.escape(source.table)}\s*│\s*{n_valid}/{n_valid}\s*│\s*{n_dead}/{n_dead}", again.stdout)

    # --- the printed curl lines work as pasted (the API key, and the HMAC that openssl computes) ---
    printed = (project.parent / "dev.out").read_text().splitlines()
    curls = [line.strip() for line in printed if line.strip().startswith(("curl ", "BODY="))]
    assert len(curls) == sum(
        len(r["methods"]) for r in json.loads((project / "generated/routing/http.json").read_text())["routes"]
    )
    for line in curls:
        answer = subprocess.run(
            ["bash", "-c", line + " -sS -o /dev/null -w '%{http_code}'"], capture_output=True, text=True, timeout=30
        )
        assert answer.stdout in ("200", "204"), (line, answer.stdout, answer.stderr)

    # --- Ctrl-C: everything it started stops ---
    children = state["children"]
    assert len(children) >= 7  # 2 emulators, moto, 2 collectors, the Kinesis reader, the pipelines
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(90) == 0
    print(f"[datahem dev] stopped in {time.monotonic() - t0:.1f}s")
    alive = [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [psutil.Process(p).cmdline() for p in alive]
    # nor anything started later: no process names this project, this supervisor or the emulator's port
    marks = (str(project), f"--parent-pid {proc.pid}", f"--port={state['endpoints']['pubsub'].rsplit(':', 1)[1]}")
    leftovers = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            line = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and any(m in line for m in marks):
                leftovers.append(line)
    assert leftovers == []
    assert not (project / ".datahem" / "dev.json").exists()


def test_query_without_a_running_platform_says_so(tmp_path):
    proc = subprocess.run(
        [*DATAHEM, "dev", "--project", str(tmp_path), "--query", "SELECT 1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no `datahem dev` is running" in proc.stderr


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s", "-q"]))
