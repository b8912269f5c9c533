"""Write the specialized converter of one message type as Python source.

The converter is straight-line code, field by field: no walk over descriptors at run time. For each field the
model says everything needed (json name, proto type, BigQuery type and mode, transforms), and this module turns
that into a few lines that call the helpers of `datahem.runtime.beam.convert`. Names, constants and expressions are
computed here; the template (datahem/templates/pipelines/converter.py.j2) only lays out the module.

Every name in a converter derives from what it stands for, never from a counter: `_convert_order` and
`_known_order` for the message Order, `_enum_order_status` for the enum OrderStatus, `_div_order_gross_margin_cents`
for a field's constant, `r_order_id` for a field's row value. Adding a field therefore changes only that field's
lines (and the set of known keys), which keeps the pull-request diffs of generated code small. Names are chosen once
the whole module is written (`_Names`), so that a message type converted in several shapes (bounded recursion) can
be told apart by path and collisions after sanitizing are resolved in the same way whatever the order of the fields.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from datahem.compiler import options
from datahem.compiler.model.resolved import UNKNOWN_COLUMN, Column, EnumType, Model, Table, all_columns
from datahem.compiler.options import ColumnOption
from datahem.compiler.options.indexed import keys_pattern as indexed_keys_pattern
from datahem.runtime import typemap
from datahem.runtime.contracts.routing import converter_module

_INT_BOUNDS = {
    "int32": "INT32", "sint32": "INT32", "sfixed32": "INT32",
    "uint32": "UINT32", "fixed32": "UINT32",
    "int64": "INT64", "sint64": "INT64", "sfixed64": "INT64",
    "uint64": "UINT64", "fixed64": "UINT64",
}  # fmt: skip
_FLOATS = ("float", "double")
_BOUNDS = {
    "INT32": (-(2**31), 2**31 - 1),
    "UINT32": (0, 2**32 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT64": (0, 2**64 - 1),
}
_WRAPPER_SCALAR = {
    "google.protobuf.DoubleValue": "double", "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64", "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32", "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool", "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}  # fmt: skip
_WKT_SETTER = {
    "google.protobuf.Timestamp": "set_timestamp",
    "google.protobuf.Duration": "set_duration",
    "google.protobuf.Struct": "set_struct",
    "google.protobuf.Value": "set_value",
    "google.protobuf.ListValue": "set_list_value",
    "google.protobuf.Any": "set_any",
    "google.protobuf.FieldMask": "set_field_mask",
    "google.protobuf.Empty": "set_empty",
}
_MESSAGES = ("message", "group")  # a proto2 group is a nested message written inline: converted the same way
_FLOAT_BOUND = {"float": "FLOAT32_MAX", "double": "DOUBLE_MAX"}
_PROTO_DEFAULT_ROW = {"string": '""', "bool": "False", "bytes": '""'}
# What every converter may use of datahem.runtime.beam.convert; the helpers of column options come from their specs.
_CORE_HELPERS = (
    "DOUBLE_MAX", "FLOAT32_MAX", "INT32", "INT64", "UINT32", "UINT64", "VALIDATE", "Context", "Reject",
    "as_bool", "as_bytes", "as_enum", "as_float", "as_int", "as_list", "as_object", "as_string", "b64",
    "json_names",
    "internal", "one_of", "only_one", "parse_payload", "set_any", "set_duration", "set_field_mask", "set_json_tail", "set_list_value",
    "set_struct", "set_timestamp", "set_value", "to_bq",
)  # fmt: skip
# What a message's converter calls when the JSON object has keys no field knows, by the table's `unknown_fields`.
_UNKNOWN_HELPER = {"REJECT": "unknown_fields", "IGNORE": "extra_fields", "KEEP": "extra_fields"}
# ... and when `indexed` fields gather some of those keys (datahem.compiler.options.indexed)
_UNKNOWN_KEYS_HELPER = {"REJECT": "unknown_keys", "IGNORE": "extra_keys", "KEEP": "extra_keys"}


def _field(obj: str, name: str) -> str:
    """The expression of a message's field: `msg.name`, or `getattr(msg, 'from')` for a field named after a Python
    keyword (protobuf keeps the name; only the attribute syntax is illegal)."""
    return f"getattr({obj}, {name!r})" if keyword.iskeyword(name) else f"{obj}.{name}"


def _assign(target: str, value: str) -> str:
    """`target = value` for a target made by `_field`."""
    if target.startswith("getattr("):
        return f"setattr({target[len('getattr(') : -1]}, {value})"
    return f"{target} = {value}"


def _setter(c: Column) -> str | None:
    """The helper converting a message field stored as one column: a well-known type, or a message without fields
    (only its presence is data, like google.protobuf.Empty)."""
    if c.proto_type not in _MESSAGES or c.fields:
        return None
    if c.natural_type == "BOOL" and c.type_name not in _WRAPPER_SCALAR:
        return "set_empty"
    return _WKT_SETTER.get(c.type_name)


def module_name(table: Table) -> str:
    return converter_module(table.message)


def snake(text: str) -> str:
    """`OrderStatus` -> `order_status`, `Ga4Hit` -> `ga4_hit`, `HTTPRequest` -> `http_request`; anything that is not
    a lowercase letter, digit or underscore becomes one underscore."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def type_slug(full_name: str) -> str:
    """The name of a message or enum type without its package: `grocer.commerce.v1.Order.Line` -> `order_line`.
    Packages are lowercase by convention, so the type starts at the first capitalized part."""
    parts = full_name.split(".")
    start = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts) - 1)
    return "_".join(snake(part) for part in parts[start:]) or "x"


