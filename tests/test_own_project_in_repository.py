"""A team forks the repository and puts its own project in place of the grocer example at the top level: the tests
of DataHem itself use their own copy of the example (tests/fixtures/grocer), so they stay green.

On a copy of the repository (its files as a clone has them) whose sources.yaml, schemas/ and generated/ are replaced
by a `datahem init` project and its build: the checks of the top-level project (`datahem build --check`,
`datahem test`, every test marked `project`) pass, and so do the tests that read the example most (its generated/,
its registry and generated pipeline modules, its examples), run from the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import copy_repository, run_datahem

# Tests that read the example project throughout: with the top level replaced they must still find the fixture.
EXAMPLE_READERS = [
    "tests/test_cli.py",
    "tests/test_examples.py",
    "tests/runtime/beam/test_generated.py",
    "tests/runtime/beam/test_converters.py",
    "tests/compiler/projection",
    "tests/compiler/test_vocabulary.py",
    "tests/dev/test_datahem_test.py",
]


def pytest_in(repo, *args: str) -> subprocess.CompletedProcess:
    """The copy's own tests, with the copy's datahem package (its folder comes first on sys.path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_a_team_project_in_place_of_the_example_keeps_the_tests_green(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    for name in ("sources.yaml", "schemas", "generated"):
        path = repo / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shop = tmp_path / "shop"
    run_datahem("init", str(shop), "--name", "shop", check=True)
    shutil.copy(shop / "sources.yaml", repo / "sources.yaml")
    shutil.copytree(shop / "schemas", repo / "schemas")
    run_datahem("build", cwd=repo, check=True)

    # The team's checks of its project, with the copy's own CLI.
    for args in (["build", "--check"], ["test"]):
        proc = subprocess.run([sys.executable, "-m", "datahem.cli", *args], cwd=repo, capture_output=True, text=True)
        assert proc.returncode == 0, f"datahem {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"

    project = pytest_in(repo, "-m", "project", "tests")
    assert project.returncode == 0, project.stdout[-6000:] + project.stderr[-3000:]
    assert " passed" in project.stdout and " failed" not in project.stdout, project.stdout[-2000:]

    readers = pytest_in(repo, "-m", "not slow and not emulator", *EXAMPLE_READERS)
    assert readers.returncode == 0, readers.stdout[-6000:] + readers.stderr[-3000:]
