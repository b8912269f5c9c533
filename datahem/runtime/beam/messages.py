"""Protobuf message classes for the generated converters, built from the schema registry's descriptor set
(generated/registry/descriptor_set.binpb) in a private descriptor pool, so pipelines need no generated _pb2 modules
and never clash with other protobuf users in the same process."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REGISTRY = Path("registry") / "descriptor_set.binpb"  # inside a project's generated/
# Where the pipeline image puts it: /template/generated/ next to /template/datahem/ (generated/pipelines/Dockerfile);
# in a source checkout, the repository's own example. Pipelines of another project use default_descriptor_set().
DEFAULT_DESCRIPTOR_SET = Path(__file__).resolve().parents[3] / "generated" / REGISTRY


def default_descriptor_set() -> Path:
    """The registry of the project whose pipelines run in this process: next to the imported `generated` package
    (the generated pipeline modules import it), else ./generated/, else DEFAULT_DESCRIPTOR_SET."""
    generated = sys.modules.get("generated")
    for folder in [*getattr(generated, "__path__", []), "generated"]:
        candidate = Path(folder) / REGISTRY
        if candidate.is_file():
            return candidate.resolve()
    return DEFAULT_DESCRIPTOR_SET


@cache
def _pool(path: str) -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    fds = descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes())
    for f in fds.file:
        pool.Add(f)
    return pool


def message_class(full_name: str, descriptor_set: str | Path = DEFAULT_DESCRIPTOR_SET):
    pool = _pool(str(descriptor_set))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))