_SLOT = re.compile("\x00([0-9]+)\x00")  # a name not chosen yet; NUL never occurs in generated code (repr escapes it)


@dataclass(eq=False)
class _Variant:
    """One converter function: a message type with one list of columns, first met at `path`."""

    type_name: str
    path: tuple[str, ...]  # the root type's slug, then field names


@dataclass
class _Names:
    """Names of a module, chosen after it is written. A symbol is (kind, owner, detail): its preferred name is
    `_<kind>_<owner's base>[_<detail>]`, where a message variant's base is its type's slug, or its path when the
    type is converted in several shapes. Equal preferred names get `_2`, `_3`... in the order of their keys, so the
    choice does not depend on the order in which fields were written. Every name starts with one underscore and a
    letter: never a keyword, a builtin, an import of the module or a dunder."""

    symbols: dict[tuple[str, int | str, str], int] = field(default_factory=dict)  # key -> slot
    parts: list[tuple[str, _Variant | str, str]] = field(default_factory=list)  # slot -> (kind, owner, detail)
    variants: list[_Variant] = field(default_factory=list)

    def slot(self, kind: str, owner: _Variant | str, detail: str = "") -> str:
        key = (kind, id(owner) if isinstance(owner, _Variant) else owner, detail)
        if key not in self.symbols:
            self.symbols[key] = len(self.parts)
            self.parts.append((kind, owner, detail))
        return f"\x00{self.symbols[key]}\x00"

    def resolve(self) -> list[str]:
        shapes: dict[str, int] = {}
        for v in self.variants:
            shapes[v.type_name] = shapes.get(v.type_name, 0) + 1

        def base(owner: _Variant | str) -> str:
            if isinstance(owner, str):
                return type_slug(owner)
            if shapes[owner.type_name] == 1:
                return type_slug(owner.type_name)
            return "_".join(snake(step) or "x" for step in owner.path)

        def sort_key(slot: int) -> tuple[str, tuple[str, tuple[str, ...]], str]:
            kind, owner, detail = self.parts[slot]
            where = (owner.type_name, owner.path) if isinstance(owner, _Variant) else (owner, ())
            return (kind, where, detail)

        preferred = []
        for kind, owner, detail in self.parts:
            tail = snake(detail)
            preferred.append(f"_{kind}_{base(owner)}" + (f"_{tail}" if tail else ""))
        names: list[str] = [""] * len(self.parts)
        taken = set(preferred)
        by_name: dict[str, list[int]] = {}
        for slot, name in enumerate(preferred):
            by_name.setdefault(name, []).append(slot)
        for name in sorted(by_name):
            first, *others = sorted(by_name[name], key=sort_key)
            names[first] = name
            n = 1
            for slot in others:
                n += 1
                while f"{name}_{n}" in taken:
                    n += 1
                names[slot] = f"{name}_{n}"
                taken.add(names[slot])
        return names


def _fill(text: str, names: list[str]) -> str:
    return _SLOT.sub(lambda m: names[int(m.group(1))], text)


