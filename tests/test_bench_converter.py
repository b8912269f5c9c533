"""bench.converter runs end to end on the tests' example (two repetitions, one round): a benchmark that stopped
running (it once raised on examples carrying unknown fields) is caught here, not at the next measurement."""

from __future__ import annotations

import re

from bench import converter
from tests.conftest import EXAMPLE


def test_the_converter_benchmark_runs_on_every_example(monkeypatch, capsys):
    monkeypatch.setattr(converter, "PROJECT_DIR", EXAMPLE)
    monkeypatch.setattr(converter, "REPEAT", 2)
    monkeypatch.setattr(converter, "CHUNK", 1)
    monkeypatch.setattr(converter, "ROUNDS", 1)
    converter.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"RESULT converter speedup_vs_generic=\d+\.\d+ cost_vs_json_loads=\d+\.\d+", last), last
