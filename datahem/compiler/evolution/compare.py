"""The pairing walker: pairs what two projections hold and hands each pair to the compatibility handlers registered
for its kind (`registry.py`, `handlers/`), which classify every difference under a rule (`datahem/compiler/rules.py`).

Fields are matched the way protobuf identifies them: by name first (so a changed number is seen as such), then the
remaining ones by number (a renamed field, or a reused number), the rest are removed or added. Message-typed fields
are followed into their message, so nested messages are compared wherever a table reaches them. Columns are compared
beside their fields (a field's column is its `name` option or its name, none when hidden), and columns no field
explains (DataHem's metadata columns, the backup and dead-letter tables) by name.

Every change carries the idempotent schema steps that would apply it to an existing table (`Step`); they are used for
migrations, access changes and accepted breaks (`datahem/compiler/evolution/migrations.py` writes them).
"""

from __future__ import annotations

from typing import Any

from datahem.compiler.diagnostics import Loc
from datahem.compiler.evolution import registry
from datahem.compiler.evolution.changes import Change, Step
from datahem.compiler.evolution.handlers import columns, fields, tables
from datahem.compiler.evolution.pairs import (
    CategoryPair,
    ColumnAdded,
    ColumnGone,
    ColumnPair,
    EnumValue,
    Field,
    FieldGone,
    FieldPair,
    LostRoot,
    OneofPair,
    RootPair,
    SourcePair,
    fields_of,
    oneof_loc,
    wire_compatible,
)
from datahem.compiler.projection.columns import ColumnSchema
from datahem.compiler.projection.project import Projection
from datahem.compiler.projection.tables import Root
from datahem.compiler.vocabulary import TABLE

HANDLER_MODULES = (tables, fields, columns)  # importing them registers the handlers, in this order
_MESSAGE_OPTIONS = 7

__all__ = ["Change", "Comparer", "Step"]


def _version(message: str) -> tuple[str, int] | None:
    """`grocer.commerce.v2.Order` → (`grocer.commerce.*.Order`, 2); None without a `vN` package suffix."""
    package, _, name = message.rpartition(".")
    base, _, version = package.rpartition(".")
    if len(version) > 1 and version[0] == "v" and version[1:].isdigit():
        return f"{base}.*.{name}", int(version[1:])
    return None


def _by_name(cols: tuple[ColumnSchema, ...]) -> dict[str, ColumnSchema]:
    return {c.name: c for c in cols}


