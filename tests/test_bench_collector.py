"""bench.collector runs end to end on the tests' example (its generated/routing) with the Pub/Sub emulator, a few
requests and one round: every hit the collector acknowledged is found on the topic (`lost=0`, whatever the speed),
every hit sent was acknowledged, and the RESULT line keeps its keys."""

from __future__ import annotations

import re

import pytest

from bench import collector
from tests.conftest import EXAMPLE

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

REQUESTS, ROUNDS, WARMUP = 20, 1, 10


def test_the_collector_benchmark_loses_no_hit(monkeypatch, capsys):
    monkeypatch.setattr(collector, "PROJECT_DIR", EXAMPLE)
    collector.main(
        ["--requests", str(REQUESTS), "--rounds", str(ROUNDS), "--warmup", str(WARMUP), "--concurrency", "4"]
    )
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"RESULT collector throughput_vs_bare=\d+\.\d\d p99_ms=\d+\.\d lost=\d+", last), last
    assert last.endswith(" lost=0"), out
    # POST and GET, each: half the warm-up unmeasured plus half measured, then the rounds
    sent = 2 * (WARMUP // 2 * 2 + ROUNDS * REQUESTS)
    acknowledged = re.search(r"hits acknowledged (\d+), found on the topic (\d+)", out)
    assert acknowledged and acknowledged.groups() == (str(sent), str(sent)), out
