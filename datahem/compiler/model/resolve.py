"""Resolve the raw model (sources.yaml) and the compiled descriptors into the frozen model.

Reference problems (unknown message, recursion) are reported here because resolution cannot go on without
them; every other check lives in `datahem.compiler.validate`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pb2
from google.protobuf.message import Message

from datahem.compiler import options, rules, suggest
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.model import raw as R
from datahem.compiler.model.resolved import (
    MAX_COLUMNS,
    MAX_EXPANDED_DEPTH,
    MAX_EXPANDED_FIELDS,
    MAX_NESTING,
    MAX_RECURSION_DEPTH,
    METADATA_COLUMNS,
    BigQuerySettings,
    Category,
    Column,
    EnumType,
    Environment,
    Model,
    Partitioning,
    Source,
    Table,
    Transforms,
    all_columns,
)
from datahem.compiler.sources import KINDS
from datahem.compiler.vocabulary import COLUMN, ONEOF, TABLE, VOCABULARY_IMPORT, options_pb2
from datahem.runtime import typemap

FD = descriptor_pb2.FieldDescriptorProto
_PROTO_TYPES = {
    FD.TYPE_DOUBLE: "double",
    FD.TYPE_FLOAT: "float",
    FD.TYPE_INT64: "int64",
    FD.TYPE_UINT64: "uint64",
    FD.TYPE_INT32: "int32",
    FD.TYPE_FIXED64: "fixed64",
    FD.TYPE_FIXED32: "fixed32",
    FD.TYPE_BOOL: "bool",
    FD.TYPE_STRING: "string",
    FD.TYPE_GROUP: "message",  # a group is a nested message with delimited encoding: a STRUCT like any other
    FD.TYPE_MESSAGE: "message",
    FD.TYPE_BYTES: "bytes",
    FD.TYPE_UINT32: "uint32",
    FD.TYPE_ENUM: "enum",
    FD.TYPE_SFIXED32: "sfixed32",
    FD.TYPE_SFIXED64: "sfixed64",
    FD.TYPE_SINT32: "sint32",
    FD.TYPE_SINT64: "sint64",
}
_GRANULARITY = {0: "DAY", 1: "HOUR", 2: "DAY", 3: "MONTH", 4: "YEAR"}
_UNKNOWN_FIELDS = {0: "REJECT", 1: "REJECT", 2: "IGNORE", 3: "KEEP"}
_OPTIONS_FIELD = 8  # number of `options` in DescriptorProto-like messages
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)\d*)?\Z")
_METADATA_COUNT = len(list(all_columns(METADATA_COLUMNS)))  # columns every event table has before its own
# a field without `(datahem.column)`: its options (read only) and what they resolve to, made once
_NO_OPTIONS = options_pb2.ColumnOptions()
_NO_TRANSFORMS = options.resolve(_NO_OPTIONS)


@dataclass(frozen=True)
class _Expanded:
    """A message's columns with what they add to a table: visible columns and the depth of the deepest visible STRUCT
    (as if the message's fields were visible and at depth 1), fields and depth counting hidden ones."""

    columns: tuple[Column, ...]
    visible: int
    nesting: int
    fields: int
    depth: int

    @classmethod
    def of(cls, columns: tuple[Column, ...], known: dict[int, _Expanded]) -> _Expanded:
        """`known`: the expansions made so far, by the identity of their columns (a message's nested messages were
        expanded before it: their columns are not walked again; any others are, recursively, at most
        MAX_EXPANDED_DEPTH levels); this one is added."""
        visible = nesting = fields = depth = 0
        for c in columns:
            shown = not c.hidden
            fields += 1
            visible += shown
            if shown and c.bq_type == "STRUCT":
                nesting = max(nesting, 1)
            if c.fields:
                sub = known.get(id(c.fields)) or cls.of(c.fields, known)
                fields += sub.fields
                depth = max(depth, 1 + sub.depth)
                if shown:
                    visible += sub.visible
                    if sub.nesting:
                        nesting = max(nesting, 1 + sub.nesting)
        known[id(columns)] = out = cls(columns, visible, nesting, fields, depth)
        return out


@dataclass
class _Budget:
    """What a table's expansion has used of BigQuery's limits so far; `stopped` once one was exceeded (and
    reported): the rest of the table is not expanded."""

    table: str
    loc: Loc
    visible: int
    fields: int = 0
    stopped: bool = False


@dataclass(frozen=True)
class _Msg:
    proto: descriptor_pb2.DescriptorProto
    file: str
    path: tuple[int, ...]


class ProtoIndex:
    """Every message and enum of a FileDescriptorSet by full name, with source positions."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet):
        self.messages: dict[str, _Msg] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.enum_files: dict[str, str] = {}
        self._recursion: dict[str, bool] = {}
        self._refs: dict[str, tuple[str, ...]] = {}
        self._reachable: dict[str, frozenset[str]] = {}
        # where each message, field and DataHem option is, by file and path, as the position of its Location in the
        # file's SourceCodeInfo (a number, not the Location; and keyed per file, not by (file, path): tens of
        # thousands of those objects would stay alive for the cyclic collector to scan, paths of numbers do not)
        self.locations: dict[str, dict[tuple[int, ...], int]] = {}
        # DataHem options of an element, brace form `(datahem.column) = {...}` and dotted form
        # `(datahem.column).category = "x"`: (file, path of the extension) -> [(path inside it, location)]
        self.option_spans: dict[tuple[str, tuple[int, ...]], list[tuple[tuple[int, ...], tuple[int, int]]]] = {}
        self.files = {f.name: f for f in fds.file}
        # each file's locations, read once: reaching them through the file takes longer than taking the one wanted
        self._source_locations = {f.name: f.source_code_info.location for f in fds.file}
        table_number, column_number = TABLE.number, COLUMN.number
        for f in fds.file:
            located = self.locations[f.name] = {}
            for i, loc in enumerate(f.source_code_info.location):
                # a slice copies the path in one step; tuple() of the repeated field reads it number by number, and
                # took a third of this loop (a large project has 100,000 locations)
                path = tuple(loc.path[:])
                # only messages, fields and their DataHem options are ever looked up, at even paths ((kind, index)
                # pairs, (options, extension)); skip the rest (most of them: an odd path is a part, as a field's type)
                if len(path) % 2 == 0 and path and (path[-2] in (2, 3, 4) or path[-1] in (table_number, column_number)):
                    located[path] = i
                if table_number not in path and column_number not in path:
                    continue  # most locations: not inside a DataHem option
                ext = _extension_at(path)
                if ext is not None:
                    key = (f.name, path[: ext + 1])
                    self.option_spans.setdefault(key, []).append((path[ext + 1 :], (loc.span[0], loc.span[1])))
            prefix = f".{f.package}" if f.package else ""
            for i, m in enumerate(f.message_type):
                self._add(f.name, prefix, m, (4, i))
            for e in f.enum_type:
                self.enums[f"{prefix}.{e.name}".lstrip(".")] = e
                self.enum_files[f"{prefix}.{e.name}".lstrip(".")] = f.name

    def _add(self, file: str, prefix: str, m: descriptor_pb2.DescriptorProto, path: tuple[int, ...]) -> None:
        todo = [(prefix, m, path)]  # a loop, not recursion: declarations may nest thousands deep
        while todo:
            prefix, m, path = todo.pop()
            name = f"{prefix}.{m.name}"
            self.messages[name.lstrip(".")] = _Msg(m, file, path)
            todo.extend((name, n, path + (3, i)) for i, n in enumerate(m.nested_type))
            for e in m.enum_type:
                self.enums[f"{name}.{e.name}".lstrip(".")] = e
                self.enum_files[f"{name}.{e.name}".lstrip(".")] = file

    def _location(self, file: str, path: tuple[int, ...]) -> descriptor_pb2.SourceCodeInfo.Location | None:
        i = self.locations.get(file, {}).get(path)
        return None if i is None else self._source_locations[file][i]

    def located(self, file: str, path: tuple[int, ...]) -> bool:
        """Whether a message, field or DataHem option is at `path` in a file."""
        return path in self.locations.get(file, {})

    def loc(self, file: str, path: tuple[int, ...]) -> Loc:
        return self._loc(file, self._location(file, path))

    @staticmethod
    def _loc(file: str, loc: descriptor_pb2.SourceCodeInfo.Location | None) -> Loc:
        if loc is None:
            return Loc(f"schemas/{file}", 1, 1)
        span = loc.span
        return Loc(f"schemas/{file}", span[0] + 1, span[1] + 1)

    def loc_and_comment(self, file: str, path: tuple[int, ...]) -> tuple[Loc, str]:
        """`loc` and `comment` of one element, found once (every field needs both)."""
        loc = self._location(file, path)
        return self._loc(file, loc), self._comment(loc)

    def option_locs(
        self, file: str, path: tuple[int, ...], message: type[Message]
    ) -> tuple[Loc | None, dict[str, Loc]]:
        """Where the DataHem option extension at `path` is written: the whole option (the brace form, or the first
        of its dotted assignments), and each option field by name (its dotted assignment, else the whole)."""
        spans = self.option_spans.get((file, path))
        if not spans:
            return None, {}
        at = {inner: Loc(f"schemas/{file}", line + 1, col + 1) for inner, (line, col) in sorted(spans, reverse=True)}
        whole = at.get(()) or min(at.values(), key=lambda loc: (loc.line, loc.col))
        by_name: dict[str, Loc] = {}
        for inner, loc in sorted(at.items()):  # `partitioning` before `partitioning.granularity`
            fd = message.DESCRIPTOR.fields_by_number.get(inner[0]) if inner else None
            if fd is not None:
                by_name.setdefault(fd.name, loc)
        return whole, by_name

    def comment(self, file: str, path: tuple[int, ...]) -> str:
        return self._comment(self._location(file, path))

    @staticmethod
    def _comment(loc: descriptor_pb2.SourceCodeInfo.Location | None) -> str:
        text = loc.leading_comments.strip() if loc else ""
        if text.isprintable():  # one line (every line boundary is unprintable): most comments
            return text
        return " ".join(line.strip() for line in text.splitlines() if line.strip())

    def refs(self, name: str) -> tuple[str, ...]:
        """The type names a message's fields refer to (messages and enums), in field order; () for other names.
        Read once per message: the reach of every table, its files, its fingerprint and the recursion check walk
        them."""
        refs = self._refs.get(name)
        if refs is None:
            msg = self.messages.get(name)
            refs = tuple(f.type_name.lstrip(".") for f in msg.proto.field if f.type_name) if msg else ()
            self._refs[name] = refs
        return refs

    def reachable(self, root: str) -> frozenset[str]:
        """Names of the message and enum types a message reaches (itself included)."""
        hit = self._reachable.get(root)
        if hit is not None:
            return hit
        seen: set[str] = set()
        todo = [root]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.refs(name))
        self._reachable[root] = frozenset(seen)
        return self._reachable[root]

    def reaches_recursion(self, name: str) -> bool:
        """Whether a message is on, or leads to, a cycle of message types (its expansion then depends on depth)."""
        if not self._recursion:
            self._recursion = self._recursive_reach()
        return self._recursion.get(name, False)

    def _children(self, name: str) -> list[str]:
        return [c for c in dict.fromkeys(self.refs(name)) if c in self.messages]

    def _recursive_reach(self) -> dict[str, bool]:
        """`reaches_recursion` of every message at once, in time linear in the type graph: its strongly connected
        components (Tarjan's algorithm, iterative: message types may nest thousands deep), found children first, so
        each component knows whether it reaches a cycle when it is completed."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        reach: dict[str, bool] = {}
        for root in self.messages:
            if root in index:
                continue
            work = [(root, iter(self._children(root)))]
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = len(index)
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(self._children(child))))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] != index[node]:
                    continue
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                members = set(component)
                edges = [c for m in component for c in self._children(m)]
                cyclic = len(component) > 1 or node in edges
                result = cyclic or any(reach[c] for c in edges if c not in members)
                reach.update(dict.fromkeys(component, result))
        return reach

    def files_of(self, root: str) -> tuple[str, ...]:
        """Project proto files defining the types a message reaches (its table's inputs)."""
        files = {self.messages[n].file for n in self.reachable(root) if n in self.messages}
        files |= {self.enum_files[n] for n in self.reachable(root) if n in self.enum_files}
        return tuple(sorted(f for f in files if not self.is_library(f)))

    def is_library(self, file: str) -> bool:
        """protobuf's well-known types (package google.protobuf; a project file may live under google/protobuf/, as
        protobuf's own test messages do) and the option vocabulary."""
        return file == VOCABULARY_IMPORT or self.files[file].package == "google.protobuf"

    def fingerprint(self, root: str) -> str:
        """sha256 over the deterministic serialization of a message and every type it reaches."""
        h = hashlib.sha256()
        for name in sorted(self.reachable(root)):
            proto = self.messages[name].proto if name in self.messages else self.enums.get(name)
            if proto is not None:
                h.update(name.encode() + b"\0" + proto.SerializeToString(deterministic=True) + b"\0")
        return h.hexdigest()


