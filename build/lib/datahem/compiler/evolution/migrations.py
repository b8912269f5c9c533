"""Evolution of one build: the changes from the baseline, which of them break, and the migrations they need.

Migrations accumulate in generated/, numbered by the registry's history (`registry/history.json`):

- A build compares the project with the baseline (the previous build in generated/). When the changes need schema
  steps (a migration, an access change, an accepted break that keeps the data), it adds ONE history entry, numbered
  after the baseline's last, and writes that entry's files: per table `bigquery/migrations/NNNN_<dataset>.<table>.sql`
  (idempotent DDL for top-level columns) and/or `NNNN_<dataset>.<table>.patch.json` (schema-patch operations SQL
  cannot express: fields inside a STRUCT, policy tags).
- Every earlier entry and file of the baseline is carried over byte for byte, so nothing written before is lost and a
  build whose baseline is its own output (`datahem build --check`) changes nothing.
- `datahem migrate` applies, per table, the entries newer than the table's label `datahem_migration`, SQL first, then
  the patch, and then moves the label (see datahem/deploy/migrate.py). A table Terraform has just created already has the
  current schema: it only gets the label.
- Tables that leave the project (a source moved to a new major version, a source removed) are listed in
  `retired_tables`: the stacks tell Terraform to forget them without deleting them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.evolution.compare import Change, Comparer, Step
from datahem.compiler.evolution.snapshot import HISTORY, MIGRATIONS, Snapshot, snapshot

FORMAT = 1


@dataclass(frozen=True)
class Accepted:
    rule: str
    target: str
    reason: str
    loc: Loc


@dataclass(frozen=True)
class Evolution:
    """What changed since the baseline, classified; the history to write and this build's new migration files."""

    changes: tuple[Change, ...]
    history: dict  # the full history.json content (without its comment)
    carried: tuple[tuple[str, bytes], ...]  # the baseline's migration files, re-emitted unchanged
    new_files: tuple[tuple[str, object], ...]  # (path, SQL text or patch dict, without header) of this build
    new_tables: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (path, table sources) for the headers

    @property
    def blocking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.blocking)

    @property
    def retired_tables(self) -> tuple[str, ...]:
        return tuple(self.history.get("retired_tables", ()))


def current_files(model) -> dict[str, bytes]:
    """The generated files the comparison reads, rendered in memory (cheap: no synth)."""
    from datahem.compiler.emitters import bigquery, registry, routing, to_json
    from datahem.compiler.emitters.infra import platform

    files = {f.path: f.content for emit in (registry.emit, bigquery.emit, routing.emit) for f in emit(model)}
    files["infra/platform.json"] = to_json(platform(model))
    return files


def compare(
    old: Snapshot,
    new: Snapshot,
    accepted: list[Accepted],
    source_locs: dict[str, Loc],
    sources_loc: Loc,
    category_locs: dict[str, Loc] | None = None,
) -> tuple[list[Change], list[str]]:
    comparer = Comparer(old, new, source_locs, sources_loc, category_locs)
    changes = comparer.run()
    by_key = {(a.rule, a.target): a for a in accepted}
    out = []
    for c in changes:
        a = by_key.get((c.rule, c.target)) if c.breaking else None
        out.append(replace(c, accepted=a.reason) if a else c)
    return out, comparer.retired


def diagnose(changes: list[Change], accepted: list[Accepted], d: Diagnostics) -> None:
    for c in changes:
        if c.blocking:
            d.error(c.loc, c.rule, c.message())
    for a in accepted:
        if not a.reason.strip():
            d.error(a.loc, rules.YAML_VALUE, f"accepted break `{a.rule}` of `{a.target}` needs a `reason`")


def _ordered(steps: list[Step]) -> list[Step]:
    """Renames first (later statements name the column by its new name); patches: added fields first."""
    sql = [s for s in steps if s.sql]
    patch = [s for s in steps if s.patch is not None]
    sql.sort(key=lambda s: 0 if " RENAME COLUMN " in s.sql else 1)
    patch.sort(key=lambda s: 0 if s.patch["op"] == "add_field" else 1)
    return sql + patch


def _entry_steps(changes: list[Change]) -> dict[str, list[tuple[Change, Step]]]:
    """Steps per table of the changes a migration applies: migrations, access changes, accepted breaks."""
    per_table: dict[str, list[tuple[Change, Step]]] = {}
    for c in changes:
        if c.blocking:
            continue
        for s in c.steps:
            per_table.setdefault(s.table, []).append((c, s))
    return per_table


