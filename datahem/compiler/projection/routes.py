"""Routes: every way an event reaches a source, as readable keys (`POST /collect`, `sns route orders`, `sns topic
ARN`, `kinesis stream ARN`), from the model or read back from a generated tree's `routing/*.json`; each source kind
says what its keys are. Thin on purpose: evolution only asks which keys a source lost."""

from __future__ import annotations

from datahem.compiler.model.resolved import Model
from datahem.compiler.sources import KINDS
from datahem.compiler.writer import read_json


def route_keys(model: Model) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for s in model.sources:
        routes.setdefault(s.name, set()).update(KINDS[s.kind].change_keys(s.route))
    return routes


def read_route_keys(files: dict[str, bytes]) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for kind in KINDS.values():
        for source, keys in kind.read_change_keys(read_json(files, f"routing/{kind.routing_file}")).items():
            routes.setdefault(source, set()).update(keys)
    return routes
