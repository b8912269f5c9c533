"""Benchmarks of the DataHem compiler (see bench/README.md); run from the repository root."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_project(src: Path, dst: Path) -> Path:
    """Copy a project's inputs (sources.yaml, schemas/ and its committed generated/, without bytecode caches) into
    the directory `dst`, which is made if missing."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "sources.yaml", dst / "sources.yaml")
    shutil.copytree(src / "schemas", dst / "schemas")
    shutil.copytree(src / "generated", dst / "generated", ignore=shutil.ignore_patterns("__pycache__"))
    return dst
