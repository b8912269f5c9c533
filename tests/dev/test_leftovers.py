"""A new `datahem dev` stops what a killed one left running (listed in its stale state file), and only that."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import psutil
from rich.console import Console

from datahem.dev.supervisor import _stop_leftovers

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_leftovers_of_a_killed_dev_are_stopped_and_later_pids_spared(tmp_path):
    left = subprocess.Popen(SLEEP)
    time.sleep(0.1)
    later = subprocess.Popen(SLEEP)  # stands for a pid reused by an unrelated process after dev died
    state = tmp_path / "dev.json"
    state.write_text(json.dumps({"pid": 2**22 + 1, "children": [left.pid, later.pid]}))
    between = (psutil.Process(left.pid).create_time() + psutil.Process(later.pid).create_time()) / 2
    os.utime(state, (between, between))  # the file was written after `left` started, before `later`
    out = io.StringIO()
    try:
        _stop_leftovers(state, Console(file=out))
        assert left.wait(5) is not None
        assert later.poll() is None
        assert f"stopped pid {left.pid}" in out.getvalue()
        assert not state.exists()
    finally:
        for p in (left, later):
            p.kill()
            p.wait()
