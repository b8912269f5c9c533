"""Compare two snapshots and classify every difference under a compatibility rule (`datahem/compiler/rules.py`).

Fields are matched the way protobuf identifies them: by name first (so a changed number is seen as such), then the
remaining ones by number (a renamed field, or a reused number), the rest are removed or added. Message-typed fields
are followed into their message, so nested messages are compared wherever a table reaches them. Columns are compared
beside their fields (a field's column is its `name` option or its name, none when hidden), and columns no field
explains (DataHem's metadata columns, the backup and dead-letter tables) by name.

Every change carries the idempotent schema steps that would apply it to an existing table (`Step`); they are used for
migrations, access changes and accepted breaks (`datahem/compiler/evolution/migrations.py` writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datahem.compiler import rules
from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.evolution.snapshot import Root, Snapshot
from datahem.compiler.model.resolve import ProtoIndex
from datahem.compiler.vocabulary import COLUMN, TABLE

_ALIASES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}
WIDENINGS = frozenset(
    {
        ("INT64", "NUMERIC"),
        ("INT64", "BIGNUMERIC"),
        ("INT64", "FLOAT64"),
        ("NUMERIC", "BIGNUMERIC"),
        ("NUMERIC", "FLOAT64"),
    }
)
# protobuf types that read each other's values, on the wire and in proto3 JSON
_WIRE_GROUP = {
    "int32": "varint",
    "int64": "varint",
    "uint32": "varint",
    "uint64": "varint",
    "sint32": "zigzag",
    "sint64": "zigzag",
    "fixed32": "fixed32",
    "sfixed32": "fixed32",
    "fixed64": "fixed64",
    "sfixed64": "fixed64",
}
_PROTO_TYPES = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    10: "group",
    11: "message",
    12: "bytes",
    13: "uint32",
    14: "enum",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
_OPTIONS_FIELD = 8
_MESSAGE_OPTIONS = 7
_PLACEHOLDER = "datahem:category/"


def bq_type(name: object) -> str:
    text = str(name).upper()
    return _ALIASES.get(text, text)


def category_of(col: dict) -> str | None:
    names = (col.get("policyTags") or {}).get("names") or []
    return names[0].removeprefix(_PLACEHOLDER) if names else None


@dataclass(frozen=True)
class Step:
    """One idempotent schema change of one table: a SQL statement (top-level columns) or a schema-patch operation
    (nested fields, policy tags), which `datahem migrate` applies through the BigQuery API."""

    table: str
    sql: str = ""
    patch: dict | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Change:
    rule: str
    target: str  # what accepted_breaks names: message.field, enum.VALUE, dataset.table.column, source, ...
    summary: str  # one line for the plan
    loc: Loc
    fix: str = ""
    table: str = ""  # dataset.table the change concerns
    column: str = ""  # column path within the table
    kind: str = "changed"  # added | changed | removed (the plan's per-table listing)
    source: str = ""
    steps: tuple[Step, ...] = ()
    accepted: str | None = None  # the reason from accepted_breaks

    @property
    def classification(self) -> str:
        return RULES[self.rule].classification

    @property
    def breaking(self) -> bool:
        return self.classification == rules.BREAKING

    @property
    def blocking(self) -> bool:
        return self.breaking and self.accepted is None

    def message(self) -> str:
        text = self.summary
        if self.fix:
            text += f"; {self.fix}"
        if RULES[self.rule].acceptable:
            text += (
                f"; or accept the break in sources.yaml: `accepted_breaks: [{{rule: {self.rule}, "
                f'target: {self.target}, reason: "..."}}]`'
            )
        return text


@dataclass(frozen=True)
class _Field:
    name: str
    number: int
    json_name: str
    type: str
    type_name: str
    repeated: bool
    required: bool
    column: str | None  # None when hidden
    loc: Loc
    option_loc: Loc


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def fields_of(index: ProtoIndex, message: str) -> list[_Field]:
    msg = index.messages[message]
    out = []
    for i, f in enumerate(msg.proto.field):
        has = f.options.HasExtension(COLUMN)
        o = f.options.Extensions[COLUMN] if has else None
        path = msg.path + (2, i)
        loc = index.loc(msg.file, path)
        option_loc = index.loc(msg.file, path + (_OPTIONS_FIELD, COLUMN.number)) if has else loc
        out.append(
            _Field(
                name=f.name,
                number=f.number,
                json_name=f.json_name or _camel(f.name),
                type=_PROTO_TYPES.get(f.type, str(f.type)),
                type_name=f.type_name.lstrip("."),
                repeated=f.label == 3,
                required=bool(o and o.required),
                column=None if (o and o.hidden) else ((o.name if o else "") or f.name),
                loc=loc,
                option_loc=option_loc,
            )
        )
    return out


def _version(message: str) -> tuple[str, int] | None:
    """`grocer.commerce.v2.Order` → (`grocer.commerce.*.Order`, 2); None without a `vN` package suffix."""
    package, _, name = message.rpartition(".")
    base, _, version = package.rpartition(".")
    if len(version) > 1 and version[0] == "v" and version[1:].isdigit():
        return f"{base}.*.{name}", int(version[1:])
    return None


class Comparer:
    """Collects the changes from `old` to `new`. Locations point into the current project: the proto line of the
    field or message, the table option, or the source in sources.yaml."""

    def __init__(
        self,
        old: Snapshot,
        new: Snapshot,
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

    # -- recording ------------------------------------------------------------------------------------------------
    def add(self, rule: str, target: str, summary: str, loc: Loc, **extra) -> None:
        key = (rule, target + "@" + extra.get("table", ""))
        if key in self._seen:
            return
        self._seen.add(key)
        self.changes.append(Change(rule, target, summary, loc, **extra))

    # -- locations ------------------------------------------------------------------------------------------------
    def _message_loc(self, message: str) -> Loc:
        index = self.new.index
        msg = index.messages.get(message) if index else None
        return index.loc(msg.file, msg.path) if msg else self.sources_loc

    def _table_loc(self, message: str) -> Loc:
        index = self.new.index
        msg = index.messages.get(message) if index else None
        if msg is None:
            return self.sources_loc
        option = msg.path + (_MESSAGE_OPTIONS, TABLE.number)
        return index.loc(msg.file, option if (msg.file, option) in index.locations else msg.path)

    # -- the whole project ----------------------------------------------------------------------------------------
    def run(self) -> list[Change]:
        if self.old.empty:
            return []
        old_roots, new_roots = self.old.roots, self.new.roots
        paired_new: set[str] = set()
        by_table = {r.table: m for m, r in new_roots.items()}
        by_version = {}
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
                self.add(
                    rules.MESSAGE_RENAMED,
                    message,
                    f"table `{root.table}` now holds `{renamed}` instead of `{message}`: its topic, subscriptions and "
                    f"processed stream are renamed with it, so producers and stream consumers must move",
                    self._message_loc(renamed),
                    fix=f"keep the message name `{message}`",
                    table=root.table,
                )
                self._root(root, new_roots[renamed])
                continue
            version = _version(message)
            newer = sorted(v for v in by_version.get(version[0], ()) if v[0] > version[1]) if version else []
            if newer:
                _, successor = newer[-1]
                paired_new.add(successor)
                self.retired.append(root.table)
                self.add(
                    rules.MAJOR_VERSION_ADDED,
                    message,
                    f"`{message}` moves to `{successor}`: a new table `{new_roots[successor].table}` and topic; "
                    f"`{root.table}` keeps its data and stops receiving events (Terraform forgets it, never deletes it)",
                    self._message_loc(successor),
                    table=new_roots[successor].table,
                    kind="added",
                )
                continue
            self.retired.append(root.table)
            for source in root.sources:
                if source in self.new.source_messages:
                    self.add(
                        rules.MESSAGE_RENAMED,
                        message,
                        f"source `{source}` now carries `{self.new.source_messages[source]}` instead of `{message}`: "
                        f"a different topic and table; `{root.table}` keeps its data and stops receiving events",
                        self.source_locs.get(source, self.sources_loc),
                        fix=f"keep `message: {message}` and add a new source for the new message",
                        source=source,
                        table=root.table,
                    )
        for message, root in sorted(new_roots.items()):
            if message not in paired_new and message not in old_roots:
                self.add(
                    rules.TABLE_ADDED,
                    message,
                    f"new table `{root.table}` for `{message}`",
                    self._message_loc(message),
                    table=root.table,
                    kind="added",
                )
        self._system_tables()
        self._sources()
        self._categories()
        return self.changes

    def _sources(self) -> None:
        for source, message in sorted(self.old.source_messages.items()):
            if source not in self.new.source_messages:
                self.add(
                    rules.SOURCE_REMOVED,
                    source,
                    f"source `{source}` (`{message}`) is gone: its routes stop accepting events and its pipeline is "
                    f"drained",
                    self.sources_loc,
                    fix=f"keep source `{source}`",
                    source=source,
                )
                continue
            gone = sorted(self.old.routes.get(source, set()) - self.new.routes.get(source, set()))
            for route in gone:
                self.add(
                    rules.ROUTE_REMOVED,
                    f"{source}:{route}",
                    f"source `{source}` no longer accepts `{route}`: producers using it would be refused",
                    self.source_locs.get(source, self.sources_loc),
                    fix="keep the route (add new ones beside it)",
                    source=source,
                )

    def _categories(self) -> None:
        if not self.old.categories or not self.new.categories:
            return
        for name in sorted(set(self.old.categories) | set(self.new.categories)):
            a, b = self.old.categories.get(name), self.new.categories.get(name)
            if a == b:
                continue
            if a is None or b is None:
                what = "added" if a is None else "removed"
            else:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                what = "changed: " + ", ".join(f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in keys)
            self.add(
                rules.CATEGORY_ACCESS_CHANGED,
                name,
                f"category `{name}` {what}",
                self.category_locs.get(name, self.sources_loc),
                kind="changed",
            )

    # -- one table ------------------------------------------------------------------------------------------------
    def _root(self, old: Root, new: Root) -> None:
        ref = new.table
        if old.table != ref:
            dataset, _, name = old.table.partition(".")
            self.add(
                rules.TABLE_WOULD_BE_REPLACED,
                old.message,
                f"`{new.message}` now maps to table `{ref}` instead of `{old.table}`: Terraform would delete "
                f"`{old.table}` with its data and create a new table",
                self._table_loc(new.message),
                fix=f'keep it with `option (datahem.table) = {{name: "{name}" dataset: "{dataset}"}}`, or move the '
                f"message to a new major version (package `...v2`) to start a new table",
                table=ref,
            )
            return
        self._table_options(old, new)
        old_cols = self.old.tables.get(ref)
        new_cols = self.new.tables.get(ref)
        if old_cols is None or new_cols is None or self.old.index is None or self.new.index is None:
            return
        if old.message not in self.old.index.messages or new.message not in self.new.index.messages:
            return
        self._message(ref, old.message, new.message, _by_name(old_cols), _by_name(new_cols), (), (), top=True)

    def _table_options(self, old: Root, new: Root) -> None:
        a, b = old.options, new.options
        if not a or not b:
            return
        ref, loc = new.table, self._table_loc(new.message)
        pa, pb = a.get("partitioning") or {}, b.get("partitioning") or {}
        if (pa.get("type"), pa.get("field")) != (pb.get("type"), pb.get("field")):
            self.add(
                rules.TABLE_WOULD_BE_REPLACED,
                f"{ref}:partitioning",
                f"partitioning of `{ref}` changes from {_describe(pa)} to {_describe(pb)}: a table's partitioning "
                f"cannot change in place, Terraform would replace the table and its data would be lost",
                loc,
                fix="keep the partitioning, or move the message to a new major version (package `...v2`) to start a "
                "new table",
                table=ref,
            )
        if list(a.get("clustering") or []) != list(b.get("clustering") or []):
            self.add(
                rules.CLUSTERING_CHANGED,
                f"{ref}:clustering",
                f"clustering of `{ref}`: {a.get('clustering') or 'none'} → {b.get('clustering') or 'none'}",
                loc,
                table=ref,
            )
        for key, label in (("description", "description"), ("labels", "labels")):
            if a.get(key) != b.get(key):
                self.add(rules.TABLE_OPTIONS_CHANGED, f"{ref}:{key}", f"{label} of `{ref}` changed", loc, table=ref)
        for key in ("expiration_days", "require_filter"):
            if pa.get(key) != pb.get(key):
                self.add(
                    rules.TABLE_OPTIONS_CHANGED,
                    f"{ref}:{key}",
                    f"partition {key.replace('_', ' ')} of `{ref}`: {pa.get(key)} → {pb.get(key)}",
                    loc,
                    table=ref,
                )

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
        old_cols: dict | None,
        new_cols: dict | None,
        old_path: tuple[str, ...],
        new_path: tuple[str, ...],
        top: bool,
    ) -> None:
        """Compare one message pair; with column context (the STRUCT's fields on both sides) also its columns."""
        first = (old_type, new_type) not in self._pairs
        self._pairs.add((old_type, new_type))
        if not first and old_cols is None:
            return
        old_fields = fields_of(self.old.index, old_type)
        new_fields = fields_of(self.new.index, new_type)
        new_by_name = {f.name: f for f in new_fields}
        pairs: list[tuple[_Field, _Field]] = []
        rest_old = []
        for f in old_fields:
            g = new_by_name.get(f.name)
            if g is not None:
                pairs.append((f, g))
            else:
                rest_old.append(f)
        matched_new = {g.name for _, g in pairs}
        new_by_number = {g.number: g for g in new_fields if g.name not in matched_new}
        removed: list[_Field] = []
        reused: list[tuple[_Field, _Field]] = []
        for f in rest_old:
            g = new_by_number.pop(f.number, None)
            if g is None:
                removed.append(f)
            elif f.type == g.type or _WIRE_GROUP.get(f.type, f.type) == _WIRE_GROUP.get(g.type, g.type):
                pairs.append((f, g))  # a renamed field
                matched_new.add(g.name)
            else:
                reused.append((f, g))  # another field under an old number: for the table, a removal and an addition
        msg_loc = self._message_loc(new_type)
        used_old: set[str] = set()
        used_new: set[str] = set()
        for f, g in pairs:
            target = f"{old_type}.{f.name}"
            if first:
                self._field(old_type, new_type, f, g, target)
            oc = old_cols.get(f.column) if (old_cols is not None and f.column) else None
            nc = new_cols.get(g.column) if (new_cols is not None and g.column) else None
            if oc is not None:
                used_old.add(f.column)
            if nc is not None:
                used_new.add(g.column)
            if old_cols is not None and new_cols is not None and f.repeated == g.repeated:
                self._column_pair(ref, oc, nc, old_path, new_path, g, top, tighten=f.required == g.required)
            if (
                f.type == g.type == "message"
                and not f.type_name.startswith("google.protobuf.")
                and not g.type_name.startswith("google.protobuf.")
                and f.repeated == g.repeated
            ):
                both = oc is not None and nc is not None and bq_type(oc.get("type")) == bq_type(nc.get("type"))
                nested = both and bq_type(oc.get("type")) == "STRUCT"
                if nested or (f.type_name, g.type_name) not in self._pairs:
                    self._message(
                        ref,
                        f.type_name,
                        g.type_name,
                        _by_name(oc.get("fields", [])) if nested else None,
                        _by_name(nc.get("fields", [])) if nested else None,
                        old_path + (oc["name"],) if nested else old_path,
                        new_path + (nc["name"],) if nested else new_path,
                        top=False,
                    )
        for f, g in reused:
            oc = old_cols.get(f.column) if (old_cols is not None and f.column) else None
            if oc is not None:
                used_old.add(f.column)
            self.add(
                rules.FIELD_NUMBER_REUSED,
                f"{old_type}.{f.name}",
                f"number {f.number} of `{new_type}` was `{f.type} {f.name}` and is now `{g.type} {g.name}`: old "
                f"bytes would be read as the new field",
                g.loc,
                fix=f"give `{g.name}` a new number and `reserved {f.number};`",
                table=ref if oc is not None else "",
                column=".".join(old_path + (oc["name"],)) if oc is not None else "",
                kind="removed",
                steps=self._retain(ref, old_path + (oc["name"],), oc) if oc is not None else (),
            )
        for f in removed:
            oc = old_cols.get(f.column) if (old_cols is not None and f.column) else None
            if oc is not None:
                used_old.add(f.column)
            steps = self._retain(ref, old_path + (oc["name"],), oc) if oc is not None else ()
            if first or oc is not None:
                self.add(
                    rules.FIELD_REMOVED,
                    f"{old_type}.{f.name}",
                    f"field `{f.name}` = {f.number} of `{old_type}` was removed"
                    + (f" (column `{'.'.join(old_path + (oc['name'],))}` of `{ref}`)" if oc is not None else ""),
                    msg_loc,
                    fix="keep it (`[deprecated = true]` tells producers to stop sending it), or move the message to a "
                    "new major version (package `...v2`) to start a new table",
                    table=ref if oc is not None else "",
                    column=".".join(old_path + (oc["name"],)) if oc is not None else "",
                    kind="removed",
                    steps=steps,
                )
        if old_cols is not None and new_cols is not None:
            for g in new_fields:
                if g.name in matched_new:
                    continue
                nc = new_cols.get(g.column) if g.column else None
                if nc is not None:
                    used_new.add(g.column)
                    self._added(ref, new_path, nc, g.option_loc if g.required else g.loc, top)
            self._leftovers(
                ref,
                {k: v for k, v in old_cols.items() if k not in used_old},
                {k: v for k, v in new_cols.items() if k not in used_new},
                old_path,
                new_path,
                top,
            )

    def _field(self, old_type: str, new_type: str, f: _Field, g: _Field, target: str) -> None:
        """Wire and JSON rules of one matched field pair (once per message pair)."""
        if f.name == g.name and f.number != g.number:
            self.add(
                rules.FIELD_NUMBER_CHANGED,
                target,
                f"field `{f.name}` of `{new_type}` changes number {f.number} → {g.number}",
                g.loc,
                fix=f"give it back number {f.number}",
            )
        compatible = f.type == g.type or _WIRE_GROUP.get(f.type, f.type) == _WIRE_GROUP.get(g.type, g.type)
        if f.name != g.name:
            self.add(
                rules.FIELD_RENAMED,
                target,
                f"field {f.number} of `{new_type}` is renamed `{f.name}` → `{g.name}`: JSON producers send "
                f"`{f.name}` (or `{f.json_name}`)",
                g.loc,
                fix=f"keep the name `{f.name}`",
            )
        elif f.json_name != g.json_name:
            self.add(
                rules.JSON_NAME_CHANGED,
                target,
                f"JSON name of `{new_type}.{g.name}` changes `{f.json_name}` → `{g.json_name}`",
                g.loc,
                fix=f'keep `json_name = "{f.json_name}"`',
            )
        if not compatible:
            self.add(
                rules.FIELD_TYPE_CHANGED,
                target,
                f"field `{new_type}.{g.name}` changes type {f.type} → {g.type}: values written before cannot be "
                f"read as the new type",
                g.loc,
                fix="keep the type and add a new field for the new one (a `type` option widens the column only)",
            )
        if f.repeated != g.repeated:
            self.add(
                rules.FIELD_CARDINALITY_CHANGED,
                target,
                f"field `{new_type}.{g.name}` changes from {'repeated' if f.repeated else 'singular'} to "
                f"{'repeated' if g.repeated else 'singular'}: its JSON shape and its column mode change",
                g.loc,
                fix="keep it as it was and add a new field, or move the message to a new major version "
                "(package `...v2`) to start a new table",
            )
        if g.required and not f.required:
            self.add(
                rules.FIELD_MADE_REQUIRED,
                target,
                f"field `{new_type}.{g.name}` becomes required: events without it would be dead-lettered and the "
                f"column cannot become NOT NULL",
                g.option_loc,
                fix="remove `required: true`, or move the message to a new major version (package `...v2`)",
            )
        if f.type == g.type == "enum":
            self._enum(f.type_name, g.type_name, g)

    def _enum(self, old_name: str, new_name: str, g: _Field) -> None:
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
            if name not in new_values:
                self.add(
                    rules.ENUM_VALUE_REMOVED,
                    f"{old_name}.{name}",
                    f"value `{name}` = {number} of enum `{new_name}` was removed or renamed: events sending it would "
                    f"be rejected and stored rows still hold it",
                    g.loc,
                    fix=f"keep `{name} = {number};` (document it as no longer used)",
                )
            elif new_values[name] != number:
                self.add(
                    rules.ENUM_VALUE_RENUMBERED,
                    f"{old_name}.{name}",
                    f"value `{name}` of enum `{new_name}` changes number {number} → {new_values[name]}",
                    g.loc,
                    fix=f"give it back number {number}",
                )
        for name, number in new_values.items():
            if name not in old_values:
                self.add(
                    rules.ENUM_VALUE_ADDED,
                    f"{new_name}.{name}",
                    f"enum `{new_name}` gains value `{name}` = {number}",
                    g.loc,
                    kind="added",
                )

    def _column_pair(
        self,
        ref: str,
        oc: dict | None,
        nc: dict | None,
        old_path: tuple,
        new_path: tuple,
        g: _Field,
        top: bool,
        tighten: bool,
    ) -> None:
        if oc is None and nc is None:
            return
        if nc is None:
            path = ".".join(old_path + (oc["name"],))
            self.add(
                rules.COLUMN_REMOVED,
                f"{ref}.{path}",
                f"column `{path}` of `{ref}` disappears while field `{g.name}` stays (hidden?)",
                g.option_loc,
                fix="remove `hidden: true`",
                table=ref,
                column=path,
                kind="removed",
                steps=self._retain(ref, old_path + (oc["name"],), oc),
            )
            return
        if oc is None:
            self._added(ref, new_path, nc, g.option_loc if g.required else g.loc, top)
            return
        self._compare_columns(ref, oc, nc, old_path, new_path, g.option_loc, g.loc, top, tighten)

    def _compare_columns(
        self,
        ref: str,
        oc: dict,
        nc: dict,
        old_path: tuple,
        new_path: tuple,
        option_loc: Loc,
        loc: Loc,
        top: bool,
        tighten: bool = True,
    ) -> None:
        """One column on both sides. `tighten` is False when the field-level FIELD_MADE_REQUIRED already reported
        the column becoming REQUIRED."""
        old_full = old_path + (oc["name"],)
        new_full = new_path + (nc["name"],)
        path = ".".join(new_full)
        if old_full != new_full:
            steps: tuple[Step, ...] = ()
            if top:
                steps = (Step(ref, f"ALTER TABLE `{ref}` RENAME COLUMN IF EXISTS `{oc['name']}` TO `{nc['name']}`"),)
            else:
                steps = (
                    *self._retain(ref, old_full, oc),
                    Step(ref, patch={"op": "add_field", "path": list(new_path), "field": nc}),
                )
            self.add(
                rules.COLUMN_RENAMED,
                f"{ref}.{'.'.join(old_full)}",
                f"column `{'.'.join(old_full)}` of `{ref}` is renamed `{nc['name']}`: queries reading "
                f"`{oc['name']}` would fail",
                option_loc,
                fix=f'keep the column name with `[(datahem.column) = {{name: "{oc["name"]}"}}]`',
                table=ref,
                column=path,
                steps=steps,
            )
        ot, nt = bq_type(oc.get("type")), bq_type(nc.get("type"))
        om, nm = (oc.get("mode") or "NULLABLE").upper(), (nc.get("mode") or "NULLABLE").upper()
        if ot != nt:
            if (ot, nt) in WIDENINGS and top and om != "REPEATED":
                self.add(
                    rules.COLUMN_TYPE_WIDENED,
                    f"{ref}.{path}",
                    f"column `{path}` of `{ref}` widens {ot} → {nt}",
                    option_loc,
                    table=ref,
                    column=path,
                    steps=(Step(ref, f"ALTER TABLE `{ref}` ALTER COLUMN `{nc['name']}` SET DATA TYPE {nt}"),),
                )
            else:
                why = (
                    "BigQuery widens only top-level, non-repeated columns"
                    if (ot, nt) in WIDENINGS
                    else "BigQuery cannot convert the stored values"
                )
                self.add(
                    rules.COLUMN_TYPE_CHANGED,
                    f"{ref}.{path}",
                    f"column `{path}` of `{ref}` changes type {ot} → {nt}: {why}",
                    option_loc if option_loc != loc else loc,
                    fix="keep the type and add a new field for the new type, or move the message to a new major "
                    "version (package `...v2`) to start a new table",
                    table=ref,
                    column=path,
                )
            return
        if om != nm:
            if (om, nm) == ("REQUIRED", "NULLABLE"):
                step = (
                    Step(ref, f"ALTER TABLE `{ref}` ALTER COLUMN `{nc['name']}` DROP NOT NULL")
                    if top
                    else Step(ref, patch={"op": "relax", "path": list(new_full)})
                )
                self.add(
                    rules.COLUMN_RELAXED,
                    f"{ref}.{path}",
                    f"column `{path}` of `{ref}` becomes NULLABLE",
                    option_loc,
                    table=ref,
                    column=path,
                    steps=(step,),
                )
            elif nm == "REQUIRED" and om == "NULLABLE":
                if tighten:
                    self.add(
                        rules.FIELD_MADE_REQUIRED,
                        f"{ref}.{path}",
                        f"column `{path}` of `{ref}` becomes REQUIRED: BigQuery cannot make an existing column NOT NULL",
                        option_loc,
                        fix="remove `required: true`, or move the message to a new major version (package `...v2`)",
                        table=ref,
                        column=path,
                    )
            else:
                self.add(
                    rules.FIELD_CARDINALITY_CHANGED,
                    f"{ref}.{path}",
                    f"column `{path}` of `{ref}` changes mode {om} → {nm}",
                    loc,
                    fix="keep the mode, or move the message to a new major version (package `...v2`)",
                    table=ref,
                    column=path,
                )
                return
        if (oc.get("description") or "") != (nc.get("description") or ""):
            description = nc.get("description") or ""
            step = (
                Step(
                    ref,
                    f"ALTER TABLE `{ref}` ALTER COLUMN `{nc['name']}` SET OPTIONS (description = {_sql(description)})",
                )
                if top
                else Step(ref, patch={"op": "set_description", "path": list(new_full), "description": description})
            )
            self.add(
                rules.COLUMN_DESCRIPTION_CHANGED,
                f"{ref}.{path}",
                f"description of column `{path}` of `{ref}` changed",
                loc,
                table=ref,
                column=path,
                steps=(step,),
            )
        oa, na = category_of(oc), category_of(nc)
        if oa != na:
            self.add(
                rules.CATEGORY_CHANGED,
                f"{ref}.{path}",
                f"column `{path}` of `{ref}`: category {oa or 'none'} → {na or 'none'} (policy tag; who may read "
                f"it changes)",
                option_loc,
                table=ref,
                column=path,
                steps=(Step(ref, patch={"op": "set_policy_tag", "path": list(new_full), "category": na}),),
            )

    def _added(self, ref: str, new_path: tuple, nc: dict, loc: Loc, top: bool) -> None:
        path = ".".join(new_path + (nc["name"],))
        mode = (nc.get("mode") or "NULLABLE").upper()
        if mode == "REQUIRED":
            self.add(
                rules.REQUIRED_COLUMN_ADDED,
                f"{ref}.{path}",
                f"new column `{path}` of `{ref}` is REQUIRED: existing rows have no value for it",
                loc,
                fix="add it without `required: true`, or move the message to a new major version (package `...v2`)",
                table=ref,
                column=path,
                kind="added",
            )
            return
        tags = tuple(
            Step(ref, patch={"op": "set_policy_tag", "path": list(new_path) + list(p), "category": c})
            for p, c in _tagged(nc)
        )
        if top:
            steps = (Step(ref, f"ALTER TABLE `{ref}` ADD COLUMN IF NOT EXISTS {ddl_column(nc)}"), *tags)
            self.add(
                rules.COLUMN_ADDED,
                f"{ref}.{path}",
                f"new column `{path}` {ddl_type(nc)} in `{ref}`",
                loc,
                table=ref,
                column=path,
                kind="added",
                steps=steps,
            )
        else:
            self.add(
                rules.NESTED_COLUMN_ADDED,
                f"{ref}.{path}",
                f"new field `{path}` {ddl_type(nc)} inside a STRUCT of `{ref}`",
                loc,
                table=ref,
                column=path,
                kind="added",
                steps=(Step(ref, patch={"op": "add_field", "path": list(new_path), "field": nc}),),
            )

    def _leftovers(self, ref: str, old_cols: dict, new_cols: dict, old_path: tuple, new_path: tuple, top: bool):
        """Columns no field explains (metadata columns, system tables): matched by name."""
        loc = Loc("sources.yaml", 1, 1)
        for name, oc in old_cols.items():
            nc = new_cols.get(name)
            if nc is None:
                path = ".".join(old_path + (name,))
                self.add(
                    rules.COLUMN_REMOVED,
                    f"{ref}.{path}",
                    f"column `{path}` of `{ref}` disappears",
                    loc,
                    table=ref,
                    column=path,
                    kind="removed",
                    steps=self._retain(ref, old_path + (name,), oc),
                )
                continue
            self._compare_columns(ref, oc, nc, old_path, new_path, loc, loc, top)
            if bq_type(oc.get("type")) == bq_type(nc.get("type")) == "STRUCT":
                self._leftovers(
                    ref,
                    _by_name(oc.get("fields", [])),
                    _by_name(nc.get("fields", [])),
                    old_path + (name,),
                    new_path + (name,),
                    False,
                )
        for name, nc in new_cols.items():
            if name not in old_cols:
                self._added(ref, new_path, nc, loc, top)

    def _retain(self, ref: str, path: tuple, oc: dict) -> tuple[Step, ...]:
        """What an accepted removal does to the table: the column stays with its data (dropping it is a decision for
        a person, with `ALTER TABLE ... DROP COLUMN`), and is relaxed when REQUIRED, since new rows leave it empty."""
        if (oc.get("mode") or "").upper() != "REQUIRED":
            return ()
        if len(path) == 1:
            return (Step(ref, f"ALTER TABLE `{ref}` ALTER COLUMN `{path[0]}` DROP NOT NULL"),)
        return (Step(ref, patch={"op": "relax", "path": list(path)}),)


def _by_name(fields: list) -> dict:
    return {f["name"]: f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)}


