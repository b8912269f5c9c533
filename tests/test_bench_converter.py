"""bench.converter runs end to end on the tests' example (two repetitions, one round): a benchmark that stopped
running (it once raised on examples carrying unknown fields) is caught here, not at the next measurement."""

from __future__ import annotations

import re
from pathlib import Path

from bench import converter, copy_project, project_converters
from tests.conftest import EXAMPLE


def test_the_converter_benchmark_runs_on_every_example(monkeypatch, capsys):
    monkeypatch.setattr(converter, "PROJECT_DIR", EXAMPLE)
    monkeypatch.setattr(converter, "REPEAT", 2)
    monkeypatch.setattr(converter, "CHUNK", 1)
    monkeypatch.setattr(converter, "ROUNDS", 1)
    converter.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"RESULT converter speedup_vs_generic=\d+\.\d+ cost_vs_json_loads=\d+\.\d+", last), last


def test_the_benchmarks_measure_the_converters_of_their_project(tmp_path):
    # a project of its own, with a converter that differs from every importable `generated` package's
    project = copy_project(EXAMPLE, tmp_path / "project")
    path = project / "generated" / "pipelines" / "converters" / "grocer_commerce_v1_member.py"
    path.write_text(path.read_text() + "\nMEASURED_HERE = True\n")
    modules = project_converters(project)
    assert modules["grocer.commerce.v1.Member"].MEASURED_HERE
    assert all(Path(m.__file__).is_relative_to(project) for m in modules.values())
    assert len(modules) == len(list(path.parent.glob("*.py")))
