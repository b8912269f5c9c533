"""The option vocabulary: the bundled .proto, its generated module and the example project's copy agree, and
every option is documented in the README."""

from __future__ import annotations

import subprocess
import sys

from datahem.compiler.vocabulary import VOCABULARY_PATH, options_pb2
from tests.conftest import ROOT


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
    assert (ROOT / "schemas" / "datahem" / "options.proto").read_bytes() == VOCABULARY_PATH.read_bytes()


def test_fixed_field_names():
    fields = options_pb2.ColumnOptions.DESCRIPTOR.fields_by_name
    for name in ("name", "description", "category", "type", "required", "hidden"):
        assert name in fields


def test_every_option_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    for message in (options_pb2.TableOptions, options_pb2.ColumnOptions):
        for field in message.DESCRIPTOR.fields:
            assert f"`{field.name}`" in readme, f"README does not document option `{field.name}`"
