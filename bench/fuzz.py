"""Fuzz: random mutations of the example project's sources.yaml, a proto and its converter payloads, for a fixed time.

Not a speed benchmark: a bounded random search for the failure classes of hardening (issue 17), reported as counts.

- builds: sources.yaml or a proto of a copy of the example project mutated (bytes replaced, inserted, deleted; lines
  deleted and duplicated; hostile fragments spliced in), then `datahem build --format json` in a child process with
  the infrastructure synth stubbed (it costs seconds and is not what is fuzzed). An exit other than 0 or 1, or a
  traceback, is an internal error; a child still running after --build-timeout seconds is a hang (killed); on exit 1,
  a diagnostic naming a path that is not in the project or a line outside its file is unlocated, and a changed
  generated/ is a half-write.
- payloads: every example event of the project mutated the same way, or (mostly) with values and keys of its JSON
  replaced by hostile ones (numbers past their types, float spellings, surrogates, far timestamps, deep or empty
  containers), and converted by its generated converter in this
  process. Anything but a row or a `Reject` of a stage other than `internal` is an internal error (so is an accepted
  row that the writers cannot send as strict JSON); a conversion running longer than --payload-timeout seconds is a hang.

Random, not derandomized (set --seed to repeat a run). Prints, last:
`RESULT fuzz internal_errors=<n> hangs=<n> unlocated=<n> half_writes=<n> builds=<n> payloads=<n>`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import copy_project, project_converters, project_registry

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT / "tests" / "fixtures" / "grocer"  # the example project the fuzz starts from (the tests' copy)
BUILD_TARGETS = ["sources.yaml", "schemas/grocer/commerce/v1/order.proto", "schemas/grocer/analytics/v1/ga4.proto"]
# fragments that reach the parsers' corners: YAML anchors and tags, protoc option syntax, JSON numbers and escapes
FRAGMENTS = [
    b"&a [*a, *a]", b"!!python/object:os.system", b"{", b"}", b"[", b"]", b":", b"\n  - ", b"\t", b"\x00", b"\xff",
    b"\xc3(", b"'", b'"', b"#", b"%", b"\\", b'[(datahem.column) = {category: "x"}]', b"option (datahem.table).",
    b"import \"x.proto\";", b"oneof", b"map<", b"repeated ", b"= 0;", b"= 536870912;", b"\\ud800", b"1e400",
    b"-9223372036854775809", b"NaN", b"Infinity", b"9" * 400, b"[" * 2000, b"{\"a\":" * 300, b"\"\\u0000\"",
    b"2024-05-31T16:42:10+24:00", b"0.1e400s", b"null", b"true", b"\xf0\x9f\x98\x80",
]  # fmt: skip


def mutate(data: bytes, rng: random.Random, ops: int) -> bytes:
    """data with `ops` random edits: a byte replaced, a fragment spliced in, a span deleted, a line deleted or doubled."""
    for _ in range(ops):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            i = min(i, len(data) - 1)
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
        elif op == 1:
            data = data[:i] + rng.choice(FRAGMENTS) + data[i:]
        elif op == 2:
            data = data[:i] + data[i + rng.randrange(1, 16) :]
        else:
            lines = data.splitlines(keepends=True)
            if lines:
                j = rng.randrange(len(lines))
                lines[j : j + 1] = [] if op == 3 else [lines[j], lines[j]]
                data = b"".join(lines)
    return data


HOSTILE_VALUES: list[object] = [
    None, True, 0, -1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**400, 1e308, -0.0, 3.502823e38, "", "NaN", "Infinity",
    "-Infinity", "1e400", "1_000", " 1.5", "0x10", "\ud800", "\x00", "\u0662", "2024-05-31T16:42:10+24:00",
    "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "0.1e400s", "1e999999999", "9" * 400, [], {}, [[[]]],
    {"": None}, {"@type": "type.googleapis.com/x"}, "x" * 10_000,
]  # fmt: skip


def mutate_json(data: bytes, rng: random.Random, ops: int) -> bytes:
    """A valid JSON document with `ops` values (or keys) replaced by hostile ones, or `mutate` if it is not JSON."""
    try:
        doc = json.loads(data)
    except ValueError:
        return mutate(data, rng, ops)
    for _ in range(ops):
        nodes: list[tuple[object, object]] = []  # (container, key or index) of every value
        stack = [doc]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, value in items:
                nodes.append((node, key))
                stack.append(value)
        if not nodes:
            break
        container, key = rng.choice(nodes)
        if isinstance(container, dict) and rng.random() < 0.2:
            container[rng.choice(["\ud800", "", "unknown_field", key.upper() if isinstance(key, str) else "x"])] = (
                container.pop(key)
            )
        else:
            container[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))  # type: ignore[index]
    return json.dumps(doc).encode()


def _read_tree(root: Path) -> dict[str, bytes]:
    """The tree exactly as it is (writer.read_tree would read a missing generated/ from the tree an interrupted
    build set aside, which is the half-write this fuzz must see)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _child(project: Path) -> None:
    """`datahem build --format json` in project with the synth stubbed; exit code and output are the build's."""
    import contextlib

    from datahem.cli import main
    from datahem.compiler.emitters import infra

    def stub_synth(inputs, envs):
        return {infra.stack_path(e): b'{"stub": true}\n' for e in envs}

    infra.synth = stub_synth  # type: ignore[assignment]
    with contextlib.chdir(project):
        main(["build", "--format", "json"], prog_name="datahem")


