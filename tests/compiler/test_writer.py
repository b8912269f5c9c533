"""generated/ is replaced atomically: a build killed at any step of the writer leaves the old tree or the new one
(never none, never a mix), and the next build recovers — restores a tree set aside, removes the litter.

The kill is injected, not timed: the writer calls `_checkpoint(step)` between its steps, and a forked child replaces
it with `os._exit` at the n-th call, which (like SIGKILL) runs no `finally` and no clean-up. Both ways of switching
are covered: the Linux directory exchange and the two-rename fallback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from datahem.compiler import tempdirs, writer
from tests.conftest import EXAMPLE, copy_project

OLD = {"a.txt": b"old a", "keep.txt": b"same", "sub/gone.txt": b"removed by the new build", "sub/x.txt": b"old x"}
NEW = {"a.txt": b"new a", "keep.txt": b"same", "sub/x.txt": b"new x", "added/deep/y.txt": b"added"}
MODES = [pytest.param(True, id="exchange"), pytest.param(False, id="two-renames")]


def _plant(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _siblings(root: Path) -> list[str]:
    return sorted(p.name for p in root.parent.iterdir() if p.name != root.name)


def _write_killed_at(root: Path, files: dict[str, bytes], n: int, exchange: bool) -> tuple[bool, list[str]]:
    """Run writer.write in a forked child killed at its n-th checkpoint. (killed?, steps passed)"""
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        os.close(read)
        calls = []

        def checkpoint(step: str) -> None:
            calls.append(step)
            os.write(write_end, (step + "\n").encode())
            if len(calls) == n:
                os._exit(137)

        writer._checkpoint = checkpoint
        writer._exchange_available = exchange
        try:
            writer.write(root, files)
        except BaseException:  # noqa: BLE001
            os._exit(2)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as f:
        steps = f.read().splitlines()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 137), f"the writer failed (exit {code}) after {steps}"
    return code == 137, steps


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("exchange", MODES)
def test_a_kill_at_any_step_leaves_old_or_new_and_the_next_build_recovers(tmp_path, exchange):
    if exchange and not writer._exchange_available:
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    n, seen = 0, set()
    while True:
        n += 1
        case = tmp_path / f"kill{n}"
        root = case / "generated"
        _plant(root, OLD)
        (case / "sources.yaml").write_text("project files beside generated/ are never touched")
        killed, steps = _write_killed_at(root, NEW, n, exchange)
        seen.update(steps)
        # at the moment of the kill, a reader (the next build's baseline, --check, plan) sees old or new exactly
        assert writer.read_tree(root) in (OLD, NEW), f"a mix after a kill at step {n} ({steps[-1]})"
        if not killed:
            assert writer.read_tree(root) == NEW and _siblings(root) == ["sources.yaml"]
            break
        # the next build recovers, then writes the new tree; nothing is left beside generated/
        writer.write(root, NEW)
        assert writer.read_tree(root) == NEW, f"after a kill at step {n} ({steps[-1]})"
        assert _siblings(root) == ["sources.yaml"], f"litter after a kill at step {n} ({steps[-1]})"
    assert n > len(NEW) + 3, "every file write and every switch step was a kill point"
    assert {"staged", "switched", "done"} <= seen
    assert ("exchanged" if exchange else "set old aside") in seen


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_during_recovery_is_recovered_too(tmp_path):
    """The two-rename fallback killed with generated/ set aside, then the recovery itself killed at each step."""
    for n in range(1, 6):
        root = tmp_path / f"r{n}" / "generated"
        _plant(root, OLD)
        killed, steps = _write_killed_at(root, NEW, len(NEW) + 2, exchange=False)  # right after "set old aside"
        assert killed and steps[-1] == "set old aside" and not root.exists()
        assert writer.read_tree(root) == OLD  # the baseline is the old tree, not an empty one
        killed, steps = _write_killed_at(root, NEW, n, exchange=False)
        assert writer.read_tree(root) in (OLD, NEW), steps
        writer.write(root, NEW)
        assert writer.read_tree(root) == NEW and _siblings(root) == []


def test_recover_restores_a_tree_set_aside_by_an_older_datahem(tmp_path):
    """The state the old two-rename writer left when killed between its renames: no generated/, `.old-PID` and
    `.tmp-PID` beside it. The old tree comes back; the staging folder goes."""
    root = tmp_path / "generated"
    _plant(tmp_path / ".generated.old-123", OLD)
    _plant(tmp_path / ".generated.tmp-123", {"a.txt": b"half"})
    assert writer.read_tree(root) == OLD
    writer.recover(root)
    assert writer.read_tree(root) == OLD and _siblings(root) == []


def test_python_byte_code_is_not_output(tmp_path):
    root = tmp_path / "generated"
    _plant(root, NEW)
    _plant(root, {"sub/__pycache__/x.cpython-311.pyc": b"\0code", "loose.pyc": b"\0"})
    assert writer.read_tree(root) == NEW
    assert writer.diff(root, NEW) == []
    assert writer.write(root, NEW) == []  # nothing to do: the byte code stays where Python put it
    assert (root / "sub" / "__pycache__").is_dir()
    changes = writer.write(root, {**NEW, "a.txt": b"newer"})
    assert [c.path for c in changes] == ["a.txt"]
    assert writer.read_tree(root) == {**NEW, "a.txt": b"newer"}
    assert not (root / "sub" / "__pycache__").exists()  # dropped with the old tree, never copied


def test_check_ignores_byte_code_of_imported_generated_modules(tmp_path):
    """CI runs `datahem build --check` after tests that import generated/pipelines/*: it must still pass."""
    project = copy_project(EXAMPLE, tmp_path / "p")
    pipelines = project / "generated" / "pipelines"
    modules = sorted(pipelines.rglob("*.py"))
    assert modules
    subprocess.run(
        [sys.executable, "-c", "import compileall, sys; sys.exit(not compileall.compile_dir(sys.argv[1], quiet=1))"]
        + [str(pipelines)],
        check=True,
    )
    assert list(pipelines.rglob("*.pyc"))
    from tests.conftest import invoke_datahem

    proc = invoke_datahem("build", "--check", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = invoke_datahem("build", cwd=project, check=True)
    assert "(0 changed)" in proc.stdout


def test_stale_temporary_folders_of_dead_builds_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"datahem-synth-{dead_pid}-abc"
    (stale / "tmp" / "jsii-kernel-x").mkdir(parents=True)
    mine = tmp_path / f"datahem-synth-{os.getpid()}-def"
    mine.mkdir()
    other = tmp_path / "datahem-synth-notapid"
    other.mkdir()
    assert tempdirs.remove_stale(tmp_path) == [stale]
    assert not stale.exists() and mine.exists() and other.exists()
    with tempdirs.owned("synth") as owned:
        assert Path(owned).name.startswith(f"datahem-synth-{os.getpid()}-")
        assert Path(owned).parent == Path(tempfile.gettempdir())
    shutil.rmtree(mine)


# -- the same through `datahem build` on the example project, with a migration history to keep -------------------

ORDER = "schemas/grocer/commerce/v1/order.proto"
DRIVER = """
import os, sys
from datahem.compiler import writer
from datahem.compiler.emitters import infra
step, exchange = sys.argv[1], sys.argv[2] == "exchange"
infra.synth = lambda inputs, envs: {infra.stack_path(e): b"{}" for e in envs}  # the real synth costs seconds
def checkpoint(name):
    if name.startswith(step):
        os._exit(137)
writer._checkpoint = checkpoint
writer._exchange_available = exchange and writer._exchange_available
from datahem.cli import main
main(["build"])
"""


def _edit(project: Path, old: str, new: str) -> None:
    text = (project / ORDER).read_text()
    assert old in text
    (project / ORDER).write_text(text.replace(old, new, 1))


def _stub_build(project: Path, monkeypatch) -> None:
    from datahem.compiler.emitters import infra
    from tests.conftest import invoke_datahem

    monkeypatch.setattr(infra, "synth", lambda inputs, envs: {infra.stack_path(e): b"{}" for e in envs})
    invoke_datahem("build", cwd=project, check=True)


@pytest.mark.slow  # ten builds in subprocesses (about 2 s each)
@pytest.mark.parametrize("exchange", MODES)
def test_a_killed_build_keeps_the_migration_history(tmp_path, monkeypatch, exchange):
    if exchange and not writer._exchange_available:
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    base = copy_project(EXAMPLE, tmp_path / "base")
    _stub_build(base, monkeypatch)
    _edit(base, "  string event_id = 26", "  string campaign_code = 27;\n  string event_id = 26")
    _stub_build(base, monkeypatch)  # migration 0001
    old = writer.read_tree(base / "generated")
    _edit(base, "    string substituted_by_sku = 9;\n", "    string substituted_by_sku = 9;\n    int32 grams = 10;\n")
    reference = copy_project(base, tmp_path / "reference")
    _stub_build(reference, monkeypatch)  # migration 0002, uninterrupted
    new = writer.read_tree(reference / "generated")
    migrations = sorted(p for p in new if p.startswith("bigquery/migrations/"))
    earlier = [p for p in writer.read_tree(EXAMPLE / "generated") if p.startswith("bigquery/migrations/")]
    assert len(migrations) == len(earlier) + 2 and set(migrations) - set(old)  # the example's own, then these two
    for step in ["staged ", "staged", "exchanged" if exchange else "set old aside", "switched", "done"]:
        project = copy_project(base, tmp_path / step.replace(" ", "_"))
        driver = [sys.executable, "-c", DRIVER, step, "exchange" if exchange else "renames"]
        proc = subprocess.run(driver, cwd=project, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 137, proc.stdout + proc.stderr
        assert writer.read_tree(project / "generated") in (old, new), step
        _stub_build(project, monkeypatch)
        assert writer.read_tree(project / "generated") == new, f"killed at {step!r}: history or files differ"
        assert sorted(p.name for p in project.iterdir()) == ["generated", "schemas", "sources.yaml"], step


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_of_the_build_dies_with_it(tmp_path):
    """protoc and the synth run through child_command: a killed build does not leave them running. The build
    process has gRPC loaded, whose fork handlers aborted children started with a preexec_fn."""
    script = (
        "import os, subprocess, sys, time\n"
        "import grpc\n"
        "from datahem.compiler import tempdirs\n"
        "channel = grpc.insecure_channel('127.0.0.1:1')\n"
        "child = [sys.executable, '-c', 'import time; print(1, flush=True); time.sleep(60)']\n"
        "p = subprocess.Popen(tempdirs.child_command(child), stdout=subprocess.PIPE)\n"
        # the child's program runs only after setpriv set the death signal: the build dies after that, as a real
        # build (seconds long) does, not in the instant between fork and prctl
        "p.stdout.readline()\n"
        "print(p.pid, flush=True)\n"
        "os._exit(137)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    stat = Path(f"/proc/{int(proc.stdout)}/stat")
    for _ in range(100):
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return
        time.sleep(0.1)
    pytest.fail("the child outlived the build")
