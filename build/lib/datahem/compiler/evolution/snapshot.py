"""A schema snapshot: what one generated/ tree says about the platform, in the form the comparison needs.

Both sides of a comparison are read the same way, from generated files: the baseline from the committed tree (or
`--against`), the current side from the registry, BigQuery and routing emitters run in memory over the model. So a
difference is always a difference in what would be deployed, never one in how two code paths describe it.

- `registry/descriptor_set.binpb` gives every message, field (number, name, JSON name, type, label, DataHem options)
  and enum value, with source positions;
- `registry/index.json` gives the message type of each table, its sources and table options;
- `bigquery/<dataset>/<table>.schema.json` gives the columns as BigQuery sees them;
- `routing/*.json` gives the routes; `infra/platform.json` the categories and Dataflow jobs (and, for trees written
  before index.json carried them, the partitioning and clustering);
- `registry/history.json` and `bigquery/migrations/` the migrations already written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2

from datahem.compiler.model.resolve import ProtoIndex

HISTORY = "registry/history.json"
MIGRATIONS = "bigquery/migrations/"
STACKS = "infra/cdktf.out/stacks/"


@dataclass(frozen=True)
class Root:
    """A message type that has a table (a source names it)."""

    message: str
    table: str  # dataset.table
    sources: tuple[str, ...]
    options: dict = field(default_factory=dict, compare=False)  # partitioning, clustering, description, labels


@dataclass
class Snapshot:
    index: ProtoIndex | None
    roots: dict[str, Root]
    tables: dict[str, list]  # dataset.table → schema JSON fields (event and system tables)
    routes: dict[str, set[str]]  # source → route keys
    source_messages: dict[str, str]  # source → message type
    categories: dict[str, dict]
    pipelines: dict[str, dict]  # Dataflow job name → platform.json entry
    history: dict
    files: dict[str, bytes]

    @property
    def empty(self) -> bool:
        return not self.roots and not self.tables


def _json(files: dict[str, bytes], path: str) -> dict:
    try:
        data = json.loads(files[path])
    except (KeyError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _index(files: dict[str, bytes]) -> ProtoIndex | None:
    data = files.get("registry/descriptor_set.binpb")
    if not data:
        return None
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(data)
    except Exception:  # noqa: BLE001  (a damaged baseline is no baseline)
        return None
    return ProtoIndex(fds)


def _routes(files: dict[str, bytes]) -> dict[str, set[str]]:
    """Every way an event reaches a source, as readable keys: `POST /collect`, `sns route orders`, `sns topic ARN`,
    `kinesis stream ARN`."""
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


def snapshot(files: dict[str, bytes]) -> Snapshot:
    index = _json(files, "registry/index.json")
    platform = _json(files, "infra/platform.json")
    platform_tables = {t.get("message"): t for t in platform.get("tables", []) if isinstance(t, dict)}
    roots: dict[str, Root] = {}
    for message, entry in (index.get("messages") or {}).items():
        if not isinstance(entry, dict) or "." not in str(entry.get("table", "")):
            continue
        options = entry.get("options")
        if not isinstance(options, dict):  # trees written before index.json carried the table options
            t = platform_tables.get(message, {})
            options = {k: t[k] for k in ("partitioning", "clustering", "description", "labels") if k in t}
        roots[message] = Root(message, entry["table"], tuple(entry.get("sources", ())), options)
    tables = {}
    for path, data in files.items():
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "bigquery" and path.endswith(".schema.json"):
            try:
                fields = json.loads(data).get("fields")
            except ValueError:
                continue
            if isinstance(fields, list):
                tables[f"{parts[1]}.{parts[2].removesuffix('.schema.json')}"] = fields
    sources = {s: m for m, r in roots.items() for s in r.sources}
    return Snapshot(
        index=_index(files),
        roots=roots,
        tables=dict(sorted(tables.items())),
        routes=_routes(files),
        source_messages=dict(sorted(sources.items())),
        categories={c["name"]: c for c in platform.get("categories", []) if isinstance(c, dict) and "name" in c},
        pipelines={p["name"]: p for p in platform.get("pipelines", []) if isinstance(p, dict) and "name" in p},
        history=_json(files, HISTORY),
        files=files,
    )