class Comparer:
    """Collects the changes from `old` to `new` (the handlers' `Context`). Locations point into the current
    project: the proto line of the field or message, the table option, or the source in sources.yaml."""

    def __init__(
        self,
        old: Projection,
        new: Projection,
        source_locs: dict[str, Loc],
        sources_loc: Loc,
        category_locs: dict[str, Loc] | None = None,
    ):
        self.old = old
        self.new = new
        self.source_locs = source_locs
        self.category_locs = category_locs or {}
        self.sources_loc = sources_loc
        self.changes: list[Change] = []
        self._seen: set[tuple[str, str]] = set()
        self._pairs: set[tuple[str, str]] = set()
        self._enums: set[tuple[str, str]] = set()
        self.retired: list[str] = []  # tables that leave the project (kept in BigQuery, no longer managed)

    # -- the handlers' context ------------------------------------------------------------------------------------
    def add(self, rule: str, target: str, summary: str, loc: Loc, **extra: Any) -> None:
        key = (rule, target + "@" + extra.get("table", ""))
        if key in self._seen:
            return
        self._seen.add(key)
        self.changes.append(Change(rule, target, summary, loc, **extra))

    def message_loc(self, message: str) -> Loc:
        index = self.new.index
        msg = index.messages.get(message) if index else None
        return index.loc(msg.file, msg.path) if index and msg else self.sources_loc

    def table_loc(self, message: str) -> Loc:
        index = self.new.index
        msg = index.messages.get(message) if index else None
        if index is None or msg is None:
            return self.sources_loc
        option = msg.path + (_MESSAGE_OPTIONS, TABLE.number)
        return index.loc(msg.file, option if index.located(msg.file, option) else msg.path)

    def source_loc(self, source: str) -> Loc:
        return self.source_locs.get(source, self.sources_loc)

    def category_loc(self, name: str) -> Loc:
        return self.category_locs.get(name, self.sources_loc)

    # -- the whole project ----------------------------------------------------------------------------------------
    def run(self) -> list[Change]:
        if self.old.empty:
            return []
        old_roots, new_roots = self.old.roots, self.new.roots
        paired_new: set[str] = set()
        by_table = {r.table: m for m, r in new_roots.items()}
        by_version: dict[str, list[tuple[int, str]]] = {}
        for m in new_roots:
            v = _version(m)
            if v:
                by_version.setdefault(v[0], []).append((v[1], m))
        for message, root in sorted(old_roots.items()):
            if message in new_roots:
                paired_new.add(message)
                self._root(root, new_roots[message])
                continue
            renamed = by_table.get(root.table)
            if renamed and renamed not in old_roots:
                paired_new.add(renamed)
                registry.run(registry.RENAMED_ROOT, self, RootPair(root, new_roots[renamed]))
                self._root(root, new_roots[renamed])
                continue
            version = _version(message)
            newer = sorted(v for v in by_version.get(version[0], ()) if v[0] > version[1]) if version else []
            if newer:
                _, successor = newer[-1]
                paired_new.add(successor)
                self.retired.append(root.table)
                registry.run(registry.SUCCESSOR, self, RootPair(root, new_roots[successor]))
                continue
            self.retired.append(root.table)
            for source in root.sources:
                if source in self.new.source_messages:
                    registry.run(registry.LOST_ROOT, self, LostRoot(root, source, self.new.source_messages[source]))
        for message, root in sorted(new_roots.items()):
            if message not in paired_new and message not in old_roots:
                registry.run(registry.NEW_ROOT, self, root)
        self._system_tables()
        self._sources()
        self._categories()
        return self.changes

    def _sources(self) -> None:
        new_messages = self.new.source_messages
        for source, message in sorted(self.old.source_messages.items()):
            new_routes = frozenset(self.new.routes.get(source, set())) if source in new_messages else None
            old_routes = frozenset(self.old.routes.get(source, set()))
            registry.run(registry.SOURCE, self, SourcePair(source, message, old_routes, new_routes))

    def _categories(self) -> None:
        if not self.old.categories or not self.new.categories:
            return
        for name in sorted(set(self.old.categories) | set(self.new.categories)):
            pair = CategoryPair(name, self.old.categories.get(name), self.new.categories.get(name))
            registry.run(registry.CATEGORY, self, pair)

    # -- one table ------------------------------------------------------------------------------------------------
    def _root(self, old: Root, new: Root) -> None:
        registry.run(registry.ROOT, self, RootPair(old, new))
        if old.table != new.table:
            return
        old_cols = self.old.tables.get(new.table)
        new_cols = self.new.tables.get(new.table)
        if old_cols is None or new_cols is None or self.old.index is None or self.new.index is None:
            return
        if old.message not in self.old.index.messages or new.message not in self.new.index.messages:
            return
        self._message(new.table, old.message, new.message, _by_name(old_cols), _by_name(new_cols), (), (), top=True)

    def _system_tables(self) -> None:
        """Tables without a message (backup, dead letters): columns by name."""
        messages = {r.table for r in self.old.roots.values()} | {r.table for r in self.new.roots.values()}
        for ref in sorted(set(self.old.tables) & set(self.new.tables) - messages):
            self._leftovers(ref, _by_name(self.old.tables[ref]), _by_name(self.new.tables[ref]), (), (), top=True)

    # -- fields and columns ---------------------------------------------------------------------------------------
    def _message(
        self,
        ref: str,
        old_type: str,
        new_type: str,
        old_cols: dict[str, ColumnSchema] | None,
        new_cols: dict[str, ColumnSchema] | None,
        old_path: tuple[str, ...],
        new_path: tuple[str, ...],
        top: bool,
    ) -> None:
        """Compare one message pair; with column context (the STRUCT's fields on both sides) also its columns."""
        assert self.old.index is not None and self.new.index is not None
        first = (old_type, new_type) not in self._pairs
        self._pairs.add((old_type, new_type))
        if not first and old_cols is None:
            return
        old_fields = fields_of(self.old.index, old_type)
        new_fields = fields_of(self.new.index, new_type)
        new_by_name = {f.name: f for f in new_fields}
        pairs: list[tuple[Field, Field]] = []
        rest_old = []
        for f in old_fields:
            g = new_by_name.get(f.name)
            if g is not None:
                pairs.append((f, g))
            else:
                rest_old.append(f)
        matched_new = {g.name for _, g in pairs}
        new_by_number = {g.number: g for g in new_fields if g.name not in matched_new}
        removed: list[Field] = []
        reused: list[tuple[Field, Field]] = []
        for f in rest_old:
            g = new_by_number.pop(f.number, None)
            if g is None:
                removed.append(f)
            elif wire_compatible(f.type, g.type):
                pairs.append((f, g))  # a renamed field
                matched_new.add(g.name)
            else:
                reused.append((f, g))  # another field under an old number: for the table, a removal and an addition
        if first:
            self._oneofs(old_type, new_type, old_fields, new_fields, pairs)
        msg_loc = self.message_loc(new_type)
        used_old: set[str] = set()
        used_new: set[str] = set()
        for f, g in pairs:
            if first:
                registry.run(registry.FIELD, self, FieldPair(old_type, new_type, f, g))
                if f.type == g.type == "enum":
                    self._enum(f.type_name, g.type_name, g)
            oc = old_cols.get(f.column) if (old_cols is not None and f.column) else None
            nc = new_cols.get(g.column) if (new_cols is not None and g.column) else None
            if oc is not None and f.column:
                used_old.add(f.column)
            if nc is not None and g.column:
                used_new.add(g.column)
            if old_cols is not None and new_cols is not None and f.repeated == g.repeated:
                renamed = FieldPair(old_type, new_type, f, g).target if f.name != g.name else ""
                self._column_pair(
                    ref, oc, nc, old_path, new_path, g, top, tighten=f.required == g.required, renamed_field=renamed
                )
            if (
                f.type == g.type == "message"
                and not f.type_name.startswith("google.protobuf.")
                and not g.type_name.startswith("google.protobuf.")
                and f.repeated == g.repeated
            ):
                nested = oc is not None and nc is not None and oc.type == nc.type == "STRUCT"
                if nested or (f.type_name, g.type_name) not in self._pairs:
                    self._message(
                        ref,
                        f.type_name,
                        g.type_name,
                        _by_name(oc.fields) if nested and oc else None,
                        _by_name(nc.fields) if nested and nc else None,
                        old_path + (oc.name,) if nested and oc else old_path,
                        new_path + (nc.name,) if nested and nc else new_path,
                        top=False,
                    )
        gone = [(f, g) for f, g in reused] + [(f, None) for f in removed]
        for f, reuser in gone:
            oc = old_cols.get(f.column) if (old_cols is not None and f.column) else None
            if oc is not None and f.column:
                used_old.add(f.column)
            pair = FieldGone(ref, old_type, new_type, f, reuser, oc, old_path, first, msg_loc)
            registry.run(registry.FIELD_GONE, self, pair)
        if old_cols is not None and new_cols is not None:
            for g in new_fields:
                if g.name in matched_new:
                    continue
                nc = new_cols.get(g.column) if g.column else None
                if nc is not None and g.column:
                    used_new.add(g.column)
                    self._added(ref, new_path, nc, g.option_loc if g.required else g.loc, top)
            self._leftovers(
                ref,
                {k: v for k, v in old_cols.items() if k not in used_old},
                {k: v for k, v in new_cols.items() if k not in used_new},
                old_path,
                new_path,
                top,
                self.table_loc(new_type) if top else None,
            )

    def _oneofs(
        self,
        old_type: str,
        new_type: str,
        old_fields: list[Field],
        new_fields: list[Field],
        pairs: list[tuple[Field, Field]],
    ) -> None:
        """Each required oneof of the new message, and whether the old message already required one of its fields:
        a required oneof of the old one whose fields all became fields of it (a oneof may gain choices)."""
        assert self.new.index is not None
        renamed = {f.name: g.name for f, g in pairs}
        required: dict[str, list[Field]] = {}
        for g in new_fields:
            if g.oneof is not None and g.oneof_required:
                required.setdefault(g.oneof, []).append(g)
        before: dict[str, list[str | None]] = {}
        for f in old_fields:
            if f.oneof is not None and f.oneof_required:
                before.setdefault(f.oneof, []).append(renamed.get(f.name))
        for name, members in required.items():
            names = {g.name for g in members}
            was = any(all(n in names for n in old) for old in before.values())
            loc = oneof_loc(self.new.index, new_type, name, members[0].loc)
            pair = OneofPair(old_type, new_type, name, tuple(g.name for g in members), was, loc)
            registry.run(registry.ONEOF, self, pair)

    def _enum(self, old_name: str, new_name: str, g: Field) -> None:
        assert self.old.index is not None and self.new.index is not None
        if (old_name, new_name) in self._enums:
            return
        self._enums.add((old_name, new_name))
        a = self.old.index.enums.get(old_name)
        b = self.new.index.enums.get(new_name)
        if a is None or b is None:
            return
        new_values = {v.name: v.number for v in b.value}
        old_values = {v.name: v.number for v in a.value}
        for name, number in old_values.items():
            registry.run(
                registry.ENUM_VALUE, self, EnumValue(old_name, new_name, name, number, new_values.get(name), g.loc)
            )
        for name, number in new_values.items():
            if name not in old_values:
                registry.run(registry.ENUM_VALUE, self, EnumValue(old_name, new_name, name, None, number, g.loc))

    def _column_pair(
        self,
        ref: str,
        oc: ColumnSchema | None,
        nc: ColumnSchema | None,
        old_path: tuple[str, ...],
        new_path: tuple[str, ...],
        g: Field,
        top: bool,
        tighten: bool,
        renamed_field: str = "",
    ) -> None:
        if oc is None and nc is None:
            return
        if nc is None:
            assert oc is not None
            registry.run(registry.COLUMN_GONE, self, ColumnGone(ref, old_path, oc, g.option_loc, field=g))
            return
        if oc is None:
            self._added(ref, new_path, nc, g.option_loc if g.required else g.loc, top)
            return
        pair = ColumnPair(ref, oc, nc, old_path, new_path, g.option_loc, g.loc, top, tighten, renamed_field)
        registry.run(registry.COLUMN, self, pair)

    def _added(self, ref: str, new_path: tuple[str, ...], nc: ColumnSchema, loc: Loc, top: bool) -> None:
        registry.run(registry.COLUMN_ADDED, self, ColumnAdded(ref, new_path, nc, loc, top))

    def _leftovers(
        self,
        ref: str,
        old_cols: dict[str, ColumnSchema],
        new_cols: dict[str, ColumnSchema],
        old_path: tuple[str, ...],
        new_path: tuple[str, ...],
        top: bool,
        table_loc: Loc | None = None,
    ) -> None:
        """Columns no field explains (metadata columns, `_unknown`, system tables): matched by name, located at the
        table's options when there is a message (`_unknown` follows its `unknown_fields` option)."""
        loc = table_loc or Loc("sources.yaml", 1, 1)
        for name, oc in old_cols.items():
            nc = new_cols.get(name)
            if nc is None:
                registry.run(registry.COLUMN_GONE, self, ColumnGone(ref, old_path, oc, loc))
                continue
            registry.run(registry.COLUMN, self, ColumnPair(ref, oc, nc, old_path, new_path, loc, loc, top, True))
            if oc.type == nc.type == "STRUCT":
                self._leftovers(
                    ref, _by_name(oc.fields), _by_name(nc.fields), old_path + (name,), new_path + (name,), False
                )
        for name, nc in new_cols.items():
            if name not in old_cols:
                self._added(ref, new_path, nc, loc, top)
