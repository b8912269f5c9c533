"""Write generated/ atomically: the whole tree is rendered in memory, written to a sibling temporary folder
and swapped in with renames, so a failed build never leaves a half-written tree and files whose inputs were
deleted disappear."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Change:
    status: str  # added | changed | removed
    path: str


def read_tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def diff(root: Path, files: dict[str, bytes]) -> list[Change]:
    current = read_tree(root)
    changes = [Change("added", p) for p in files if p not in current]
    changes += [Change("changed", p) for p in files if p in current and current[p] != files[p]]
    changes += [Change("removed", p) for p in current if p not in files]
    return sorted(changes, key=lambda c: c.path)


def write(root: Path, files: dict[str, bytes]) -> list[Change]:
    changes = diff(root, files)
    if not changes:
        return changes
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    old = root.with_name(f".{root.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, data in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if root.exists():
            os.rename(root, old)
        os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return changes
