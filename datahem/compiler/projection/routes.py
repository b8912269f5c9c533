"""Routes: every way an event reaches a source, as readable keys (`POST /collect`, `sns route orders`, `sns topic
ARN`, `kinesis stream ARN`), from the model or read back from a generated tree's `routing/*.json`. Thin on purpose:
evolution only asks which keys a source lost."""

from __future__ import annotations

import json

from datahem.compiler.model.resolved import Model


def route_keys(model: Model) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for s in model.sources:
        keys = routes.setdefault(s.name, set())
        if s.http:
            keys.update(f"{method} {s.http.path}" for method in s.http.methods)
        elif s.sns:
            keys.add(f"sns route {s.sns.route}")
            keys.update(f"sns topic {arn}" for arn in s.sns.topic_arns)
        elif s.kinesis:
            keys.add(f"kinesis stream {s.kinesis.stream_arn}")
    return routes


def _json(files: dict[str, bytes], path: str) -> dict:
    try:
        data = json.loads(files[path])
    except (KeyError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_route_keys(files: dict[str, bytes]) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for r in _json(files, "routing/http.json").get("routes", []):
        for method in r.get("methods", []):
            routes.setdefault(r.get("source", ""), set()).add(f"{method} {r.get('path')}")
    for value, r in (_json(files, "routing/sns.json").get("routes") or {}).items():
        keys = routes.setdefault(r.get("source", ""), set())
        keys.add(f"sns route {value}")
        keys.update(f"sns topic {arn}" for arn in r.get("topic_arns", []))
    for arn, r in (_json(files, "routing/kinesis.json").get("streams") or {}).items():
        routes.setdefault(r.get("source", ""), set()).add(f"kinesis stream {arn}")
    return routes
