"""The conformance project (tests/conformance/project: protobuf's test_messages_proto3.proto with DataHem's
adaptations) built once per session with `datahem build`; its generated converter of TestAllTypesProto3 and the
message class from its registry."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from datahem.runtime.beam.convert import Context
from datahem.runtime.beam.messages import message_class
from tests.conftest import copy_project, invoke_datahem

PROJECT = Path(__file__).with_name("project")
MESSAGE = "protobuf_test_messages.proto3.TestAllTypesProto3"
MODULE = "protobuf_test_messages_proto3_testalltypesproto3"


@dataclass
class Conformance:
    module: object  # the generated converter module
    cls: type  # TestAllTypesProto3 from the built registry
    ctx: Context

    def convert(self, data: bytes):
        return self.module.convert(data, self.ctx, self.cls)


@pytest.fixture(scope="session")
def conformance(tmp_path_factory) -> Conformance:
    project = copy_project(PROJECT, tmp_path_factory.mktemp("conformance") / "project")
    invoke_datahem("build", cwd=project, check=True)
    generated = project / "generated"
    spec = importlib.util.spec_from_file_location(
        f"conformance_{MODULE}", generated / "pipelines" / "converters" / f"{MODULE}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = message_class(MESSAGE, generated / "registry" / "descriptor_set.binpb")
    return Conformance(module, cls, Context({}, {}))
