"""Temporary directories the compiler owns (protoc's output, the infrastructure synth), named with the pid of the
build that made them, so a later build can remove those a killed build left behind: a process killed with SIGKILL
runs no `finally`, and its `datahem-synth-*` copy (with jsii's own temporary files inside it) would stay for ever.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from pathlib import Path

_OWNED = re.compile(r"^datahem-(?P<kind>[a-z]+)-(?P<pid>\d+)-")


def owned(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory `datahem-KIND-PID-*` in the system's temporary folder, removed when the block ends."""
    return tempfile.TemporaryDirectory(prefix=f"datahem-{kind}-{os.getpid()}-")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove the owned temporary directories whose build process no longer runs; return what was removed.

    A reused pid only makes a stale directory look alive (it stays until a later build), never the reverse.
    """
    base = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for path in entries:
        m = _OWNED.match(path.name)
        if m is None or _alive(int(m.group("pid"))):
            continue
        try:
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        except OSError:
            continue
    return removed


_PR_SET_PDEATHSIG = 1
# resolved here, in the parent: between fork and exec the child must not load libraries (dlopen takes locks that
# another thread of the parent may have held at the fork)
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """`preexec_fn` for a build's child process (protoc, the synth): on Linux, the kernel kills it when the build
    dies, even by SIGKILL, so it never outlives the build (nor keeps writing into a removed temporary folder)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
