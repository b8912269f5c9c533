"""bench.compile runs end to end (one round): the synthetic 500 x 40 project still compiles, its child build reports
its memory, and the one-field change of the tests' example still applies and rebuilds; a benchmark that stopped
running is caught here, not at the next measurement. No time is asserted."""

from __future__ import annotations

import re

import pytest

from bench import compile as bench_compile
from tests.conftest import EXAMPLE

pytestmark = pytest.mark.slow


def test_the_compile_benchmark_runs_on_the_synthetic_project_and_the_example(monkeypatch, capsys):
    monkeypatch.setattr(bench_compile, "PROJECT_DIR", EXAMPLE)
    assert bench_compile.main(["--rounds", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    project = next(line for line in out if line.startswith("project: "))
    assert "500 message types" in project, project
    last = out[-1]
    number = r"\d+\.\d+"
    assert re.fullmatch(
        rf"RESULT compile ratio_vs_protoc={number} peak_rss_mb=\d+ seconds={number} "
        rf"one_field_rebuild_s={number} cpu_ratio_vs_protoc={number}",
        last,
    ), last