def _describe(p: dict) -> str:
    return f"{p.get('type')} on `{p['field']}`" if p.get("field") else f"{p.get('type')} by ingestion time"


def _tagged(col: dict, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """Policy tags inside a new column, as (path from the column's parent, category)."""
    path = prefix + (col["name"],)
    out = [(path, category_of(col))] if category_of(col) else []
    for f in col.get("fields", []) or []:
        out.extend(_tagged(f, path))
    return out


def _sql(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def ddl_type(col: dict) -> str:
    t = bq_type(col.get("type"))
    if t == "STRUCT":
        t = "STRUCT<" + ", ".join(ddl_column(f, nested=True) for f in col.get("fields", [])) + ">"
    return f"ARRAY<{t}>" if (col.get("mode") or "").upper() == "REPEATED" else t


def ddl_column(col: dict, nested: bool = False) -> str:
    """A column definition for `ADD COLUMN`, from its schema JSON: NOT NULL only inside a new STRUCT (BigQuery
    allows REQUIRED fields as part of a new RECORD, never a new REQUIRED column)."""
    parts = [f"`{col['name']}`", ddl_type(col)]
    if nested and (col.get("mode") or "").upper() == "REQUIRED":
        parts.append("NOT NULL")
    if col.get("description"):
        parts.append(f"OPTIONS(description = {_sql(col['description'])})")
    return " ".join(parts)
