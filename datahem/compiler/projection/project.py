"""The projection of a build: what it deploys that later builds are compared on, computed once from the model
(`project`), or read back from a generated/ tree (`read`) through the same typed values, so evolution compares
like with like.

- the descriptors (every message, field and enum value, with source positions): `registry/descriptor_set.binpb`;
- the tables: the message type, sources and options of each (`registry/index.json`), the columns of every table
  (`bigquery/<dataset>/<table>.schema.json`);
- the routes (`routing/*.json`) and the data categories (`infra/platform.json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2

from datahem.compiler.model.resolve import ProtoIndex
from datahem.compiler.model.resolved import Model
from datahem.compiler.projection import platform, routes, tables
from datahem.compiler.projection.columns import ColumnSchema, read_columns
from datahem.compiler.projection.tables import Root
from datahem.compiler.writer import read_json

DESCRIPTOR_SET = "registry/descriptor_set.binpb"
INDEX = "registry/index.json"
PLATFORM = "infra/platform.json"


@dataclass(frozen=True)
class Projection:
    index: ProtoIndex | None
    roots: dict[str, Root]  # message → its table
    tables: dict[str, tuple[ColumnSchema, ...]]  # dataset.table → columns (event and system tables)
    routes: dict[str, set[str]]  # source → route keys
    categories: dict[str, dict[str, Any]]  # name → platform.json entry

    @property
    def empty(self) -> bool:
        return not self.roots and not self.tables

    @property
    def source_messages(self) -> dict[str, str]:
        """source → message type."""
        return dict(sorted({s: m for m, r in self.roots.items() for s in r.sources}.items()))


def _index(data: bytes | None) -> ProtoIndex | None:
    if not data:
        return None
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(data)
    except Exception:  # noqa: BLE001  (a damaged baseline is no baseline)
        return None
    return ProtoIndex(fds)


def project(model: Model, index: ProtoIndex | None = None) -> Projection:
    """`index`: the build's own index of `model.descriptor_set` when it has one (building it again from the bytes
    costs as much as the first time)."""
    return Projection(
        index=(index if index is not None else _index(model.descriptor_set)) if model.descriptor_set else None,
        roots=tables.roots(model),
        tables=tables.schemas(model),
        routes=routes.route_keys(model),
        categories={c["name"]: c for c in platform.categories(model)},
    )


def _read_roots(files: dict[str, bytes], platform_json: dict[str, Any]) -> dict[str, Root]:
    platform_tables = {t.get("message"): t for t in platform_json.get("tables", []) if isinstance(t, dict)}
    out: dict[str, Root] = {}
    for message, entry in (read_json(files, INDEX).get("messages") or {}).items():
        if not isinstance(entry, dict) or "." not in str(entry.get("table", "")):
            continue
        options = entry.get("options")
        if not isinstance(options, dict):  # trees written before index.json carried the table options
            t = platform_tables.get(message, {})
            options = {k: t[k] for k in ("partitioning", "clustering", "description", "labels") if k in t}
        out[message] = Root(message, entry["table"], tuple(entry.get("sources", ())), options)
    return out


def _read_tables(files: dict[str, bytes]) -> dict[str, tuple[ColumnSchema, ...]]:
    out = {}
    for path, data in files.items():
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "bigquery" and path.endswith(".schema.json"):
            try:
                fields = json.loads(data).get("fields")
            except ValueError:
                continue
            if isinstance(fields, list):
                out[f"{parts[1]}.{parts[2].removesuffix('.schema.json')}"] = read_columns(fields)
    return dict(sorted(out.items()))


def read(files: dict[str, bytes]) -> Projection:
    """The projection a generated/ tree records (empty parts where files are missing or damaged)."""
    platform_json = read_json(files, PLATFORM)
    categories = platform_json.get("categories", [])
    return Projection(
        index=_index(files.get(DESCRIPTOR_SET)),
        roots=_read_roots(files, platform_json),
        tables=_read_tables(files),
        routes=routes.read_route_keys(files),
        categories={c["name"]: c for c in categories if isinstance(c, dict) and "name" in c},
    )
