"""The compiler and the runtime contracts type-check under mypy --strict (config in pyproject.toml), so a wrong
type fails here rather than in a generated pipeline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_mypy_compiler_and_contracts():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "datahem/compiler", "datahem/runtime/contracts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
