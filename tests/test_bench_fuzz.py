"""bench.fuzz runs end to end: a few seconds of mutated builds and payloads of the example, with a fixed seed (the
same mutations on every run), find no internal error, hang, unlocated diagnostic or half-written generated/."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_a_short_fixed_fuzz_run_finds_nothing():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.fuzz", "--seconds", "4", "--seed", "17"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    last = proc.stdout.strip().splitlines()[-1]
    counts = dict(re.findall(r"(\w+)=(\d+)", last))
    assert last.startswith("RESULT fuzz"), proc.stdout
    assert int(counts["builds"]) > 0 and int(counts["payloads"]) > 0, last
    bad = {k: counts[k] for k in ("internal_errors", "hangs", "unlocated", "half_writes")}
    assert bad == {k: "0" for k in bad}, proc.stdout
