"""The code base stays lint-clean (ruff), so style problems fail here rather than in review."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_ruff_check():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "datahem", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_check():
    """Formatted as `ruff format` writes it (ruff check does not flag long lines the formatter would wrap)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "datahem", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
