"""Dataflow flex-template launches pass every template parameter as `--name=value`. Parameters that a module
already knows from the generated code (the Kinesis reader reads its stream, region and credentials from
generated/routing/kinesis.json) are dropped here, after checking that they agree, so a stale deployment cannot run
with settings that differ from the reviewed ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def drop_parameters(argv: Sequence[str], expected: Mapping[str, str | None]) -> list[str]:
    """argv without the given `--name=value` / `--name value` flags. A flag whose value contradicts `expected`
    (when the expected value is not None) raises ValueError."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name in expected:
            if not eq and i + 1 < len(argv):
                value = argv[i + 1]
                i += 1
            want = expected[name]
            if want is not None and value != want:
                raise ValueError(f"--{name}={value} contradicts the generated configuration ({want})")
        else:
            out.append(arg)
        i += 1
    return out
