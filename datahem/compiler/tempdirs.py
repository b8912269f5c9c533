"""Temporary directories the compiler owns (protoc's output, the infrastructure synth), named with the pid of the
build that made them, so a later build can remove those a killed build left behind: a process killed with SIGKILL
runs no `finally`, and its `datahem-synth-*` copy (with jsii's own temporary files inside it) would stay for ever.
"""

from __future__ import annotations

import os
import re
import shutil
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


# util-linux's setpriv sets the parent-death signal and execs the command. Not a `preexec_fn`: that makes Python
# fork() and run the parent's fork handlers in the child, and gRPC's (loaded in any process that also talks to Pub/Sub,
# e.g. the tests or `datahem dev`) aborts the child before it execs.
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def child_command(command: list[str]) -> list[str]:
    """`command` so that, on Linux, the kernel kills it when the build dies, even by SIGKILL: a build's child
    (protoc, the synth) never outlives it, nor keeps writing into a removed temporary folder. Elsewhere unchanged."""
    if _SETPRIV is None:
        return command
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *command]
