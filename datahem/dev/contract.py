"""`datahem test`: the project's contract tests. Every example event goes through its generated converter, exactly
as the pipeline's Convert step runs it: a valid example must become a row, an invalid one a dead letter at its
declared stage with its declared reason in the error.

The CLI compiles the project in memory and hands over the converters' source and the descriptor set, so what is
tested is what the schemas say now (a stale generated/ is `datahem build --check`'s business). This module imports
nothing of the compiler: examples are duck-typed (datahem.compiler.loader.examples.Example) and failures name their
rule by id (registered in datahem/compiler/rules.py, category `examples`).
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from datahem.runtime.beam.convert import TRANSFORM, Context, Reject

NOT_A_ROW = "EXAMPLE_NOT_A_ROW"
NOT_REJECTED = "EXAMPLE_NOT_REJECTED"
WRONG_STAGE = "EXAMPLE_WRONG_STAGE"
WRONG_REASON = "EXAMPLE_WRONG_REASON"
UNKNOWN_MESSAGE = "EXAMPLE_UNKNOWN_MESSAGE"
RULE_IDS = (NOT_A_ROW, NOT_REJECTED, WRONG_STAGE, WRONG_REASON, UNKNOWN_MESSAGE)

# What a collector adds to every event; an example's own attributes win.
ATTRIBUTES = {
    "uuid": "00000000-0000-4000-8000-000000000000",
    "timestamp": "2026-01-01T00:00:00Z",
    "source": "datahem-test",
    "collector": "datahem-test",
}


class _TestKeys(dict):
    """A fixed local key for every pseudonymization secret (never a real one)."""

    def __missing__(self, name: str) -> bytes:
        return f"datahem-test-{name}".encode()


@dataclass(frozen=True)
class Failure:
    example: object  # an Example
    rule_id: str
    message: str


@dataclass(frozen=True)
class Outcome:
    rows: int
    dead_letters: int
    failures: tuple[Failure, ...]


def converter_modules(sources: dict[str, bytes]) -> dict[str, types.ModuleType]:
    """message type -> converter module, from generated/pipelines/converters/*.py sources (path -> text), each run
    as a private module (no import of a `generated` package, so projects never mix in one process)."""
    out = {}
    for path, text in sorted(sources.items()):
        module = types.ModuleType(f"datahem_test_converter_{len(out)}")
        module.__file__ = path
        exec(compile(text, path, "exec"), module.__dict__)  # noqa: S102 - our own generated code
        out[module.MESSAGE_TYPE] = module
    return out


def load_converters(sources: dict[str, bytes]) -> dict[str, object]:
    """message type -> convert function of `converter_modules`."""
    return {message: module.convert for message, module in converter_modules(sources).items()}


def run(examples: Iterable, converters: dict[str, object], descriptor_set: bytes) -> Outcome:
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file:
        pool.Add(f)
    failures: list[Failure] = []
    rows = dead = 0
    for ex in examples:
        convert = converters.get(ex.message)
        if convert is None:
            known = ", ".join(sorted(converters)) or "none"
            failures.append(Failure(ex, UNKNOWN_MESSAGE, f"no table has message `{ex.message}` (tables: {known})"))
            continue
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(ex.message))
        ctx = Context({**ATTRIBUTES, **ex.attributes}, _TestKeys())
        try:
            convert(ex.payload.encode(), ctx, cls)
            stage, error = None, ""
        except Reject as r:
            stage, error = r.stage, str(r)
        except Exception as exc:  # noqa: BLE001 - the pipeline dead-letters a converter's crash the same way
            stage, error = TRANSFORM, f"internal error: {type(exc).__name__}: {exc}"
        if ex.valid:
            if stage is None:
                rows += 1
            else:
                failures.append(
                    Failure(ex, NOT_A_ROW, f"valid example `{ex.name}` became a dead letter: {stage}: {error}")
                )
            continue
        if stage is None:
            failures.append(
                Failure(ex, NOT_REJECTED, f"invalid example `{ex.name}` became a row; expected {ex.stage}: {ex.reason}")
            )
        elif stage != ex.stage:
            failures.append(Failure(ex, WRONG_STAGE, f"`{ex.name}` was rejected at {stage}, not {ex.stage}: {error}"))
        elif ex.reason not in error:
            failures.append(
                Failure(ex, WRONG_REASON, f"`{ex.name}`'s error does not contain `{ex.reason}`: {stage}: {error}")
            )
        else:
            dead += 1
    return Outcome(rows, dead, tuple(failures))
