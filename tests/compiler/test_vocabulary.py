"""The option vocabulary: the bundled .proto, its generated module and the example project's copy agree, and
every option is documented in the README."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.loader.protos import compile_protos
from datahem.compiler.vocabulary import PREVIOUS_VOCABULARIES, VOCABULARY_PATH, options_pb2
from tests.conftest import EXAMPLE, ROOT, copy_project

EARLIER = ROOT / "tests" / "fixtures" / "vocabulary"


def test_generated_module_is_current(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{VOCABULARY_PATH.parent.parent}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            "datahem/options.proto",
        ],
        check=True,
    )
    for name in ("options_pb2.py", "options_pb2.pyi"):  # the module and its type stub
        assert (tmp_path / "datahem" / name).read_bytes() == (VOCABULARY_PATH.parent / name).read_bytes()


def test_example_project_copy_is_identical():
    assert (EXAMPLE / "schemas" / "datahem" / "options.proto").read_bytes() == VOCABULARY_PATH.read_bytes()


def test_fixed_field_names():
    fields = options_pb2.ColumnOptions.DESCRIPTOR.fields_by_name
    for name in ("name", "description", "category", "type", "required", "hidden"):
        assert name in fields


def test_every_option_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    for message in (options_pb2.TableOptions, options_pb2.ColumnOptions):
        for field in message.DESCRIPTOR.fields:
            assert f"`{field.name}`" in readme, f"README does not document option `{field.name}`"


def test_every_earlier_released_vocabulary_is_kept_as_a_fixture():
    kept = {hashlib.sha256(p.read_bytes()).hexdigest() for p in EARLIER.glob("*.proto")}
    assert kept == set(PREVIOUS_VOCABULARIES)


@pytest.mark.parametrize("earlier", sorted(p.name for p in EARLIER.glob("*.proto")))
def test_a_copy_of_an_earlier_vocabulary_still_builds(tmp_path, earlier):
    """A project keeping its copy of a released vocabulary (`divide` without presence, no `unknown_fields`) compiles
    as it did; the current copy too; any other difference is still drift."""
    before = (EARLIER / earlier).read_text()
    current = VOCABULARY_PATH.read_text()
    assert before != current
    project = copy_project(ROOT / "tests" / "cases" / "divide_invalid", tmp_path / "p")
    copy = project / "schemas" / "datahem" / "options.proto"
    copy.parent.mkdir()
    for text, drift in ((before, False), (current, False), (before + "// edited\n", True)):
        copy.write_text(text)
        diags = Diagnostics()
        assert (compile_protos(project, diags) is None) == drift
        assert [x.rule_id for x in diags.items] == (["OPTIONS_VOCABULARY_DRIFT"] if drift else [])
