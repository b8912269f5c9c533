"""`pip install` of the repository, not editable, into a fresh venv: the installed `datahem` is complete.

On each Python that both the pinned Apache Beam and DataHem support (requires-python in pyproject.toml) and that
this machine has (on PATH or in pyenv; the test never downloads one; a missing one is reported as skipped, with
the version): the repository's tracked files, copied as a clone would have them, are installed with the pins of
requirements.lock; the venv's `datahem build` compiles a copy of the example byte for byte as its generated/ (apart
from the schema history), and `datahem init` + `build` + `test` work there, so templates, the option vocabulary and
the scaffold are package data.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.conftest import EXAMPLE, ROOT, copy_project, copy_repository

# DataHem itself needs 3.11 (datetime.UTC, contextlib.chdir, tomllib); the upper bound is Beam's.
OWN_FLOOR = (3, 11)


def requires_python() -> SpecifierSet:
    return SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])


def supported_versions() -> list[str]:
    """The 3.x versions requires-python admits."""
    spec = requires_python()
    return [f"3.{minor}" for minor in range(0, 30) if spec.contains(f"3.{minor}.0")]


def beam_versions() -> list[str]:
    """The 3.x versions the pinned (installed) Apache Beam declares in its classifiers."""
    found = set()
    for classifier in metadata.distribution("apache-beam").metadata.get_all("Classifier") or []:
        if m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", classifier):
            found.add(m.group(1))
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def find_python(version: str) -> str | None:
    """An interpreter of that version on PATH or in pyenv's versions (pyenv's shims fail for versions that are not
    selected, so every candidate is asked which version it is)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"), *sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")))]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """A command outside the repository, without this venv's environment leaking into it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_requires_python_is_what_the_pinned_beam_supports():
    beam = [v for v in beam_versions() if tuple(map(int, v.split("."))) >= OWN_FLOOR]
    assert supported_versions() == beam, (
        f"requires-python {requires_python()} admits {supported_versions()}; apache-beam "
        f"{metadata.version('apache-beam')} supports {beam_versions()} (DataHem needs >= 3.11)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("version", supported_versions())
def test_installed_datahem_is_complete(version, tmp_path):
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (on PATH or in pyenv); the test never downloads one")
    src = copy_repository(tmp_path / "src")  # what `pip install` of a git URL builds from; build/ lands there
    venv = tmp_path / "venv"
    uv = [sys.executable, "-m", "uv"]
    run(*uv, "venv", "--quiet", "--no-python-downloads", "--python", python, venv, cwd=tmp_path)
    bin_ = venv / "bin"
    lock = src / "requirements.lock"
    run(*uv, "pip", "install", "--quiet", "--python", bin_ / "python", "-r", lock, src, cwd=tmp_path)

    # The installed package, not the repository, and not an editable install.
    where = run(bin_ / "python", "-c", "import datahem; print(datahem.__file__)", cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    dist_info = next(venv.glob("lib/python*/site-packages/datahem-*.dist-info"))
    direct = json.loads((dist_info / "direct_url.json").read_text())
    assert not direct.get("dir_info", {}).get("editable", False), direct

    # Every file of the datahem package in the repository is installed (templates, vocabulary, scaffold, READMEs).
    installed = Path(where).parent
    missing = [rel for rel in tree(src / "datahem") if not (installed / rel).is_file()]
    assert not missing, f"not package data (pyproject.toml [tool.setuptools.package-data]): {missing}"

    version_out = run(bin_ / "datahem", "--version", cwd=tmp_path).stdout
    assert "DataHem 0.1.0" in version_out and "Beam 2.77.0" in version_out, version_out

    # The example's committed generated/ is what the installed datahem renders (build --check), and a build from its
    # inputs alone gives the same bytes, apart from the schema history (migrations of earlier versions) it cannot know.
    run(bin_ / "datahem", "build", "--check", "--project", copy_project(EXAMPLE, tmp_path / "committed"), cwd=tmp_path)
    project = copy_project(EXAMPLE, tmp_path / "example")
    shutil.rmtree(project / "generated")
    run(bin_ / "datahem", "build", "--project", project, cwd=tmp_path)
    expected, built = EXAMPLE / "generated", project / "generated"
    history = [f for f in tree(expected) if f.startswith("bigquery/migrations/") or f == "registry/history.json"]
    assert sorted(set(tree(built)) - set(history)) == sorted(set(tree(expected)) - set(history))
    same = [f for f in tree(expected) if f not in history]
    _, mismatch, errors = filecmp.cmpfiles(expected, built, same, shallow=False)
    assert not mismatch and not errors, f"differs from the committed generated/: {mismatch + errors}"

    # A project of one's own, with the installed CLI only.
    run(bin_ / "datahem", "init", tmp_path / "shop", cwd=tmp_path)
    run(bin_ / "datahem", "build", "--project", tmp_path / "shop", cwd=tmp_path)
    run(bin_ / "datahem", "test", "--project", tmp_path / "shop", cwd=tmp_path)
