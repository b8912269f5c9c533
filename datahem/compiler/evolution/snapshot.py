"""A generated/ tree as `datahem plan` and the migrations read it: its projection (what is compared,
`datahem/compiler/projection/project.py`), its Dataflow jobs, its history of migrations and the files themselves.

- `registry/history.json` and `bigquery/migrations/` the migrations already written;
- `infra/platform.json` the Dataflow jobs; `infra/cdktf.out/stacks/` the synthesized stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datahem.compiler.projection import project
from datahem.compiler.projection.project import Projection
from datahem.compiler.writer import read_json

HISTORY = "registry/history.json"
MIGRATIONS = "bigquery/migrations/"
STACKS = "infra/cdktf.out/stacks/"


@dataclass(frozen=True)
class Snapshot:
    projection: Projection
    pipelines: dict[str, dict[str, Any]]  # Dataflow job name → platform.json entry
    history: dict[str, Any]
    files: dict[str, bytes]

    @property
    def empty(self) -> bool:
        return self.projection.empty


def snapshot(files: dict[str, bytes]) -> Snapshot:
    platform = read_json(files, project.PLATFORM)
    return Snapshot(
        projection=project.read(files),
        pipelines={p["name"]: p for p in platform.get("pipelines", []) if isinstance(p, dict) and "name" in p},
        history=read_json(files, HISTORY),
        files=files,
    )