def _lines(items: list[str], indent: str = "    ") -> str:
    """One item a line with a trailing comma, so the formatter keeps it so and a new item is a new line."""
    return "".join(f"\n{indent}{item}," for item in items) + "\n"


@dataclass
class _Writer:
    enums: dict[str, dict[str, int]]  # enum full name -> values
    index: Callable[[str], EnumType]  # the model's enum types by full name
    names: _Names = field(default_factory=_Names)
    constants: list[str] = field(default_factory=list)
    defined: dict[str, str] = field(default_factory=dict)  # slot -> expression
    functions: list[list[str]] = field(default_factory=list)
    by_columns: dict[tuple[Column, ...], str] = field(default_factory=dict)
    variant: _Variant | None = None  # the message being written
    var: dict[Column, str] = field(default_factory=dict)  # the row variable of each column of that message
    field_name: str = ""  # the field being written
    used: set[ColumnOption[Any]] = field(default_factory=set)  # options whose code is in the module
    setters: set[str] = field(default_factory=set)  # well-known types' setters the module calls
    unknown: str = "REJECT"  # the table's `unknown_fields` policy
    unknown_helpers: set[str] = field(default_factory=set)  # the helpers the module calls on unknown fields
    variant_of: dict[tuple[Column, ...], _Variant] = field(default_factory=dict)  # columns -> their message's variant
    # the root's scalars whose early options (filters) the early pass has checked on the payload's value: the main
    # pass does not check them again there (the same value, the same transforms), only on a default it fills in
    early_checked: set[int] = field(default_factory=set)

    def setter(self, c: Column) -> str:
        """The helper converting a well-known type, noted as used (imported when not a core helper)."""
        name = _setter(c)
        assert name is not None, f"{c.field_name} is not converted by a setter"  # callers check _setter(c) first
        self.setters.add(name)
        return name

    def options(self, c: Column) -> list[tuple[ColumnOption[Any], object]]:
        """The column's options, noted as used: their helpers are imported."""
        found = options.present(c)
        self.used.update(spec for spec, _ in found)
        return found

    @property
    def current(self) -> _Variant:
        """The message being written (set while `message` writes it)."""
        assert self.variant is not None, "no message is being written"
        return self.variant

    def const(self, kind: str, expr: str, detail: str = "") -> str:
        """A module constant for the field being written."""
        name = self.names.slot(kind, self.current, "_".join(filter(None, (self.field_name, detail))))
        if name in self.defined:
            assert self.defined[name] == expr, (name, expr)
            return name
        self.defined[name] = expr
        self.constants.append(f"{name} = {expr}")
        return name

    def enum(self, type_name: str) -> str:
        if type_name not in self.enums:
            self.enums[type_name] = dict(self.index(type_name).values)
            self.names.slot("names", type_name)
        return self.names.slot("enum", type_name)

    def enum_names(self, type_name: str) -> str:
        """The number -> name table of an enum."""
        self.enum(type_name)
        return self.names.slot("names", type_name)

    def message(self, full_name: str, columns: tuple[Column, ...], path: tuple[str, ...]) -> str:
        if columns in self.by_columns:
            return self.by_columns[columns]
        variant = _Variant(full_name, path)
        self.names.variants.append(variant)
        name = self.names.slot("convert", variant)
        self.by_columns[columns] = name
        self.variant_of[columns] = variant
        saved = self.variant, self.field_name, self.var
        self.variant, self.field_name = variant, ""
        body: list[str] = []
        known = sorted({c.json_name for c in columns} | {c.field_name for c in columns})
        known_const = self.const(
            "known", f"frozenset([{_lines([repr(k) for k in known])}])" if known else "frozenset()"
        )
        visible = [c for c in columns if not c.hidden]
        # the row starts as a copy of every column NULL, in column order; a field fills its own entry: cheaper than
        # a dict display of every column when most fields are absent (a wide message), and never dearer
        row_const = (
            self.const("row", f"{{{_lines([f'{c.name!r}: None' for c in visible], '    ')}}}") if visible else None
        )
        body.append(f"def {name}(d, p, msg, root, ctx):  # {full_name}")
        gathered = [cast("tuple[str, str, str]", v) for c in columns if (v := c.transforms.get("indexed")) is not None]
        if gathered:  # the parameters `indexed` fields gather (found once, here, by prefix) are no unknown fields
            rx = self.const("gathered", f"re.compile({indexed_keys_pattern([g[0] for g in gathered])!r})")
            fields = self.const("indexed", f"{{{_lines([f'{g[0]!r}: {g[1:]!r}' for g in sorted(gathered)])}}}")
            body.append("    indexed = None")
            body.append(f"    if not d.keys() <= {known_const}:")
            body.append(f"        indexed, unknown = gather(d, {known_const}, {rx}, {fields})")
            helper = _UNKNOWN_KEYS_HELPER[self.unknown]
            # IGNORE, KEEP: noted in ctx.unknown by path; convert() stores or drops them
            body.append(
                f"        {helper}(unknown, p)" if self.unknown == "REJECT" else f"        {helper}(d, unknown, p, ctx)"
            )
        else:
            helper = _UNKNOWN_HELPER[self.unknown]
            body.append(f"    if not d.keys() <= {known_const}:")
            body.append(
                f"        {helper}(d, {known_const}, p)"
                if self.unknown == "REJECT"
                else f"        {helper}(d, {known_const}, p, ctx)"
            )
        self.unknown_helpers.add(helper)
        pairs = sorted({(c.json_name, c.field_name) for c in columns if c.json_name != c.field_name})
        # an object sent with proto names is read as if sent with JSON names (a copy, renamed), so that every field
        # reads one key (no JSON key is a name of two fields: JSON_NAME_DUPLICATE)
        if pairs:  # a field sent under its JSON name and its proto name: refused, whatever the values
            proto_names = self.const("proto_names", f"frozenset([{_lines([repr(f) for _, f in pairs])}])")
            renames = self.const("json_names", f"{{{_lines([f'{f!r}: {j!r}' for j, f in pairs])}}}")
            body.append(f"    if not d.keys().isdisjoint({proto_names}):")
            body.append(f"        d = json_names(d, {renames}, p)")
        oneofs: dict[str, list[Column]] = {}
        for c in columns:
            if c.oneof:
                oneofs.setdefault(c.oneof, []).append(c)
        for oneof, members in sorted(oneofs.items()):
            keys = sorted({m.json_name for m in members})
            names = [m.field_name for m in members]
            present = " + ".join(f"(d.get({k!r}) is not None)" for k in keys)
            if members[0].oneof_required:  # exactly one: none is refused too
                body.append(f"    count = {present}")
                body.append("    if count != 1:")
                body.append(f"        raise one_of(p, {oneof!r}, {names!r}, count)")
            else:
                body.append(f"    if {present} > 1:")
                body.append(f"        raise only_one(p, {oneof!r}, {names!r})")
        self.var = {c: f"row[{c.name!r}]" for c in visible}
        if row_const:
            body.append(f"    row = {row_const}.copy()")
        for c in columns:
            self.field_name = c.field_name
            body.extend("    " + line for line in self.column(c))
        body.append("    return row" if row_const else "    return {}")
        self.functions.append(body)
        self.variant, self.field_name, self.var = saved
        return name

    def _path(self, c: Column) -> tuple[str, ...]:
        return (*self.current.path, c.field_name)

    # -- one field ---------------------------------------------------------------------------------
    def column(self, c: Column) -> list[str]:
        out = [f"# {c.field_name}: {c.type_name or c.proto_type} -> {c.bq_type} {c.mode}"]
        out.append(f"v = d.get({c.json_name!r})")  # an object sent with proto names was renamed (json_names)
        for spec, value in self.options(c):
            out += spec.lookup(self, c, value)
        if c.is_map:
            return out + self._map(c)
        if c.repeated:
            return out + self._repeated(c)
        absent = self._absent(c)
        if c.type_name == "google.protobuf.Value" and not c.fields:  # null is a value: null_value, present
            present = f"v is not None or {c.json_name!r} in d"
        else:
            present = "v is not None"
        if absent:  # an option says what an absent field gets (or that it is refused)
            out.append(f"if not ({present}):" if " or " in present else "if v is None:")
            out.extend("    " + line for line in absent)
            out.append("else:")
        else:  # absent: the row keeps NULL, the message its default
            out.append(f"if {present}:")
        out.extend(
            "    " + line for line in self._present(c, "v", "p", repr(c.field_name), _field("msg", c.field_name))
        )
        return out

    def set_row(self, c: Column, expr: str) -> list[str]:
        return [] if c.hidden else [f"{self.var[c]} = {expr}"]

    def _absent(self, c: Column) -> list[str]:
        for spec, value in self.options(c):
            lines = spec.absent(self, c, value)
            if lines is not None:
                return lines
        return []  # NULL: the row's template already holds it

    def present_literal(self, c: Column, text: str) -> list[str]:
        literal = self._default_literal(c, text)
        self._literal = True
        try:
            return self._present(c, literal, "p", repr(c.field_name), _field("msg", c.field_name))
        finally:
            self._literal = False

    def proto_default_row(self, c: Column) -> str:
        if c.proto_type == "enum":
            return f"{self.enum_names(c.type_name)}[0]" if c.bq_type == "STRING" else "0"
        if c.bq_type == "NUMERIC" and c.proto_type in _INT_BOUNDS:
            return '"0"'
        if c.proto_type in _INT_BOUNDS:
            return "0"
        if c.proto_type in _FLOATS:
            return "0.0"
        return _PROTO_DEFAULT_ROW.get(c.proto_type, "None")

    def _default_literal(self, c: Column, text: str) -> str:
        if c.proto_type in _INT_BOUNDS:
            return repr(int(float(text)))
        if c.proto_type in _FLOATS:
            return repr(float(text))
        if c.proto_type == "bool":
            return repr(text == "true")
        if c.proto_type == "enum":
            values = dict(self.index(c.type_name).values)
            return repr(values[text] if text in values else int(text))
        return repr(text)

    def _present(self, c: Column, v: str, p: str, name: str, target: str) -> list[str]:
        """Lines converting the present value `v` of a singular field (or one element) into proto and row."""
        if _setter(c):
            return self._wkt(c, v, p, name, target)
        if c.proto_type in _MESSAGES and c.type_name in _WRAPPER_SCALAR:
            lines = self._scalar_check(c, _WRAPPER_SCALAR[c.type_name], v, p, name)
            lines.append(f"{target}.value = pv")
            return lines + self._row_value(c, "pv", p, name, _WRAPPER_SCALAR[c.type_name])
        if c.proto_type in _MESSAGES and c.recursion_cut:
            return (
                self.set_row(c, f"set_json_tail({target}, {v}, {p}, {name})")
                if not c.hidden
                else [f"set_json_tail({target}, {v}, {p}, {name})"]
            )
        if c.proto_type in _MESSAGES:
            fn = self.message(c.type_name, c.fields, self._path(c))
            sub_prefix = f"{p} + {c.field_name + '.'!r}" if name == repr(c.field_name) else f"{p} + {name} + '.'"
            lines = [
                f"if {v}.__class__ is not dict:",
                f"    {v} = as_object({v}, {p}, {name})",
                f"sub = {target}",
                f"if not {v}:",
                "    sub.SetInParent()",
            ]
            call = f"{fn}({v}, {sub_prefix}, sub, root, ctx)"
            return lines + (self.set_row(c, call) if not c.hidden else [call])
        lines = self._scalar_check(c, c.proto_type, v, p, name)
        lines += self._transforms(c, p, name)
        lines.append(_assign(target, "pv"))
        return lines + self._row_value(c, "pv", p, name, c.proto_type)

    def _wkt(self, c: Column, v: str, p: str, name: str, target: str) -> list[str]:
        setter = self.setter(c)
        lines = [f"rv = {setter}({target}, {v}, {p}, {name})"]
        if c.bq_type != c.natural_type:
            lines.append(f"rv = to_bq(rv, {c.bq_type!r}, {p}, {name})")
        lines += self._transforms(c, p, name, "rv")
        return lines + self.set_row(c, "rv")

    def _scalar_check(self, c: Column, proto_type: str, v: str, p: str, name: str) -> list[str]:
        if getattr(self, "_literal", False):
            return [f"pv = {v}"]  # a default value, checked when the schema was compiled
        if proto_type == "string":
            return [f"pv = {v} if {v}.__class__ is str else as_string({v}, {p}, {name})"]
        if proto_type == "bool":
            return [f"pv = {v} if {v} is True or {v} is False else as_bool({v}, {p}, {name})"]
        if proto_type in _INT_BOUNDS:
            b = _INT_BOUNDS[proto_type]
            lo, hi = _BOUNDS[b]
            digits = len(str(hi)) - 1  # a string of fewer digits always fits (proto3 JSON writes int64 as strings)
            return [
                f"if {v}.__class__ is int and {lo} <= {v} <= {hi}:",
                f"    pv = {v}",
                f"elif {v}.__class__ is str and {v}.isascii() and {v}.isdigit() and len({v}) <= {digits}:",
                f"    pv = int({v})",
                "else:",
                f"    pv = as_int({v}, {b}, {p}, {name})",
            ]
        if proto_type in _FLOATS:
            bound = _FLOAT_BOUND[proto_type]
            return [
                f"if {v}.__class__ is float and -{bound} <= {v} <= {bound}:",
                f"    pv = {v}",
                "else:",
                f"    pv = as_float({v}, {p}, {name}, {bound})",
            ]
        if proto_type == "bytes":
            return [f"pv = as_bytes({v}, {p}, {name})"]
        if proto_type == "enum":
            const, names = self.enum(c.type_name), self.enum_names(c.type_name)
            return [
                f"pv = {const}.get({v}) if {v}.__class__ is str else None",
                "if pv is None:",
                f"    pv = as_enum({v}, {const}, {names}, {p}, {name})",
            ]
        raise ValueError(f"unsupported proto type {proto_type} for {c.field_name}")

    def _transforms(self, c: Column, p: str, name: str, var: str = "pv", early: bool = False) -> list[str]:
        """The transform lines of the column's options; `early`: only up to its last early option."""
        found = self.options(c)
        if early:
            last = max((i for i, (spec, _) in enumerate(found) if spec.early), default=-1)
            found = found[: last + 1]
        elif id(c) in self.early_checked and not getattr(self, "_literal", False):
            found = [(spec, value) for spec, value in found if not spec.early]
        lines: list[str] = []
        for spec, value in found:
            lines += spec.transform(self, c, value, var, p, name)
        return lines

    # -- the early pass: options deciding whether the event is kept, before anything else --------------------------
    def early(self, table: Table) -> str | None:
        """The function evaluating the early options (filters) of scalars reachable from the root through single
        messages, before the event is converted: a Reject of their own stage escapes, any other Reject is left to
        the main pass, which meets it again. None when the table has no early option there."""
        blocks = self._early_blocks(table.columns, "d", "")
        if not blocks:
            return None
        self.variant = self.variant_of[table.columns]
        name = self.names.slot("early", self.variant)
        body = [
            f"def {name}(d, ctx):  # {table.message}",
            '    """Filters first: a filtered event is a dead letter of stage `filter`, whatever else it carries."""',
        ]
        if any("root" in line for line in blocks):  # a coalesce reads paths from the root
            body.append("    root = d")
        body.extend("    " + line for line in blocks)
        self.functions.append(body)
        self.variant = None
        return name

    def _early_blocks(self, columns: tuple[Column, ...], obj: str, prefix: str) -> list[str]:
        out: list[str] = []
        for c in columns:
            if c.repeated or c.is_map:
                continue
            var = "v" if c.proto_type not in _MESSAGES else f"d{len(prefix.split('.'))}"
            get = [f"{var} = {obj}.get({c.json_name!r})"]
            if c.json_name != c.field_name:  # as the main pass reads it
                get += [f"if {var} is None:", f"    {var} = {obj}.get({c.field_name!r})"]
            if c.proto_type not in _MESSAGES:
                if not any(spec.early for spec, _ in self.options(c)):
                    continue
                self.variant, self.field_name = self.variant_of[columns], c.field_name
                lines = [f"p = {prefix!r}", *get]
                for spec, value in self.options(c):
                    lines += spec.lookup(self, c, value)
                lines.append("if v is not None:")
                present = self._scalar_check(c, c.proto_type, "v", "p", repr(c.field_name))
                present += self._transforms(c, "p", repr(c.field_name), early=True)
                lines.extend("    " + line for line in present)
                out.append("try:")
                out.extend("    " + line for line in lines)
                out.append("except Reject as r:")
                out.append("    if r.stage == FILTER:")
                out.append("        raise")
            elif c.fields and not (c.recursion_cut or _setter(c) or c.type_name in _WRAPPER_SCALAR):
                inner = self._early_blocks(c.fields, var, f"{prefix}{c.field_name}.")
                if inner:
                    out.extend(get)
                    out.append(f"if {var}.__class__ is dict:")
                    out.extend("    " + line for line in inner)
        return out

    def _row_value(self, c: Column, pv: str, p: str, name: str, proto_type: str) -> list[str]:
        if c.hidden:
            return []
        return [f"{self.var[c]} = {self._row_expr(c, pv, p, name, proto_type)}"]

    def _row_expr(self, c: Column, pv: str, p: str, name: str, proto_type: str) -> str:
        """The row value of a converted proto value: enum names, base64 bytes, NUMERIC text, divide, overrides."""
        expr = pv
        natural = typemap.SCALARS.get(proto_type, c.natural_type)
        if proto_type == "enum":
            expr = f"{self.enum_names(c.type_name)}[{pv}]" if c.bq_type == "STRING" else pv
            natural = c.bq_type
        elif proto_type == "bytes":
            expr = f"b64({pv})"
        elif natural == "NUMERIC" and proto_type in _INT_BOUNDS:
            expr = f"str({pv})"
        for spec, value in self.options(c):
            wrapped = spec.row(self, c, value, expr, p, name)
            if wrapped != expr:  # a row hook yields the column's BigQuery type
                expr, natural = wrapped, c.bq_type
        if c.bq_type != natural:
            expr = f"to_bq({expr}, {c.bq_type!r}, {p}, {name})"
        return expr

    def _repeated(self, c: Column) -> list[str]:
        out = ["if v is None:"]
        out.extend("    " + line for line in self.set_row(c, "[]") or ["pass"])
        out.append("else:")
        out.append("    if v.__class__ is not list:")
        out.append(f"        v = as_list(v, p, {c.field_name!r})")
        out.append("    out = []")
        scalar = c.proto_type not in _MESSAGES
        out.append(
            f"    {'append' if scalar else 'add'} = {_field('msg', c.field_name)}.{'append' if scalar else 'add'}"
        )
        out.append("    for i, x in enumerate(v):")
        elem = "f'" + c.field_name + "[{i}]'"
        if c.proto_type in _MESSAGES and not _setter(c) and c.type_name not in _WRAPPER_SCALAR:
            fn = self.message(c.type_name, c.fields, self._path(c))
            if c.recursion_cut:
                body = [f"out.append(set_json_tail(add(), x, p, {elem}))"]
            else:
                body = [
                    "if x.__class__ is not dict:",
                    f"    x = as_object(x, p, {elem})",
                    f"out.append({fn}(x, f'{{p}}{c.field_name}[{{i}}].', add(), root, ctx))",
                ]
        elif _setter(c):
            setter = self.setter(c)
            body = [f"rv = {setter}(add(), x, p, {elem})"]
            if c.bq_type != c.natural_type:
                body.append(f"rv = to_bq(rv, {c.bq_type!r}, p, {elem})")
            body.append("out.append(rv)")
        else:
            proto_type = _WRAPPER_SCALAR.get(c.type_name, c.proto_type)
            body = self._scalar_check(c, proto_type, "x", "p", elem)
            body += self._transforms(c, "p", elem)
            if c.type_name in _WRAPPER_SCALAR:
                body.append("add().value = pv")
            else:
                body.append("append(pv)")
            if not c.hidden:
                body.append(f"out.append({self._row_expr(c, 'pv', 'p', elem, proto_type)})")
        out.extend("        " + line for line in body)
        out.extend("    " + line for line in self.set_row(c, "out"))
        return out

    def _map(self, c: Column) -> list[str]:
        key_col, val_col = c.fields
        out = ["if v is None:"]
        out.extend("    " + line for line in self.set_row(c, "[]") or ["pass"])
        out.append("else:")
        out.append(f"    v = as_object(v, p, {c.field_name!r})")
        out.append("    out = []")
        out.append("    for k, x in v.items():")
        elem = "f'" + c.field_name + "[{k}]'"
        body: list[str] = []
        if key_col.proto_type == "string":
            body.append("key = k")
        elif key_col.proto_type == "bool":
            body.append("key = {'true': True, 'false': False}.get(k)")
            body.append("if key is None:")
            body.append(f"    raise Reject(VALIDATE, p + {elem}, 'expected a true/false map key')")
        else:
            b = _INT_BOUNDS[key_col.proto_type]
            body.append(f"key = as_int(k, {b}, p, {elem})")
        key_row = "key" if key_col.bq_type != "NUMERIC" else "str(key)"
        if val_col.type_name in _WRAPPER_SCALAR:
            proto_type = _WRAPPER_SCALAR[val_col.type_name]
            body += self._scalar_check(val_col, proto_type, "x", "p", elem)
            body.append(f"{_field('msg', c.field_name)}[key].value = pv")
            body.append(f"rv = {self._row_expr(val_col, 'pv', 'p', elem, proto_type)}")
        elif val_col.proto_type in _MESSAGES and not _setter(val_col):
            fn = self.message(val_col.type_name, val_col.fields, self._path(c))
            body.append(
                f"rv = {fn}(as_object(x, p, {elem}), p + {elem} + '.', {_field('msg', c.field_name)}[key], root, ctx)"
            )
        elif val_col.proto_type in _MESSAGES:
            setter = self.setter(val_col)
            body.append(f"rv = {setter}({_field('msg', c.field_name)}[key], x, p, {elem})")
        else:
            body += self._scalar_check(val_col, val_col.proto_type, "x", "p", elem)
            body.append(f"{_field('msg', c.field_name)}[key] = pv")
            body.append(f"rv = {self._row_expr(val_col, 'pv', 'p', elem, val_col.proto_type)}")
        body.append(f"out.append({{'key': {key_row}, 'value': rv}})")
        out.extend("        " + line for line in body)
        out.extend("    " + line for line in self.set_row(c, "out"))
        return out


