"""Benchmark: the generated converters against the generic protobuf path and bare json.loads, in one process.

For every valid example event of the example project, per round:
- generated: the specialized converter (parse, validate, transforms, BigQuery row and protobuf bytes);
- generic: `json_format.Parse` into the message (unknown fields ignored: examples of KEEP tables carry some), then
  `MessageToDict` (validation of types only, no options);
- json.loads alone: the floor every JSON pipeline pays.
The three paths take turns every CHUNK repetitions, in a rotating order (a change in the machine's load falls on all three alike), each round's
ratios are computed from its totals, and the median ratio is reported; times are this process's CPU time, so other
work on the machine does not inflate them. Prints, last:
`RESULT converter speedup_vs_generic=<x> cost_vs_json_loads=<y>` (events/s generated ÷ generic, and time per event
generated ÷ json.loads).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from google.protobuf import json_format

from bench import project_converters, project_registry
from datahem.runtime.beam.convert import Context
from datahem.runtime.beam.messages import message_class
from tests.examples import load_examples

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT  # the project whose converters and examples are measured
KEYS = {"datahem-pseudonymization-key": b"bench-key"}
ATTRIBUTES = {"uuid": "0b9d6a52-2f3e-4a59-9d35-1f7c2d1f0a01", "timestamp": "2026-11-27T07:00:00Z", "source": "bench"}
REPEAT = 200
CHUNK = 20
ROUNDS = 7


def main() -> None:
    modules = project_converters(PROJECT_DIR)
    registry = project_registry(PROJECT_DIR)
    events = [
        (e.message, e.payload.encode(), message_class(e.message, registry))
        for e in load_examples(PROJECT_DIR)
        if e.valid
    ]
    ctx = Context(ATTRIBUTES, KEYS)
    n = len(events) * REPEAT

    def generated() -> None:
        for message, data, cls in events:
            modules[message].convert(data, ctx, cls)

    def generic() -> None:
        for _, data, cls in events:
            json_format.MessageToDict(json_format.Parse(data, cls(), ignore_unknown_fields=True))

    def json_loads() -> None:
        for _, data, _ in events:
            json.loads(data)

    paths = (("generated", generated), ("generic", generic), ("json_loads", json_loads))

    def timed() -> dict[str, float]:
        # CPU time of this process: other processes on the machine (tests, emulators) do not count against it. The
        # three paths take turns every CHUNK repetitions (tens of milliseconds: each path runs with its code and data
        # in the caches, as in a pipeline that converts a stream), so a change in the machine's load, which lasts
        # seconds, falls on all three alike.
        spent = dict.fromkeys(("generated", "generic", "json_loads"), 0.0)
        clock = time.process_time
        for turn in range(REPEAT // CHUNK):
            # each path goes first, second and third in turn: whichever runs after a similar path finds warmer caches
            for name, fn in paths[turn % 3 :] + paths[: turn % 3]:
                start = clock()
                for _ in range(CHUNK):
                    fn()
                spent[name] += clock() - start
        return spent

    for _, fn in paths:  # warm up
        fn()
    results: dict[str, list[float]] = {"generated": [], "generic": [], "json_loads": []}
    speedups, costs = [], []
    for _ in range(ROUNDS):
        for name, seconds in timed().items():
            results[name].append(seconds)
        speedups.append(results["generic"][-1] / results["generated"][-1])
        costs.append(results["generated"][-1] / results["json_loads"][-1])
    med = {name: statistics.median(times) for name, times in results.items()}
    for name, seconds in med.items():
        print(f"{name:>10}: {n / seconds:>10,.0f} events/s  {seconds / n * 1e6:7.2f} µs/event (CPU time)")
    print(f"{len(events)} example events of {len(modules)} message types, {REPEAT} repetitions, {ROUNDS} rounds")
    print(f"per-round speedups: {' '.join(f'{x:.2f}' for x in speedups)}")
    speedup = statistics.median(speedups)
    cost = statistics.median(costs)
    print(f"RESULT converter speedup_vs_generic={speedup:.2f} cost_vs_json_loads={cost:.2f}")


if __name__ == "__main__":
    main()
