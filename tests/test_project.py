"""The team's own project at the repository's top level (sources.yaml, schemas/, generated/), whatever it is: the
grocer example in DataHem's repository, or the project a team put there instead. Only these tests (marker `project`)
read it; every other test uses the tests' own copy of the example (tests/fixtures/grocer)."""

from __future__ import annotations

import pytest

from datahem.compiler.vocabulary import VOCABULARY_PATH
from tests.conftest import OWN_PROJECT, run_datahem

pytestmark = pytest.mark.project


def test_generated_is_up_to_date():
    proc = run_datahem("build", "--check", cwd=OWN_PROJECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_example_event_is_as_declared():
    proc = run_datahem("test", "--project", str(OWN_PROJECT))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_copy_of_the_option_vocabulary_is_the_packages():
    """schemas/datahem/options.proto (written by `datahem init`, refreshed by `make vocabulary`), for editors."""
    assert (OWN_PROJECT / "schemas" / "datahem" / "options.proto").read_bytes() == VOCABULARY_PATH.read_bytes()
