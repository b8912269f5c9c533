"""Shared fixtures: the repository root, the example project and the diagnostic/golden cases."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
DATAHEM = [sys.executable, "-m", "datahem.cli"]


def run_datahem(*args: str, cwd: Path = ROOT, check: bool = False) -> subprocess.CompletedProcess:
    """`datahem ARGS` as a user runs it: a subprocess (about 1 s of start-up). For the exit codes and the process
    boundary; tests of what a command prints or writes use invoke_datahem."""
    proc = subprocess.run([*DATAHEM, *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"datahem {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def invoke_datahem(*args: str, cwd: Path = ROOT, check: bool = False) -> subprocess.CompletedProcess:
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


@pytest.fixture(scope="session")
def example_model():
    from datahem.compiler.build import load_model

    return load_model(ROOT)


@pytest.fixture(scope="session")
def example_files(example_model):
    from datahem.compiler.build import Settings, compile_project, render_all

    return render_all(compile_project(ROOT), Settings(ROOT))