# well-known types holding maps (Struct's fields) or anything (Any); a recursion tail is any message again
_MAP_HOLDERS = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any")


def _serialize(columns: tuple[Column, ...]) -> str:
    """The serialization of the message: deterministic only orders map entries, so a message that can hold no map
    is serialized without asking for it (the same bytes, and the keyword costs a quarter of a microsecond)."""
    if any(c.is_map or c.recursion_cut or c.type_name in _MAP_HOLDERS for c in all_columns(columns)):
        return "msg.SerializeToString(deterministic=True)"
    return "msg.SerializeToString()"


def _nested_again(root: tuple[Column, ...], columns: tuple[Column, ...]) -> bool:
    """Whether a field below `columns` has the root's columns (so would share the root's converter function)."""
    return any(c.fields == root or (c.fields and _nested_again(root, c.fields)) for c in columns)


def converter_context(model: Model, table: Table, enum_values: Callable[[str], EnumType]) -> dict[str, object]:
    """Everything the converter template lays out for one table."""
    w = _Writer(enums={}, index=enum_values, unknown=table.unknown_fields)
    if not _nested_again(table.columns, table.columns):  # the root's function serves the root only
        w.early_checked = {
            id(c)
            for c in table.columns
            if not (c.repeated or c.is_map or c.proto_type in _MESSAGES) and any(s.early for s, _ in options.present(c))
        }
    root = w.message(table.message, table.columns, (type_slug(table.message),))
    early = w.early(table)
    before = [f"{early}(d, ctx)"] if early else []
    after = []
    if table.unknown_fields != "REJECT":
        before.append("ctx.unknown = None")
    if table.unknown_fields == "KEEP":
        after.append(f"row[{UNKNOWN_COLUMN.name!r}] = kept_fields(ctx)")
    helpers = w.unknown_helpers | ({"FILTER"} if early else set())
    helpers |= {"kept_fields"} if table.unknown_fields == "KEEP" else set()
    names = w.names.resolve()
    enums = []
    for type_name, values in w.enums.items():
        by_number: dict[int, str] = {}
        for value_name, number in values.items():  # declaration order: an alias is stored as the first name
            by_number.setdefault(number, value_name)
        const = _fill(w.enum(type_name), names)
        names_const = _fill(w.enum_names(type_name), names)
        enums.append((const, names_const, type_name, dict(sorted(values.items())), dict(sorted(by_number.items()))))
    return {
        "message": table.message,
        "table": f"{table.dataset}.{table.name}",
        "imports": sorted({line for spec in w.used for line in spec.imports}),
        "helpers": sorted(set(_CORE_HELPERS).union(helpers, w.setters, *(spec.helpers for spec in w.used))),
        "root": _fill(root, names),
        "serialize": _serialize(table.columns),
        "before": [_fill(line, names) for line in before],
        "after": after,
        "constants": [_fill(line, names) for line in w.constants],
        "enums": sorted(enums),
        "functions": [_fill("\n".join(f), names) for f in reversed(w.functions)],
    }