def render_sql(number: int, table: str, items: list[tuple[Change, Step]]) -> str:
    lines = [
        f"-- Migration {number:04d} of `{table}`: `datahem migrate` applies it once (the table's label "
        "datahem_migration), before the patch of the same number; every statement is idempotent.",
    ]
    order = _ordered([s for _, s in items])
    why = {id(s): c for c, s in items}
    for s in order:
        if not s.sql:
            continue
        c = why[id(s)]
        note = f" (accepted: {c.accepted})" if c.accepted else ""
        lines += ["", f"-- {c.rule}: {c.summary}{note}", f"{s.sql};"]
    return "\n".join(lines) + "\n"


def render_patch(number: int, table: str, items: list[tuple[Change, Step]]) -> dict | None:
    ops = [s.patch for s in _ordered([s for _, s in items]) if s.patch is not None]
    if not ops:
        return None
    return {"migration": number, "table": table, "operations": ops}


def evolve(
    model,
    baseline: dict[str, bytes],
    accepted: list[Accepted],
    sources_loc: Loc,
    diags: Diagnostics | None = None,
) -> Evolution:
    """Compare `model` with the baseline tree; report blocking changes into `diags` (when given) and return what
    the migrations emitter writes."""
    old = snapshot(baseline)
    if old.empty:  # a first build: nothing to compare with, nothing to migrate (and no rendering twice)
        if diags is not None:
            diagnose([], accepted, diags)
        return Evolution((), {"format": FORMAT, "migrations": [], "retired_tables": []}, (), ())
    new = snapshot(current_files(model))
    source_locs = {s.name: s.loc for s in model.sources}
    category_locs = {c.name: c.loc for c in model.categories}
    changes, retired = compare(old, new, accepted, source_locs, sources_loc, category_locs)
    if diags is not None:
        diagnose(changes, accepted, diags)
    history = old.history if isinstance(old.history.get("migrations"), list) else {"migrations": []}
    entries = [e for e in history["migrations"] if isinstance(e, dict)]
    carried_paths = {
        p for e in entries for t in (e.get("tables") or {}).values() for p in (t.get("sql"), t.get("patch")) if p
    }
    carried = tuple(
        (p, data) for p, data in sorted(baseline.items()) if p.startswith(MIGRATIONS) and p in carried_paths
    )
    retired_all = sorted(set(history.get("retired_tables", [])) | set(retired))
    current_tables = {r.table for r in new.roots.values()}
    retired_all = [t for t in retired_all if t not in current_tables]
    per_table = _entry_steps(changes)
    used = sorted({(c.rule, c.target, c.accepted) for c in changes if c.accepted is not None})
    new_files: list[tuple[str, object]] = []
    new_tables: list[tuple[str, tuple[str, ...]]] = []
    if per_table or used or set(retired_all) - set(history.get("retired_tables", [])):
        number = max((int(e.get("number", 0)) for e in entries), default=0) + 1
        tables = {}
        for table, items in sorted(per_table.items()):
            record: dict = {"sql": None, "patch": None}
            base = f"{MIGRATIONS}{number:04d}_{table}"
            if any(s.sql for _, s in items):
                record["sql"] = f"{base}.sql"
                new_files.append((record["sql"], render_sql(number, table, items)))
            patch = render_patch(number, table, items)
            if patch is not None:
                record["patch"] = f"{base}.patch.json"
                new_files.append((record["patch"], patch))
            record["changes"] = sorted({f"{c.rule} {c.target}" for c, _ in items})
            tables[table] = record
            new_tables += [(p, _table_sources(model, table)) for p in (record["sql"], record["patch"]) if p]
        entries = [
            *entries,
            {
                "number": number,
                "descriptor_set_sha256": hashlib.sha256(model.descriptor_set).hexdigest(),
                "tables": tables,
                "accepted": [{"rule": r, "target": t, "reason": why} for r, t, why in used],
                "retired_tables": sorted(set(retired_all) - set(history.get("retired_tables", []))),
            },
        ]
    return Evolution(
        changes=tuple(changes),
        history={"format": FORMAT, "migrations": entries, "retired_tables": retired_all},
        carried=carried,
        new_files=tuple(new_files),
        new_tables=tuple(new_tables),
    )


def _table_sources(model, table: str) -> tuple[str, ...]:
    for t in model.tables:
        if f"{t.dataset}.{t.name}" == table:
            return tuple(f"schemas/{f}" for f in t.proto_files) + ("sources.yaml",)
    return ("sources.yaml",)


__all__ = ["HISTORY", "Accepted", "Evolution", "current_files", "evolve"]
