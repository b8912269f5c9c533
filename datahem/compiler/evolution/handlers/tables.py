"""Rules on tables, sources, routes and categories."""

from __future__ import annotations

from typing import Any

from datahem.compiler import rules
from datahem.compiler.evolution.pairs import CategoryPair, LostRoot, RootPair, SourcePair
from datahem.compiler.evolution.registry import (
    CATEGORY,
    LOST_ROOT,
    NEW_ROOT,
    RENAMED_ROOT,
    ROOT,
    SOURCE,
    SUCCESSOR,
    Context,
    rule,
)
from datahem.compiler.projection.tables import Root


@rule(rules.MESSAGE_RENAMED, RENAMED_ROOT)
def message_renamed(ctx: Context, p: RootPair) -> None:
    message, renamed, table = p.old.message, p.new.message, p.old.table
    ctx.add(
        rules.MESSAGE_RENAMED,
        message,
        f"table `{table}` now holds `{renamed}` instead of `{message}`: its topic, subscriptions and "
        f"processed stream are renamed with it, so producers and stream consumers must move",
        ctx.message_loc(renamed),
        fix=f"keep the message name `{message}`",
        table=table,
    )


@rule(rules.MESSAGE_RENAMED, LOST_ROOT)
def source_message_changed(ctx: Context, p: LostRoot) -> None:
    message, source = p.old.message, p.source
    ctx.add(
        rules.MESSAGE_RENAMED,
        message,
        f"source `{source}` now carries `{p.new_message}` instead of `{message}`: "
        f"a different topic and table; `{p.old.table}` keeps its data and stops receiving events",
        ctx.source_loc(source),
        fix=f"keep `message: {message}` and add a new source for the new message",
        source=source,
        table=p.old.table,
    )


@rule(rules.MAJOR_VERSION_ADDED, SUCCESSOR)
def major_version_added(ctx: Context, p: RootPair) -> None:
    message, successor = p.old.message, p.new.message
    ctx.add(
        rules.MAJOR_VERSION_ADDED,
        message,
        f"`{message}` moves to `{successor}`: a new table `{p.new.table}` and topic; "
        f"`{p.old.table}` keeps its data and stops receiving events (Terraform forgets it, never deletes it)",
        ctx.message_loc(successor),
        table=p.new.table,
        kind="added",
    )


@rule(rules.TABLE_ADDED, NEW_ROOT)
def table_added(ctx: Context, root: Root) -> None:
    ctx.add(
        rules.TABLE_ADDED,
        root.message,
        f"new table `{root.table}` for `{root.message}`",
        ctx.message_loc(root.message),
        table=root.table,
        kind="added",
    )


def _describe(p: dict[str, Any]) -> str:
    return f"{p.get('type')} on `{p['field']}`" if p.get("field") else f"{p.get('type')} by ingestion time"


def _partitioning(options: dict[str, Any]) -> dict[str, Any]:
    return options.get("partitioning") or {}


@rule(rules.TABLE_WOULD_BE_REPLACED, ROOT)
def table_would_be_replaced(ctx: Context, p: RootPair) -> bool:
    """A new table id, or a new partitioning: Terraform replaces the table (and its data)."""
    old, new = p.old, p.new
    ref = new.table
    if old.table != ref:
        dataset, _, name = old.table.partition(".")
        ctx.add(
            rules.TABLE_WOULD_BE_REPLACED,
            old.message,
            f"`{new.message}` now maps to table `{ref}` instead of `{old.table}`: Terraform would delete "
            f"`{old.table}` with its data and create a new table",
            ctx.table_loc(new.message),
            fix=f'keep it with `option (datahem.table) = {{name: "{name}" dataset: "{dataset}"}}`, or move the '
            f"message to a new major version (package `...v2`) to start a new table",
            table=ref,
        )
        return True  # a different table: nothing else of it is compared
    if not old.options or not new.options:
        return False
    pa, pb = _partitioning(old.options), _partitioning(new.options)
    if (pa.get("type"), pa.get("field")) != (pb.get("type"), pb.get("field")):
        ctx.add(
            rules.TABLE_WOULD_BE_REPLACED,
            f"{ref}:partitioning",
            f"partitioning of `{ref}` changes from {_describe(pa)} to {_describe(pb)}: a table's partitioning "
            f"cannot change in place, Terraform would replace the table and its data would be lost",
            ctx.table_loc(new.message),
            fix="keep the partitioning, or move the message to a new major version (package `...v2`) to start a "
            "new table",
            table=ref,
        )
    return False


@rule(rules.CLUSTERING_CHANGED, ROOT)
def clustering_changed(ctx: Context, p: RootPair) -> None:
    a, b = p.old.options, p.new.options
    if a and b and list(a.get("clustering") or []) != list(b.get("clustering") or []):
        ref = p.new.table
        ctx.add(
            rules.CLUSTERING_CHANGED,
            f"{ref}:clustering",
            f"clustering of `{ref}`: {a.get('clustering') or 'none'} → {b.get('clustering') or 'none'}",
            ctx.table_loc(p.new.message),
            table=ref,
        )


