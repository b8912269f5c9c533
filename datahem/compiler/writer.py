"""Write generated/ atomically: the whole tree is rendered in memory, written to a sibling staging folder and
switched in with one directory exchange, so an interrupted build (even by SIGKILL, at any moment) leaves either the
old tree or the new one, never none and never a mix; files whose inputs were deleted disappear.

The switch is Linux's `renameat2(RENAME_EXCHANGE)`: generated/ stays a real directory (it is committed to git, so
it cannot become a symlink) and exists at every instant. Where the exchange is unavailable (another OS, a file
system without it), two renames are used instead; a build killed between them leaves generated/ missing and the old
tree in `.generated.old-PID`, which `read_tree` reads as generated/ and `recover` moves back. Every build first
recovers: it restores an old tree left by such a kill and removes the staging and old folders a killed build left.

Python's byte code (`__pycache__/`, `*.pyc`), written when a generated module is imported, is not output: it is
ignored when generated/ is read or compared, and dropped with the old tree when a build changes generated/.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGING = "new"  # .generated.new-PID: the new tree being written, or the old one after the exchange
OLD = "old"  # .generated.old-PID: the old tree between the two renames of the fallback
_LEGACY = "tmp"  # .generated.tmp-PID: the staging folder of earlier versions


@dataclass(frozen=True)
class Change:
    status: str  # added | changed | removed
    path: str


def is_bytecode(rel: str) -> bool:
    """Python's compiled byte code, not an output of the build."""
    return "__pycache__" in rel.split("/") or rel.endswith((".pyc", ".pyo"))


def _sibling(root: Path, kind: str, pid: int | None = None) -> Path:
    return root.with_name(f".{root.name}.{kind}-{os.getpid() if pid is None else pid}")


def _litter(root: Path, kind: str) -> list[Path]:
    prefix = f".{root.name}.{kind}-"
    if not root.parent.is_dir():
        return []
    return sorted(p for p in root.parent.iterdir() if p.name.startswith(prefix))


def _interrupted_old(root: Path) -> Path | None:
    """The old tree of a swap killed between its two renames (generated/ missing), if any."""
    if root.exists():
        return None
    olds = [p for p in _litter(root, OLD) if p.is_dir()]
    return max(olds, key=lambda p: p.stat().st_mtime_ns) if olds else None


def read_tree(root: Path) -> dict[str, bytes]:
    """The files of a generated/ tree, without Python byte code. A generated/ that an interrupted build left
    missing is read from the old tree that build set aside."""
    if not root.is_dir():
        old = _interrupted_old(root)
        if old is None:
            return {}
        root = old
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not is_bytecode(rel):
            files[rel] = p.read_bytes()
    return files


def diff(root: Path, files: dict[str, bytes]) -> list[Change]:
    current = read_tree(root)
    changes = [Change("added", p) for p in files if p not in current]
    changes += [Change("changed", p) for p in files if p in current and current[p] != files[p]]
    changes += [Change("removed", p) for p in current if p not in files]
    return sorted(changes, key=lambda c: c.path)


def _checkpoint(step: str) -> None:
    """A named point between two steps of the switch. Does nothing; tests replace it to kill the process there."""


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on generated/'s parent folder (flock on the directory itself: no lock file), so two
    builds of one project never recover or switch at the same time, nor remove each other's staging folder."""
    root.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(root.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _recover(root: Path) -> list[Path]:
    old = _interrupted_old(root)
    if old is not None:
        os.rename(old, root)
        _fsync_dir(root.parent)
        _checkpoint("restored")
    removed = []
    for kind in (STAGING, OLD, _LEGACY):
        for path in _litter(root, kind):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
            _checkpoint("removed litter")
    return removed


def recover(root: Path) -> list[Path]:
    """Undo what an interrupted build left: put back generated/ if it was set aside, remove staging and old
    folders. Returns the removed paths (the restored old tree is not one of them)."""
    with _locked(root):
        return _recover(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(staging: Path, files: dict[str, bytes]) -> None:
    dirs = {staging}
    for rel, data in sorted(files.items()):
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        dirs.add(path.parent)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the switch publishes it
        _checkpoint(f"staged {rel}")
    for d in sorted(dirs, reverse=True):
        _fsync_dir(d)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc 2.28+ on Linux
_exchange_available = _libc_renameat2 is not None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step; False when this system or file system cannot."""
    if not _exchange_available or _libc_renameat2 is None:
        return False
    rc = _libc_renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, f"cannot exchange {a} and {b}: {os.strerror(err)}")


def write(root: Path, files: dict[str, bytes]) -> list[Change]:
    """Replace the tree at root with files (relative path -> bytes); return what changed. Nothing is written when
    nothing changed (Python byte code under root is not a change)."""
    with _locked(root):
        _recover(root)
        changes = diff(root, files)
        if not changes:
            return changes
        staging = _sibling(root, STAGING)
        _stage(staging, files)
        _checkpoint("staged")
        if not root.exists():
            os.rename(staging, root)
        elif _exchange(staging, root):
            _checkpoint("exchanged")  # root is the new tree, staging holds the old one
        else:
            old = _sibling(root, OLD)
            os.rename(root, old)
            _checkpoint("set old aside")  # root is missing: read_tree and recover use `old`
            os.rename(staging, root)
            staging = old
        _fsync_dir(root.parent)
        _checkpoint("switched")
        shutil.rmtree(staging, ignore_errors=True)
        _checkpoint("done")
    return changes


def read_json(files: Mapping[str, bytes], path: str) -> dict[str, Any]:
    """The JSON object at `path` of a tree read by read_tree; {} when the file is missing, not JSON or not an object
    (an earlier build's output is a baseline, never trusted to be well formed)."""
    try:
        data = json.loads(files[path])
    except (KeyError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
