"""Random mutations of a real project never crash the compiler, never report at a made-up place, and never touch
generated/ when they fail.

Each example copies the example project, mutates sources.yaml or one proto (byte flips, deleted and duplicated
lines) and runs `datahem build --format json` in this process, asserting:

- the exit code is 0 or 1 (never 3, an internal error, and no traceback);
- every diagnostic names a file or folder that exists in the project, at a line within it (1 … lines + 1);
- on exit 1, generated/ is exactly what it was.

The infrastructure synth is replaced by a stub (the real one costs seconds and is not what is fuzzed here).
Derandomized and bounded: the same examples on every run, so CI is never flaky. Set DATAHEM_FUZZ_EXPLORE=<n> to
run n fresh random examples locally.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from datahem.compiler import writer
from datahem.compiler.emitters import infra
from tests.conftest import EXAMPLE, copy_project, invoke_datahem

pytestmark = pytest.mark.slow  # about a second per example

TARGETS = ["sources.yaml", "schemas/grocer/commerce/v1/order.proto"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6), st.just(0)),
)


def mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    for op, where, value in ops:
        if op == "flip":
            i = where % max(len(data), 1)
            data = data[:i] + bytes([value]) + data[i + 1 :]
            continue
        lines = data.splitlines(keepends=True)
        if not lines:
            continue
        i = where % len(lines)
        lines[i : i + 1] = [] if op == "delete" else [lines[i], lines[i]]
        data = b"".join(lines)
    return data


def _stub_synth(inputs, envs):
    return {infra.stack_path(e): b'{"stub": true}\n' for e in envs}


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example project with its generated/ built once with the stub synth (the baseline every example uses)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(infra, "synth", _stub_synth)
        project = copy_project(EXAMPLE, tmp_path_factory.mktemp("example") / "p")
        invoke_datahem("build", cwd=project, check=True)
    return project


_EXPLORE = int(os.environ.get("DATAHEM_FUZZ_EXPLORE") or 0)


@settings(
    max_examples=_EXPLORE or 30,
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(target=st.sampled_from(TARGETS), ops=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_projects_fail_cleanly(example, monkeypatch, target, ops):
    monkeypatch.setattr(infra, "synth", _stub_synth)
    with tempfile.TemporaryDirectory(prefix="datahem-fuzz-") as tmp:
        project = copy_project(example, Path(tmp) / "p")
        path = project / target
        path.write_bytes(mutate(path.read_bytes(), ops))
        note(f"{target} mutated by {ops}")
        before = writer.read_tree(project / "generated")
        proc = invoke_datahem("build", "--format", "json", cwd=project)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode == 0:
            return
        assert writer.read_tree(project / "generated") == before
        diagnostics = json.loads(proc.stdout)
        assert diagnostics, proc.stderr
        for d in diagnostics:
            where = project / d["path"]
            assert where.exists(), f"{d} names a path that is not in the project"
            if where.is_file():
                lines = where.read_bytes().count(b"\n") + 1
                assert 1 <= d["line"] <= lines + 1, f"{d}: line outside {d['path']} ({lines} lines)"
