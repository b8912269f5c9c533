"""bench.write runs end to end on the tests' example against the BigQuery API emulator (a few rows per table, one
encoding round): every row written through either path is found by the query afterwards (`lost=0`, whatever the
speed), and the RESULT line keeps its keys."""

from __future__ import annotations

import re

import pytest

from bench import write
from tests.conftest import EXAMPLE

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_the_write_benchmark_loses_no_row(monkeypatch, capsys):
    monkeypatch.setattr(write, "PROJECT_DIR", EXAMPLE)
    monkeypatch.setattr(write, "ROWS", 30)  # a few rows per table (the example has seven), one batch each
    monkeypatch.setattr(write, "REPEAT", 2)
    monkeypatch.setattr(write, "ROUNDS", 1)
    write.main()
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT write cpu_per_row_vs_insertall=\d+\.\d\d rows_per_s=\d+ insertall_rows_per_s=\d+ lost=-?\d+", last
    ), last
    assert last.endswith(" lost=0"), out
    assert re.search(r"refused 0$", out, re.MULTILINE), out
