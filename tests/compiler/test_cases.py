"""Golden cases, buf style: tests/cases/<case>/ holds a project; either expected_diagnostics.txt (the exact
diagnostics, file:line:col and rule id) or expected/ (the exact generated tree). A diagnostic case may also hold a
generated/ tree: the previous build that evolution rules compare with, which must stay untouched.
DATAHEM_UPDATE_GOLDEN=1 rewrites expected_diagnostics.txt and expected/; review the diff."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from datahem.compiler import writer
from datahem.compiler.diagnostics import RULES
from tests.conftest import CASES, copy_project, invoke_datahem

DIAGNOSTIC_CASES = sorted(p.parent.name for p in CASES.glob("*/expected_diagnostics.txt"))
GOLDEN_CASES = sorted(p.parent.name for p in CASES.glob("*/expected"))
SLOW_CASES = {"golden_recursion_bounded"}  # synthesizes its stacks (about 6 s)
UPDATE = os.environ.get("DATAHEM_UPDATE_GOLDEN") == "1"
RULE_OF_LINE = re.compile(r": (?:error|note)\[(\w+)\]: ")


@pytest.mark.parametrize("case", DIAGNOSTIC_CASES)
def test_diagnostics(case, tmp_path):
    project = copy_project(CASES / case, tmp_path / case)
    baseline = writer.read_tree(project / "generated")  # a case may carry a previous build (evolution rules)
    sentinel = project / "generated" / "keep.txt"
    sentinel.parent.mkdir(exist_ok=True)
    sentinel.write_text("untouched")
    proc = invoke_datahem("build", cwd=project)
    if UPDATE and proc.returncode == 1 and "Traceback" not in proc.stderr:
        (CASES / case / "expected_diagnostics.txt").write_text(proc.stdout)
    expected = (CASES / case / "expected_diagnostics.txt").read_text()
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == expected
    assert "Traceback" not in proc.stderr
    assert "nothing was written" in proc.stderr
    # nothing in generated/ changed
    assert writer.read_tree(project / "generated") == {**baseline, "keep.txt": b"untouched"}


def test_every_rule_has_a_case():
    """Every validation rule; compatibility rules have their cases in tests/evolution/cases/, and the `examples`
    rules (reported by `datahem test`, not by the build) theirs in tests/dev/test_datahem_test.py."""
    covered = set()
    for case in DIAGNOSTIC_CASES:
        for line in (CASES / case / "expected_diagnostics.txt").read_text().splitlines():
            m = RULE_OF_LINE.search(line)
            assert m, f"{case}: not a diagnostic: {line}"
            covered.add(m.group(1))
    validation = {r.id for r in RULES.values() if not r.compatibility and r.category != "examples"}
    assert sorted(validation - covered) == []


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in GOLDEN_CASES]
)
def test_golden(case, tmp_path):
    project = copy_project(CASES / case, tmp_path / case)
    proc = invoke_datahem("build", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if UPDATE:
        shutil.rmtree(CASES / case / "expected")
        shutil.copytree(project / "generated", CASES / case / "expected", ignore=shutil.ignore_patterns("__pycache__"))
    assert writer.read_tree(project / "generated") == writer.read_tree(CASES / case / "expected")
