"""`datahem init`: a minimal, complete project that builds, tests and runs with zero edits.

The files are package data under files/: a `.j2` file is rendered with Jinja2 (name, proto package, the datahem
requirement), any other file is copied as is; `schemas/__package__/` becomes the proto package's folder and
`gitignore` becomes `.gitignore` (a dot file would be left out of some sdists). The option vocabulary
(schemas/datahem/options.proto) is copied from the one the compiler reads; the CLI hands over its path.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import jinja2

FILES = Path(__file__).resolve().parent / "files"
# What marks a directory as a project already: init never writes into one.
PROJECT_MARKERS = ("sources.yaml", "schemas", "generated")


class ScaffoldError(Exception):
    """The project cannot be created; the message says why."""


def project_name(text: str) -> str:
    """A project name from a folder name: lower case letters, digits and hyphens, starting with a letter."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"events-{name}".strip("-")
    return name[:20].rstrip("-")


def datahem_requirement() -> str:
    """The requirement line that installs this very DataHem: its VCS URL and commit when pip recorded one (PEP 610),
    else its version."""
    try:
        dist = metadata.distribution("datahem")
    except metadata.PackageNotFoundError:
        return "datahem"
    direct = dist.read_text("direct_url.json")
    if direct:
        doc = json.loads(direct)
        vcs = doc.get("vcs_info")
        if vcs and doc.get("url"):
            return f"datahem @ {vcs['vcs']}+{doc['url']}@{vcs.get('commit_id', '')}".rstrip("@")
    return f"datahem=={dist.version}"


def scaffold(directory: Path, name: str | None, vocabulary: Path) -> list[Path]:
    """Write the project into directory (created if missing); returns the files written, relative to it."""
    existing = [m for m in PROJECT_MARKERS if (directory / m).exists()]
    if existing:
        raise ScaffoldError(
            f"{directory} already holds a project ({', '.join(existing)}); init writes only into a new or empty folder"
        )
    name = project_name(name or directory.resolve().name)
    package = f"{name.replace('-', '_')}.v1"
    values = {"name": name, "package": package, "datahem_requirement": datahem_requirement()}
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
    planned: dict[Path, bytes] = {}
    for src in sorted(p for p in FILES.rglob("*") if p.is_file()):
        rel = src.relative_to(FILES).as_posix().replace("__package__", package.replace(".", "/"))
        rel = ".gitignore" if rel == "gitignore" else rel
        if rel.endswith(".j2"):
            planned[Path(rel[:-3])] = env.from_string(src.read_text(encoding="utf-8")).render(values).encode()
        else:
            planned[Path(rel)] = src.read_bytes()
    planned[Path("schemas/datahem/options.proto")] = vocabulary.read_bytes()
    clashes = [str(p) for p in planned if (directory / p).exists()]
    if clashes:
        raise ScaffoldError(f"{directory} already has {', '.join(sorted(clashes))}; init never overwrites a file")
    for rel, data in planned.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sorted(planned)


__all__ = ["ScaffoldError", "project_name", "scaffold"]
