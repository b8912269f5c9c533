"""A team's own project, outside the repository: `datahem init`, `build`, `test`, then `datahem dev` with
`--send-examples` (the valid examples become rows, the invalid ones dead letters, as declared), `--query` errors,
a component dying shown on the display with its log, and a SIGKILLed `datahem dev` leaving nothing running.
Prints the time from `datahem init` to the first row stored (run with -s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from datahem.dev import client
from datahem.dev.emulators import stop_group
from datahem.dev.layout import Layout
from datahem.dev.supervisor import READY_MARK
from tests.conftest import DATAHEM, ROOT, run_datahem
from tests.examples import load_examples

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def _wait_for(path, text: str, proc, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, f"datahem dev exited with {proc.returncode}:\n{path.read_text()}"
        assert time.monotonic() < deadline, f"`{text}` not seen after {timeout}s:\n{path.read_text()}"
        time.sleep(0.1)
    return path.read_text()


def test_init_build_test_dev_outside_the_repository(tmp_path):
    assert ROOT not in tmp_path.parents
    started = time.monotonic()
    run_datahem("init", "shop", cwd=tmp_path, check=True)
    project = tmp_path / "shop"
    run_datahem("build", cwd=project, check=True)
    assert "5 examples as declared: 2 rows, 3 dead letters" in run_datahem("test", cwd=project, check=True).stdout

    # a stale generated/ is refused with the command that fixes it
    proto = project / "schemas/shop/v1/page_view.proto"
    original = proto.read_text()
    proto.write_text(original.replace("  string referrer = 4;\n", "  string referrer = 4;\n  string colour = 5;\n"))
    refused = run_datahem("dev", cwd=project)
    assert refused.returncode == 1 and "run `datahem build` first" in refused.stderr, refused.stderr
    proto.write_text(original)

    out_path = tmp_path / "dev.out"
    out = open(out_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [*DATAHEM, "dev"],
        cwd=project,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        line = next(x for x in _wait_for(out_path, READY_MARK, proc, 240).splitlines() if x.startswith(READY_MARK))
        state = json.loads(open(json.loads(line.removeprefix(READY_MARK))["state"]).read())
        layout = Layout.from_json(state["layout"])
        assert layout.location == "EU"
        # in a file (a log): one plain line as each component starts, its result once it runs, no terminal codes
        shown = out_path.read_text()
        assert f"compiling {project} and comparing it with its generated/ ...\n" in shown
        assert "starting the Pub/Sub emulator ...\n" in shown and "\n✓ Pub/Sub emulator on " in shown
        assert "starting the Kinesis reader and the pipelines (DirectRunner) ...\n" in shown
        assert "\x1b[" not in shown

        # the first event: one valid example POSTed to the collector, until it is a row
        source = layout.sources[0]
        first = next(e for e in load_examples(project) if e.valid)
        sent = client.send_http(state, source, first)
        assert sent.accepted, sent.status
        while not client.query(state, f"SELECT COUNT(*) AS n FROM `{source.table}`")[0]["n"]:
            assert time.time() - sent.sent_at < 60, "the first event did not become a row within 60s"
            time.sleep(0.1)
        print(f"\n[own project] datahem init to the first row stored: {time.monotonic() - started:.1f}s")

        report = run_datahem("dev", "--send-examples", cwd=project)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "2/2" in report.stdout and "3/3" in report.stdout, report.stdout  # rows, dead letters

        nope = run_datahem("dev", "--query", "SELECT * FROM events.nope", cwd=project)
        assert nope.returncode == 1 and len(nope.stderr.strip().splitlines()) == 1, nope.stderr
        assert "location EU" in nope.stderr and "Traceback" not in nope.stderr

        # a component that dies is shown on the display, with its log
        pipelines = next(p for p in psutil.Process(proc.pid).children() if "datahem.dev.pipelines" in p.cmdline())
        pipelines.kill()
        text = _wait_for(out_path, "pipelines stopped on its own", proc, 10)
        assert str(project / ".datahem/dev/logs/pipelines.log") in text

        # SIGKILL: nothing datahem dev started outlives it
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while alive := [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]:
            assert time.monotonic() < deadline, [p.cmdline() for p in alive]
            time.sleep(0.2)
    finally:
        stop_group(proc, timeout=60)
        out.close()