@rule(rules.TABLE_OPTIONS_CHANGED, ROOT)
def table_options_changed(ctx: Context, p: RootPair) -> None:
    a, b = p.old.options, p.new.options
    if not a or not b:
        return
    ref, loc = p.new.table, ctx.table_loc(p.new.message)
    for key, label in (("description", "description"), ("labels", "labels")):
        if a.get(key) != b.get(key):
            ctx.add(rules.TABLE_OPTIONS_CHANGED, f"{ref}:{key}", f"{label} of `{ref}` changed", loc, table=ref)
    pa, pb = _partitioning(a), _partitioning(b)
    for key in ("expiration_days", "require_filter"):
        if pa.get(key) != pb.get(key):
            ctx.add(
                rules.TABLE_OPTIONS_CHANGED,
                f"{ref}:{key}",
                f"partition {key.replace('_', ' ')} of `{ref}`: {pa.get(key)} → {pb.get(key)}",
                loc,
                table=ref,
            )


# How much each `unknown_fields` policy accepts; trees written before the option existed rejected unknown fields.
_ACCEPTS = {"REJECT": 0, "IGNORE": 1, "KEEP": 2}
_POLICY = {
    "REJECT": "events with unknown fields are dead-lettered",
    "IGNORE": "unknown fields are dropped and counted",
    "KEEP": "unknown fields are kept in the `_unknown` JSON column",
}


def unknown_fields_target(table: str) -> str:
    """What accepted_breaks names for a table's unknown_fields policy (and for the `_unknown` column it removes)."""
    return f"{table}:unknown_fields"


def _unknown_fields(p: RootPair) -> tuple[str, str] | None:
    if not p.old.options or not p.new.options:
        return None
    a = str(p.old.options.get("unknown_fields") or "REJECT")
    b = str(p.new.options.get("unknown_fields") or "REJECT")
    return (a, b) if a != b and a in _ACCEPTS and b in _ACCEPTS else None


@rule(rules.UNKNOWN_FIELDS_RELAXED, ROOT)
def unknown_fields_relaxed(ctx: Context, p: RootPair) -> None:
    change = _unknown_fields(p)
    if change is None or _ACCEPTS[change[1]] < _ACCEPTS[change[0]]:
        return
    a, b = change
    ref = p.new.table
    gained = "; the `_unknown` column is added" if b == "KEEP" else ""
    ctx.add(
        rules.UNKNOWN_FIELDS_RELAXED,
        unknown_fields_target(ref),
        f"unknown fields of `{ref}`: {a} → {b}: {_POLICY[b]} (until now {_POLICY[a]}){gained}",
        ctx.table_loc(p.new.message),
        table=ref,
    )


@rule(rules.UNKNOWN_FIELDS_TIGHTENED, ROOT)
def unknown_fields_tightened(ctx: Context, p: RootPair) -> None:
    change = _unknown_fields(p)
    if change is None or _ACCEPTS[change[1]] > _ACCEPTS[change[0]]:
        return
    a, b = change
    ref = p.new.table
    consequence = (
        "events producers send today with extra fields become dead letters"
        if b == "REJECT"
        else "their values are no longer stored"
    )
    lost = "; the `_unknown` column leaves the schema (it stays in the table with its data)" if a == "KEEP" else ""
    ctx.add(
        rules.UNKNOWN_FIELDS_TIGHTENED,
        unknown_fields_target(ref),
        f"unknown fields of `{ref}`: {a} → {b}: {_POLICY[b]}, so {consequence}{lost}",
        ctx.table_loc(p.new.message),
        fix=f"keep `unknown_fields: {a}` in the table option",
        table=ref,
    )


@rule(rules.SOURCE_REMOVED, SOURCE)
def source_removed(ctx: Context, p: SourcePair) -> bool:
    if p.new_routes is not None:
        return False
    ctx.add(
        rules.SOURCE_REMOVED,
        p.source,
        f"source `{p.source}` (`{p.message}`) is gone: its routes stop accepting events and its pipeline is drained",
        ctx.sources_loc,
        fix=f"keep source `{p.source}`",
        source=p.source,
    )
    return True


@rule(rules.ROUTE_REMOVED, SOURCE)
def route_removed(ctx: Context, p: SourcePair) -> None:
    for route in sorted(p.old_routes - (p.new_routes or frozenset())):
        ctx.add(
            rules.ROUTE_REMOVED,
            f"{p.source}:{route}",
            f"source `{p.source}` no longer accepts `{route}`: producers using it would be refused",
            ctx.source_loc(p.source),
            fix="keep the route (add new ones beside it)",
            source=p.source,
        )


@rule(rules.CATEGORY_ACCESS_CHANGED, CATEGORY)
def category_access_changed(ctx: Context, p: CategoryPair) -> None:
    a, b = p.old, p.new
    if a == b:
        return
    if a is None or b is None:
        what = "added" if a is None else "removed"
    else:
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        what = "changed: " + ", ".join(f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in keys)
    ctx.add(
        rules.CATEGORY_ACCESS_CHANGED,
        p.name,
        f"category `{p.name}` {what}",
        ctx.category_loc(p.name),
        kind="changed",
    )