class Counts:
    def __init__(self) -> None:
        self.internal_errors = self.hangs = self.unlocated = self.half_writes = self.builds = self.payloads = 0
        self.examples: list[str] = []

    def bad(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {what}")


def fuzz_build(counts: Counts, rng: random.Random, workdir: Path, timeout: float) -> None:
    target = rng.choice(BUILD_TARGETS)
    project = copy_project(PROJECT_DIR, workdir / f"p{counts.builds}")
    path = project / target
    path.write_bytes(mutate(path.read_bytes(), rng, rng.randint(1, 4)))
    before = _read_tree(project / "generated")
    counts.builds += 1
    what = f"{target} of {project}"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.fuzz", "--child", str(project)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        counts.bad("hangs", what)
        return
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        counts.bad("internal_errors", f"{what}: exit {proc.returncode} {proc.stderr[-300:]}")
        return
    if proc.returncode == 0:
        shutil.rmtree(project)
        return
    if _read_tree(project / "generated") != before:
        counts.bad("half_writes", what)
    try:
        diagnostics = json.loads(proc.stdout)
    except json.JSONDecodeError:
        counts.bad("internal_errors", f"{what}: output is not JSON: {proc.stdout[:200]!r}")
        return
    if not diagnostics:
        counts.bad("unlocated", f"{what}: exit 1 without a diagnostic")
    for d in diagnostics:
        where = project / d["path"]
        if not where.exists():
            counts.bad("unlocated", f"{what}: {d}")
        elif where.is_file() and not 1 <= d["line"] <= where.read_bytes().count(b"\n") + 2:
            counts.bad("unlocated", f"{what}: {d}")
    shutil.rmtree(project)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def fuzz_payloads(counts: Counts, rng: random.Random, seconds: float, timeout: float) -> None:
    from datahem.runtime.beam.convert import Context, Reject
    from datahem.runtime.beam.io import json_row
    from datahem.runtime.beam.messages import message_class
    from tests.examples import load_examples

    events = load_examples(PROJECT_DIR)
    modules = project_converters(PROJECT_DIR)
    registry = project_registry(PROJECT_DIR)
    classes = {m: message_class(m, registry) for m in modules}
    ctx = Context(
        {"uuid": "0b9d6a52-2f3e-4a59-9d35-1f7c2d1f0a01", "timestamp": "2026-11-27T07:00:00Z", "source": "fuzz"},
        {"datahem-pseudonymization-key": b"fuzz-key"},
    )
    signal.signal(signal.SIGALRM, _alarm)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        event = rng.choice(events)
        edit = mutate_json if rng.random() < 0.7 else mutate
        data = edit(event.payload.encode(), rng, rng.randint(1, 6))
        counts.payloads += 1
        what = f"{event.message} {data[:120]!r}"
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            row, _ = modules[event.message].convert(data, ctx, classes[event.message])
            json.dumps(json_row(row), allow_nan=False)  # as the writers send it
        except _Timeout:
            counts.bad("hangs", what)
        except Reject as r:
            if r.stage == "internal":
                counts.bad("internal_errors", f"{what}: {r}")
        except Exception as exc:  # noqa: BLE001 - what the fuzz is looking for
            counts.bad("internal_errors", f"{what}: {type(exc).__name__}: {exc}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="time for each of the two parts")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--build-timeout", type=float, default=60)
    parser.add_argument("--payload-timeout", type=float, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    counts = Counts()
    with tempfile.TemporaryDirectory(prefix="datahem-fuzz-") as tmp:
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            fuzz_build(counts, rng, Path(tmp), args.build_timeout)
    fuzz_payloads(counts, rng, args.seconds, args.payload_timeout)
    for line in counts.examples:
        print(line)
    print(f"seed {seed}: {counts.builds} mutated builds, {counts.payloads} mutated payloads")
    print(
        f"RESULT fuzz internal_errors={counts.internal_errors} hangs={counts.hangs} unlocated={counts.unlocated} "
        f"half_writes={counts.half_writes} builds={counts.builds} payloads={counts.payloads}"
    )


if __name__ == "__main__":
    main()
