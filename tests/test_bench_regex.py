"""bench.regex runs end to end (one round, a hundred searches per pattern): a benchmark that stopped running, or whose
RESULT line lost a key, is caught here, not at the next measurement."""

from __future__ import annotations

import re

from bench import regex


def test_the_regex_benchmark_runs(monkeypatch, capsys):
    monkeypatch.setattr(regex, "ROUNDS", 1)
    monkeypatch.setattr(regex, "REPEAT", 100)
    regex.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT regex re2_cost_vs_re=\d+\.\d re2_doubling=\d+\.\d\d re_four_more_chars=\d+\.\d", last
    ), last
