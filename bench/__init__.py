"""Benchmarks of the DataHem compiler (see bench/README.md); run from the repository root."""

from __future__ import annotations

import shutil
import types
from pathlib import Path


def copy_project(src: Path, dst: Path) -> Path:
    """Copy a project's inputs (sources.yaml, schemas/ and its committed generated/, without bytecode caches) into
    the directory `dst`, which is made if missing."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "sources.yaml", dst / "sources.yaml")
    shutil.copytree(src / "schemas", dst / "schemas")
    shutil.copytree(src / "generated", dst / "generated", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def project_converters(project: Path) -> dict[str, types.ModuleType]:
    """message type -> the converter module in `project`'s own generated/pipelines/converters/, run as a private
    module: a benchmark of another project measures that project's converters, never those of whichever `generated`
    package is importable from the working directory."""
    from datahem.dev.contract import converter_modules

    folder = project / "generated" / "pipelines" / "converters"
    return converter_modules({str(path): path.read_bytes() for path in sorted(folder.glob("*.py"))})


def project_registry(project: Path) -> Path:
    """The descriptor set of `project`'s schemas, for `datahem.runtime.beam.messages.message_class`."""
    return project / "generated" / "registry" / "descriptor_set.binpb"
