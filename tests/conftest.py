"""Shared fixtures: the repository root, the tests' example project (tests/fixtures/grocer) and the diagnostic/golden
cases."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]  # the repository: its README, Makefile, datahem/, tests/, workflows
# The tests' own copy of the grocer example project (sources.yaml, schemas/ with the examples files, generated/): every
# test of DataHem itself uses it, never the top-level project, which a team replaces with its own (`make fixtures`
# re-syncs it from the top level; tests/fixtures/README.md).
EXAMPLE = ROOT / "tests" / "fixtures" / "grocer"
EXAMPLE_REGISTRY = EXAMPLE / "generated" / "registry" / "descriptor_set.binpb"
# The team's own project at the repository's top level: only tests marked `project` (checks of that project, whatever
# it is, e.g. `datahem build --check`) read it.
OWN_PROJECT = ROOT
CASES = ROOT / "tests" / "cases"
DATAHEM = [sys.executable, "-m", "datahem.cli"]

# The generated pipeline modules import the example's `generated` package (a namespace package, no __init__.py): pin
# it to the fixture's generated/, so the repository's own top-level generated/ (on sys.path as the rootdir) is never
# merged into it.
sys.path.insert(0, str(EXAMPLE))
import generated  # noqa: E402

generated.__path__ = [str(EXAMPLE / "generated")]


def run_datahem(*args: str, cwd: Path = EXAMPLE, check: bool = False) -> subprocess.CompletedProcess:
    """`datahem ARGS` as a user runs it: a subprocess (about 1 s of start-up). For the exit codes and the process
    boundary; tests of what a command prints or writes use invoke_datahem."""
    proc = subprocess.run([*DATAHEM, *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"datahem {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def invoke_datahem(*args: str, cwd: Path = EXAMPLE, check: bool = False) -> subprocess.CompletedProcess:
    """`datahem ARGS` in this process (click's CliRunner, in cwd), returned like run_datahem's result. An exception
    that escapes the command is a crash, as in the subprocess: exit code 1 and the traceback on stderr."""
    from datahem.cli import main

    with contextlib.chdir(cwd):
        result = CliRunner().invoke(main, list(args), prog_name="datahem")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    proc = subprocess.CompletedProcess(["datahem", *args], result.exit_code, result.stdout, stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"datahem {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def copy_project(src: Path, dst: Path) -> Path:
    """Copy a project's inputs (sources.yaml, schemas/, and generated/ if any) to dst."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "sources.yaml", dst / "sources.yaml")
    shutil.copytree(src / "schemas", dst / "schemas")
    if (src / "generated").is_dir():
        shutil.copytree(src / "generated", dst / "generated")
    return dst


def copy_repository(dst: Path) -> Path:
    """The repository's files as a clone has them (tracked, plus new files not ignored; no venvs, no caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the working tree is not copied
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


@pytest.fixture(scope="session")
def example_model():
    from datahem.compiler.build import load_model

    return load_model(EXAMPLE)


@pytest.fixture(scope="session")
def example_files(example_model):
    from datahem.compiler.build import Settings, compile_project, render_all

    return render_all(compile_project(EXAMPLE), Settings(EXAMPLE))
