"""The baseline of a comparison: a generated/ tree read from a directory or from a git revision.

`datahem build` compares with the project's own generated/ (the last build, committed and reviewed); `datahem plan
--against` takes a git ref (the files are read with `git archive`, so nothing in the work tree changes) or a
directory (a project holding generated/, or a generated/ tree itself).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from datahem.compiler import writer


class BaselineError(Exception):
    """The requested baseline cannot be read (unknown ref, not a directory of generated files)."""


def from_directory(path: Path) -> dict[str, bytes]:
    """generated/ of a project directory, or the directory itself when it is a generated/ tree."""
    if (path / "generated").is_dir():
        return writer.read_tree(path / "generated")
    if (path / "registry" / "index.json").is_file():
        return writer.read_tree(path)
    raise BaselineError(f"{path} holds neither generated/ nor a generated tree (registry/index.json)")


def from_git(project_dir: Path, ref: str) -> dict[str, bytes]:
    """generated/ of the project at git revision `ref`; empty when that revision has no generated/ yet."""

    def git(*args: str, binary: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=project_dir, capture_output=True, text=not binary)

    top = git("rev-parse", "--show-prefix")
    if top.returncode != 0:
        raise BaselineError(f"{project_dir} is not in a git work tree, so `{ref}` cannot be read; pass a directory")
    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise BaselineError(f"`{ref}` is not a git revision here (fetch it first, e.g. `git fetch origin main`)")
    tree = f"{ref}:{top.stdout.strip()}generated"
    if git("cat-file", "-e", tree).returncode != 0:
        return {}
    archive = git("archive", "--format=tar", tree, binary=True)
    if archive.returncode != 0:
        raise BaselineError(f"git archive {tree} failed: {archive.stderr.decode(errors='replace').strip()}")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name] = tar.extractfile(member).read()
    return dict(sorted(files.items()))


def read_baseline(project_dir: Path, against: str | None) -> dict[str, bytes]:
    """The baseline tree: generated/ of the project when `against` is None, else the directory or git ref named."""
    if against is None:
        return writer.read_tree(project_dir / "generated")
    path = Path(against)
    if path.is_dir():
        return from_directory(path)
    return from_git(project_dir, against)


def default_against(project_dir: Path) -> str | None:
    """`HEAD` inside a git work tree (what is committed), else None (the project's generated/)."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=project_dir, capture_output=True, text=True
    )
    return "HEAD" if proc.returncode == 0 else None
