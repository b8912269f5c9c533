"""Tables as they are deployed and compared: the message each table holds (with its sources and table options, as
`registry/index.json` records them) and every table's columns (event tables, backup, dead letters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datahem.compiler.model.resolved import Model, Table
from datahem.compiler.projection.columns import ColumnSchema


@dataclass(frozen=True)
class Root:
    """A message type that has a table (a source names it)."""

    message: str
    table: str  # dataset.table
    sources: tuple[str, ...]
    options: dict[str, Any] = field(
        default_factory=dict, compare=False
    )  # partitioning, clustering, description, labels, unknown_fields


def partitioning(t: Table) -> dict[str, Any]:
    """A table's partitioning as platform.json and the compared table options write it."""
    p = t.partitioning
    return {
        "type": p.granularity,
        "field": p.column,
        "expiration_days": p.expiration_days,
        "require_filter": p.require_filter,
    }


def table_options(t: Table) -> dict[str, Any]:
    """The table settings evolution compares (partitioning replaces a table; unknown_fields is the converter's policy;
    the rest is updated in place)."""
    return {
        "partitioning": partitioning(t),
        "clustering": list(t.clustering),
        "description": t.description,
        "labels": dict(t.labels),
        "unknown_fields": t.unknown_fields,
    }


def table_ref(t: Table) -> str:
    return f"{t.dataset}.{t.name}"


def columns(t: Table, memo: dict[int, ColumnSchema] | None = None) -> tuple[ColumnSchema, ...]:
    return tuple(ColumnSchema.of(c, memo) for c in t.bq_columns)


def roots(model: Model) -> dict[str, Root]:
    return {
        t.message: Root(t.message, table_ref(t), tuple(s.name for s in model.sources_of(t.message)), table_options(t))
        for t in model.tables
    }


def schemas(model: Model) -> dict[str, tuple[ColumnSchema, ...]]:
    """dataset.table → columns, for every table the build deploys."""
    tables = (*model.tables, model.backup_table, model.dead_letter_table)
    memo: dict[int, ColumnSchema] = {}  # the model (and so every column) outlives it
    return dict(sorted({table_ref(t): columns(t, memo) for t in tables}.items()))