def _extension_at(path: tuple[int, ...]) -> int | None:
    """Index of the DataHem extension's number in a SourceCodeInfo path into options (`7` message options, `8` field
    options), None if the path is not inside `(datahem.table)` or `(datahem.column)`."""
    for k in range(2, len(path)):
        if (path[k - 1], path[k]) in ((7, TABLE.number), (8, COLUMN.number)):
            return k
    return None


def _required(f: FD) -> bool:
    """proto2 `required`, or editions' `features.field_presence = LEGACY_REQUIRED` (protoc accepts that feature on
    fields only, so it is never inherited)."""
    return (
        f.label == FD.LABEL_REQUIRED or f.options.features.field_presence == descriptor_pb2.FeatureSet.LEGACY_REQUIRED
    )


def snake_case(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def default_table_name(full_name: str) -> str:
    """snake_case of the message name; a major version other than v1 (package suffix) gets a suffix, so a
    new major version becomes a new table."""
    package, _, name = full_name.rpartition(".")
    version = package.rpartition(".")[2]
    m = _VERSION.match(version)
    base = snake_case(name)
    return f"{base}_{version}" if m and m.group(1) != "1" else base


class Resolver:
    def __init__(self, config: R.RawConfig, index: ProtoIndex, diags: Diagnostics):
        self.config = config
        self.index = index
        self.diags = diags
        self.bigquery = config.bigquery or R.RawBigQuery()
        self._cache: dict[tuple[str, int], _Expanded] = {}
        self._expanded: dict[int, _Expanded] = {}  # every _Expanded made, by the identity of its columns
        # what each distinct (datahem.column) option resolves to, by its serialized form: fields repeat the same few
        self._transforms: dict[bytes, Transforms] = {}
        self._max_depth = 0
        self._budget = _Budget("", Loc(""), 0)

    # -- tables ---------------------------------------------------------------------------------
    def table(self, full_name: str) -> Table:
        msg = self.index.messages[full_name]
        opts = msg.proto.options.Extensions[TABLE] if msg.proto.options.HasExtension(TABLE) else None
        opts = opts or options_pb2.TableOptions()
        loc = self.index.loc(msg.file, msg.path)
        whole, option_locs = self.index.option_locs(msg.file, msg.path + (7, TABLE.number), options_pb2.TableOptions)
        option_loc = whole or loc
        name = opts.name or default_table_name(full_name)
        self._max_depth = opts.max_recursion_depth
        if self._max_depth > MAX_RECURSION_DEPTH:
            self.diags.error(
                option_locs.get("max_recursion_depth", option_loc),
                rules.OPTION_VALUE_INVALID,
                f"`max_recursion_depth` {self._max_depth} on `{full_name}` cannot fit in BigQuery, which nests "
                f"STRUCTs at most {MAX_NESTING} levels deep: use at most {MAX_RECURSION_DEPTH} (deeper levels are "
                "stored as JSON)",
            )
            self._max_depth = MAX_RECURSION_DEPTH
        self._budget = _Budget(name, loc, visible=_METADATA_COUNT)
        columns = self.columns(full_name, (full_name,), 1, 1, True)
        p = opts.partitioning
        partitioning = Partitioning(
            column=(p.field or None) if opts.HasField("partitioning") else "_received_at",
            granularity=_GRANULARITY[p.granularity],
            expiration_days=p.expiration_days,
            require_filter=p.require_filter,
            loc=option_locs.get("partitioning", option_loc),
        )
        return Table(
            message=full_name,
            name=name,
            dataset=opts.dataset or self.bigquery.dataset,
            description=opts.description or self.index.comment(msg.file, msg.path),
            partitioning=partitioning,
            clustering=tuple(opts.clustering),
            labels=tuple(sorted(opts.labels.items())),
            columns=columns,
            proto_file=msg.file,
            proto_files=self.index.files_of(full_name),
            loc=loc,
            option_loc=option_loc,
            fingerprint=self.index.fingerprint(full_name),
            option_locs=option_locs,
            unknown_fields=_UNKNOWN_FIELDS[opts.unknown_fields],
        )

    def columns(
        self, full_name: str, stack: tuple[str, ...], depth: int, expanded: int, shown: bool
    ) -> tuple[Column, ...]:
        """Columns of a message whose fields sit `depth` levels deep among the visible columns (`expanded` levels
        counting hidden ones); `shown` is False under a hidden field. BigQuery's limits are checked as the columns are
        made, so the expansion ends at the first limit exceeded, whatever the shape of the input.

        A message that cannot reach a recursive type expands the same way wherever it appears, so it is resolved once
        per table root's recursion bound and reused (shared types such as Money are met thousands of times in large
        projects) where it fits within the limits (elsewhere it is expanded again, to find where a limit is
        exceeded)."""
        key = (full_name, self._max_depth)
        cacheable = not self.index.reaches_recursion(full_name)
        budget = self._budget
        hit = self._cache.get(key) if cacheable else None
        if hit is not None and self._fits(hit, depth, expanded, shown):
            budget.fields += hit.fields
            budget.visible += hit.visible if shown else 0
            return hit.columns
        msg = self.index.messages[full_name]
        out = tuple(self.column(msg, i, f, stack, depth, expanded, shown) for i, f in enumerate(msg.proto.field))
        if cacheable and not budget.stopped:
            self._cache[key] = _Expanded.of(out, self._expanded)
        return out

    def _fits(self, hit: _Expanded, depth: int, expanded: int, shown: bool) -> bool:
        budget = self._budget
        if budget.fields + hit.fields > MAX_EXPANDED_FIELDS or expanded - 1 + hit.depth > MAX_EXPANDED_DEPTH:
            return False
        return not shown or (budget.visible + hit.visible <= MAX_COLUMNS and depth - 1 + hit.nesting <= MAX_NESTING)

    def _count(self, f: FD, loc: Loc, shown: bool) -> None:
        """Count one field; report the one that exceeds a column limit (once: the expansion then stops)."""
        budget = self._budget
        budget.fields += 1
        budget.visible += shown
        if budget.stopped:
            return
        fix = "store parts as JSON" + (" or lower `max_recursion_depth`" if self._max_depth else "")
        if budget.visible > MAX_COLUMNS:
            self.diags.error(
                loc,
                rules.TOO_MANY_COLUMNS,
                f"field `{f.name}` is column {budget.visible} of table `{budget.table}` (nested columns and DataHem's "
                f"{_METADATA_COUNT} included); BigQuery allows {MAX_COLUMNS}: hide fields{',' if self._max_depth else ' or'} {fix}",
            )
        elif budget.fields > MAX_EXPANDED_FIELDS:
            self.diags.error(
                loc,
                rules.TOO_MANY_COLUMNS,
                f"field `{f.name}` is field {budget.fields} of table `{budget.table}` (hidden fields included); at "
                f"most {MAX_EXPANDED_FIELDS} are expanded: {fix}",
            )
        else:
            return
        budget.stopped = True

    def _too_deep(self, f: FD, loc: Loc, bq_type: str, depth: int, expanded: int, shown: bool) -> bool:
        """Whether a message field must not be expanded: a limit was exceeded before, or this field is nested too
        deep (reported once, at the field)."""
        budget = self._budget
        if budget.stopped:
            return True
        if shown and bq_type == "STRUCT" and depth > MAX_NESTING:
            self.diags.error(
                loc,
                rules.NESTING_TOO_DEEP,
                f"field `{f.name}` is nested {depth} levels deep in table `{budget.table}`; BigQuery allows "
                f"{MAX_NESTING}: flatten the message or type the field as JSON",
            )
        elif expanded > MAX_EXPANDED_DEPTH:
            self.diags.error(
                loc,
                rules.NESTING_TOO_DEEP,
                f"field `{f.name}` is nested {expanded} levels deep in table `{budget.table}` (hidden fields "
                f"included); protobuf parses at most {MAX_EXPANDED_DEPTH}: flatten the message or type the field as "
                "JSON",
            )
        else:
            return False
        budget.stopped = True
        return True

    def column(
        self, msg: _Msg, i: int, f: FD, stack: tuple[str, ...], depth: int, expanded: int, shown: bool
    ) -> Column:
        path = msg.path + (2, i)
        loc, comment = self.index.loc_and_comment(msg.file, path)
        has_opts = f.options.HasExtension(COLUMN)
        if has_opts:
            o = f.options.Extensions[COLUMN]
            whole, option_locs = self.index.option_locs(msg.file, path + (_OPTIONS_FIELD, COLUMN.number), type(o))
        else:  # nothing written (even `(datahem.column) = {}` sets the extension): no positions to look for
            o, whole, option_locs = _NO_OPTIONS, None, {}
        option_loc = whole or loc
        proto_type = _PROTO_TYPES[f.type]
        type_name = f.type_name.lstrip(".")
        natural = typemap.natural_type(proto_type, type_name) or "STRING"
        sub = self.index.messages.get(type_name) if proto_type == "message" else None
        is_map = bool(sub and sub.proto.options.map_entry)
        shown = shown and not o.hidden
        self._count(f, loc, shown)
        fields: tuple[Column, ...] = ()
        cut = False
        if natural == "STRUCT" and sub is not None and not sub.proto.field:
            natural = "BOOL"  # a message without fields (a marker, like google.protobuf.Empty): TRUE when present
        elif natural == "STRUCT" and sub is not None:
            recursion = stack.count(type_name)
            if recursion and recursion >= self._max_depth:
                cut = True
                natural = "JSON"
                if self._max_depth == 0 and recursion == 1:
                    self.diags.error(
                        loc,
                        rules.RECURSION_UNBOUNDED,
                        f"field `{f.name}` makes `{type_name}` recursive; set `max_recursion_depth` in the "
                        "table option of the root message (deeper levels are stored as JSON), or break the cycle",
                    )
            elif self._too_deep(f, loc, o.type.strip().upper() or natural, depth, expanded, shown):
                cut = True  # a limit was exceeded (reported): the build fails, the rest is not expanded
                natural = "JSON"
            else:
                fields = self.columns(type_name, stack + (type_name,), depth + 1, expanded + 1, shown)
        repeated = f.label == FD.LABEL_REPEATED
        required = o.required or _required(f)
        mode = "REPEATED" if repeated else ("REQUIRED" if required else "NULLABLE")
        oneof, oneof_required = oneof_of(msg.proto, f)
        return Column(
            name=o.name or f.name,
            field_name=f.name,
            json_name=f.json_name or _camel(f.name),
            number=f.number,
            proto_type=proto_type,
            type_name=type_name,
            natural_type=natural,
            bq_type=(o.type.strip().upper() or natural) if not cut else "JSON",
            mode=mode,
            description=o.description or comment,
            category=o.category or None,
            hidden=o.hidden,
            required=required,
            oneof=oneof,
            transforms=self._transforms_of(o) if has_opts else _NO_TRANSFORMS,
            fields=fields,
            loc=loc,
            option_loc=option_loc,
            is_map=is_map,
            recursion_cut=cut,
            oneof_required=oneof_required,
            option_locs=option_locs,
        )

    def _transforms_of(self, o: options_pb2.ColumnOptions) -> Transforms:
        """`options.resolve`, a function of the option alone, once per distinct option."""
        key = o.SerializeToString(deterministic=True)
        hit = self._transforms.get(key)
        if hit is None:
            hit = self._transforms[key] = options.resolve(o)
        return hit

    # -- sources.yaml ----------------------------------------------------------------------------
    def model(
        self,
        proto_files: tuple[str, ...],
        descriptor_set: bytes,
        schemas: bool = True,
        unseen: frozenset[str] = frozenset(),
    ) -> Model:
        """The model; without `schemas` (they do not compile) it has no tables, and each source a stand-in table
        without columns, so that the checks of sources.yaml alone still run. A source of a message not compiled but
        named in `unseen` (declared in a proto file left out for its errors) also gets a stand-in table."""
        cfg = self.config
        roots = sorted({s.message for s in cfg.sources if s.message in self.index.messages})
        tables = {name: self.table(name) for name in roots}
        sources = []
        for s in cfg.sources:
            if not schemas or (s.message not in self.index.messages and s.message.rpartition(".")[2] in unseen):
                sources.append(self.source(s, self._stand_in(s)))
                continue
            if s.message not in self.index.messages:
                known = sorted(n for n in self.index.messages if not self._is_library(n))
                hint = _closest(s.message, known)
                self.diags.error(
                    s.locs.get("message", s.loc),
                    rules.SOURCE_UNKNOWN_MESSAGE,
                    f"source `{s.name}` names message `{s.message}`, which is not defined in schemas/"
                    + (f"; did you mean `{hint}`?" if hint else "; define it in a .proto file under schemas/"),
                )
                continue
            sources.append(self.source(s, tables[s.message]))
        envs = tuple(
            Environment(
                e.name,
                e.gcp_project,
                e.region,
                e.state_bucket,
                e.loc,
                dict(e.locs),
                invoker_iam_disabled=e.invoker_iam_disabled,
                network=e.network,
                subnetwork=e.subnetwork,
                private_workers=(e.network or e.subnetwork) is not None
                if e.private_workers is None
                else e.private_workers,
                secret_locations=tuple(e.secret_locations),
                kms_key=e.kms_key,
                bigquery_kms_key=e.bigquery_kms_key,
                write_method=e.write_method,
            )
            for e in sorted(cfg.project.environments.values(), key=lambda e: e.name)
        )
        cats = tuple(
            Category(c.name, c.description, c.parent, c.masking, tuple(c.readers), tuple(c.masked_readers), c.loc)
            for c in sorted(cfg.categories.values(), key=lambda c: c.name)
        )
        bq = self.bigquery
        enums = tuple(
            EnumType(n, tuple((v.name, v.number) for v in self.index.enums[n].value))
            for n in _enum_types(tables.values())
        )
        return Model(
            project=cfg.project.name,
            environments=envs,
            bigquery=BigQuerySettings(bq.location, bq.dataset, bq.backup_dataset, bq.dead_letter_dataset),
            categories=cats,
            tables=tuple(tables[n] for n in roots),
            sources=tuple(sorted(sources, key=lambda s: s.name)),
            proto_files=proto_files,
            descriptor_set=descriptor_set,
            enums=enums,
            deployment=(cfg.pipelines or R.RawPipelines()).deployment,
            locs={
                "project.name": cfg.project.locs.get("name", cfg.project.loc),
                **{f"bigquery.{k}": loc for k, loc in bq.locs.items()},
            },
        )

    def _stand_in(self, s: R.RawSource) -> Table:
        loc = s.locs.get("message", s.loc)
        return Table(
            message=s.message,
            name=default_table_name(s.message),
            dataset=self.bigquery.dataset,
            description="",
            partitioning=Partitioning("_received_at", "DAY", 0, False, loc),
            clustering=(),
            labels=(),
            columns=(),
            proto_file="",
            proto_files=(),
            loc=loc,
            option_loc=loc,
            fingerprint="",
        )

    def _is_library(self, name: str) -> bool:
        return name.startswith("google.protobuf.") or name.startswith("datahem.")

    def source(self, s: R.RawSource, table: Table) -> Source:
        route = KINDS[s.kind].resolve(s, s.name, s.message, table.topic)
        return Source(s.name, s.kind, s.message, s.description, table, route, s.loc, dict(s.locs))


def _enum_types(tables: Iterable[Table]) -> list[str]:
    """Full names of the enum types of the tables' columns, sorted. The columns of a message type, shared wherever it
    appears, are looked at once (by the identity of their tuple, alive with the tables)."""
    names: set[str] = set()
    seen: set[int] = set()
    todo = [t.columns for t in tables]
    while todo:
        columns = todo.pop()
        if id(columns) in seen:
            continue
        seen.add(id(columns))
        for c in columns:
            if c.proto_type == "enum":
                names.add(c.type_name)
            if c.fields:
                todo.append(c.fields)
    return sorted(names)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def proto_type_name(f: FD) -> str:
    """`int64`, `message`, ... of a field descriptor (its number for a type this table does not know)."""
    return _PROTO_TYPES.get(f.type, str(f.type))


def oneof_of(message: descriptor_pb2.DescriptorProto, f: FD) -> tuple[str | None, bool]:
    """The oneof a field belongs to (None for none, and for the one protoc makes of a proto3 `optional`), and whether
    it has `(datahem.oneof) = {required: true}`."""
    if not f.HasField("oneof_index") or f.proto3_optional:
        return None, False
    decl = message.oneof_decl[f.oneof_index]
    return decl.name, decl.options.Extensions[ONEOF].required


def json_name(f: FD) -> str:
    """A field's proto3 JSON name: protoc's `json_name`, else lowerCamelCase of its name."""
    return f.json_name or _camel(f.name)


def _closest(name: str, candidates: list[str]) -> str | None:
    """The message a full name most likely means: by its full name, else by its last part (a wrong package)."""
    short = {c.rpartition(".")[2]: c for c in candidates}
    hit = suggest.closest(name, candidates)
    if hit:
        return hit
    hit = suggest.closest(name.rpartition(".")[2], list(short))
    return short[hit] if hit else None


def project_files(index: ProtoIndex) -> tuple[str, ...]:
    return tuple(sorted(n for n in index.files if not index.is_library(n)))
