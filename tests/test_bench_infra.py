"""bench.infra runs end to end on a copy of the tests' example with `--quick` (one synth, a build that synthesizes,
an unchanged rebuild; not the minute-long full-import comparison), and the RESULT line keeps its keys."""

from __future__ import annotations

import re

import pytest

from bench import infra
from tests.conftest import EXAMPLE

pytestmark = pytest.mark.slow


def test_the_infra_benchmark_runs_quick(monkeypatch, capsys):
    monkeypatch.setattr(infra, "PROJECT_DIR", EXAMPLE)
    infra.main(["--quick"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT infra synth_seconds=\d+\.\d\d synth_peak_rss_mb=\d+ build_seconds=\d+\.\d\d skip_seconds=\d+\.\d\d "
        r"full_import_seconds=0\.00 full_import_identical=skipped",
        last,
    ), last
