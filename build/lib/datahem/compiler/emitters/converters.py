"""Write the specialized converter of one message type as Python source.

The converter is straight-line code, field by field: no walk over descriptors at run time. For each field the
model says everything needed (json name, proto type, BigQuery type and mode, transforms), and this module turns
that into a few lines that call the helpers of `datahem.runtime.beam.convert`. Names, constants and expressions are
computed here; the template (datahem/templates/pipelines/converter.py.j2) only lays out the module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from datahem.compiler.model.resolved import Column, Model, Table
from datahem.runtime import typemap

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
    "google.protobuf.Any": "set_value",
}
_PROTO_DEFAULT_ROW = {"string": '""', "bool": "False", "bytes": '""'}


def module_name(table: Table) -> str:
    return re.sub(r"[^a-z0-9]+", "_", table.message.lower())


@dataclass
class _Writer:
    enums: dict[str, tuple[dict[str, int], str]]  # enum full name -> (values, constant name)
    index: object  # the model's proto index: enum values by name
    constants: list[str] = field(default_factory=list)
    functions: list[list[str]] = field(default_factory=list)
    by_columns: dict[tuple[Column, ...], str] = field(default_factory=dict)
    counter: int = 0

    def const(self, prefix: str, expr: str) -> str:
        name = f"{prefix}{len(self.constants)}"
        self.constants.append(f"{name} = {expr}")
        return name

    def enum(self, type_name: str) -> str:
        if type_name not in self.enums:
            values = dict(self.index(type_name).values)
            const = f"_E{len(self.enums)}"
            self.enums[type_name] = (values, const)
        return self.enums[type_name][1]

    def message(self, full_name: str, columns: tuple[Column, ...]) -> str:
        if columns in self.by_columns:
            return self.by_columns[columns]
        name = f"_m{len(self.by_columns)}"
        self.by_columns[columns] = name
        body: list[str] = []
        known = sorted({c.json_name for c in columns} | {c.field_name for c in columns})
        known_const = self.const("_KNOWN", f"frozenset({known!r})")
        body.append(f"def {name}(d, p, msg, root, ctx):  # {full_name}")
        body.append(f"    if not d.keys() <= {known_const}:")
        body.append(f"        unknown_fields(d, {known_const}, p)")
        oneofs: dict[str, list[Column]] = {}
        for c in columns:
            if c.oneof:
                oneofs.setdefault(c.oneof, []).append(c)
        for oneof, members in sorted(oneofs.items()):
            keys = sorted({m.json_name for m in members} | {m.field_name for m in members})
            names = [m.field_name for m in members]
            present = " + ".join(f"(d.get({k!r}) is not None)" for k in keys)
            body.append(f"    if {present} > 1:")
            body.append(f"        raise only_one(p, {oneof!r}, {names!r})")
        saved = getattr(self, "var", None)
        self.var = {c: f"r{i}" for i, c in enumerate(columns) if not c.hidden}
        for c in columns:
            body.extend("    " + line for line in self.column(c))
        items = ", ".join(f"{c.name!r}: {self.var[c]}" for c in columns if not c.hidden)
        body.append(f"    return {{{items}}}")
        self.functions.append(body)
        self.var = saved
        return name

    # -- one field ---------------------------------------------------------------------------------
    def column(self, c: Column) -> list[str]:
        out = [f"# {c.field_name}: {c.type_name or c.proto_type} -> {c.bq_type} {c.mode}"]
        out.append(f"v = d.get({c.json_name!r})")
        if c.json_name != c.field_name:
            out.append("if v is None:")
            out.append(f"    v = d.get({c.field_name!r})")
        x = c.transforms
        if x.from_attribute:
            out.append(f"a = ctx.attributes.get({x.from_attribute!r})")
            out.append("if a is not None:")
            out.append("    v = a")
        for path in x.coalesce:
            steps = tuple((self._json_step(c, s), s) for s in path.split("."))
            const = self.const("_PATH", repr(steps))
            out.append("if v is None:")
            out.append(f"    v = lookup(root, {const})")
        if c.is_map:
            return out + self._map(c)
        if c.repeated:
            return out + self._repeated(c)
        out.append("if v is None:")
        out.extend("    " + line for line in self._absent(c) or ["pass"])
        out.append("else:")
        out.extend("    " + line for line in self._present(c, "v", "p", repr(c.field_name), f"msg.{c.field_name}"))
        return out

    def _json_step(self, c: Column, step: str) -> str:
        parts = step.split("_")
        return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])

    def _set_row(self, c: Column, expr: str) -> list[str]:
        return [] if c.hidden else [f"{self.var[c]} = {expr}"]

    def _absent(self, c: Column) -> list[str]:
        if c.required:
            return [f"raise required(p, {c.field_name!r})"]
        x = c.transforms
        if x.default_policy == "PROTO_DEFAULT" and c.proto_type != "message":
            return self._set_row(c, self._proto_default_row(c))
        if x.default_policy == "VALUE" and x.default_value is not None:
            literal = self._default_literal(c, x.default_value)
            self._literal = True
            try:
                return self._present(c, literal, "p", repr(c.field_name), f"msg.{c.field_name}")
            finally:
                self._literal = False
        return self._set_row(c, "None")

    def _proto_default_row(self, c: Column) -> str:
        if c.proto_type == "enum":
            return f"{self.enum(c.type_name)}_NAMES[0]" if c.bq_type == "STRING" else "0"
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
        if c.proto_type == "message" and c.type_name in _WKT_SETTER and not c.fields:
            return self._wkt(c, v, p, name, target)
        if c.proto_type == "message" and c.type_name in _WRAPPER_SCALAR:
            lines = self._scalar_check(c, _WRAPPER_SCALAR[c.type_name], v, p, name)
            lines.append(f"{target}.value = pv")
            return lines + self._row_value(c, "pv", p, name, _WRAPPER_SCALAR[c.type_name])
        if c.proto_type == "message" and c.recursion_cut:
            return (
                self._set_row(c, f"set_json_tail({target}, {v}, {p}, {name})")
                if not c.hidden
                else [f"set_json_tail({target}, {v}, {p}, {name})"]
            )
        if c.proto_type == "message":
            fn = self.message(c.type_name, c.fields)
            sub_prefix = f"{p} + {c.field_name + '.'!r}" if name == repr(c.field_name) else f"{p} + {name} + '.'"
            lines = [
                f"if {v}.__class__ is not dict:",
                f"    {v} = as_object({v}, {p}, {name})",
                f"sub = {target}",
                f"if not {v}:",
                "    sub.SetInParent()",
            ]
            call = f"{fn}({v}, {sub_prefix}, sub, root, ctx)"
            return lines + (self._set_row(c, call) if not c.hidden else [call])
        lines = self._scalar_check(c, c.proto_type, v, p, name)
        lines += self._transforms(c, p, name)
        assign = "pv"
        lines.append(f"{target} = {assign}")
        return lines + self._row_value(c, "pv", p, name, c.proto_type)

    def _wkt(self, c: Column, v: str, p: str, name: str, target: str) -> list[str]:
        setter = _WKT_SETTER[c.type_name]
        lines = [f"rv = {setter}({target}, {v}, {p}, {name})"]
        if c.bq_type != c.natural_type:
            lines.append(f"rv = to_bq(rv, {c.bq_type!r}, {p}, {name})")
        if c.transforms.filter:
            rx = self.const("_RX", f"re.compile({c.transforms.filter[0]!r})")
            lines.append(f"keep({rx}, {c.transforms.filter[1]!r}, rv, {p}, {name})")
        return lines + self._set_row(c, "rv")

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
            return [f"pv = {v} if {v}.__class__ is float else as_float({v}, {p}, {name})"]
        if proto_type == "bytes":
            return [f"pv = as_bytes({v}, {p}, {name})"]
        if proto_type == "enum":
            const = self.enum(c.type_name)
            return [
                f"pv = {const}.get({v}) if {v}.__class__ is str else None",
                "if pv is None:",
                f"    pv = as_enum({v}, {const}, {const}_NAMES, {p}, {name})",
            ]
        raise ValueError(f"unsupported proto type {proto_type} for {c.field_name}")

    def _transforms(self, c: Column, p: str, name: str) -> list[str]:
        x = c.transforms
        lines: list[str] = []
        if x.local_to_utc:
            zone = self.const("_TZ", f"ZoneInfo({x.local_to_utc[0]!r})")
            lines.append(f"pv = local_to_utc(pv, {zone}, {x.local_to_utc[1]!r}, {p}, {name})")
        if x.regex_extract:
            rx = self.const("_RX", f"re.compile({x.regex_extract[0]!r})")
            lines.append(f"pv = regex_extract({rx}, {x.regex_extract[1]}, pv)")
            lines.append("if pv is None:")
            lines.append(
                f"    raise Reject(TRANSFORM, {p} + {name}, "
                f"{'regex_extract found no match in ' + repr(x.regex_extract[0])!r})"
            )
        if x.regex_replace:
            rx = self.const("_RX", f"re.compile({x.regex_replace[0]!r})")
            lines.append(f"pv = {rx}.sub({x.regex_replace[1]!r}, pv)")
        if x.append:
            lines.append(f"pv = pv + {x.append!r}")
        if x.pseudonymize:
            lines.append(f"pv = pseudonymize(pv, ctx.keys[{x.pseudonymize!r}])")
        if x.filter:
            rx = self.const("_RX", f"re.compile({x.filter[0]!r})")
            lines.append(f"keep({rx}, {x.filter[1]!r}, pv, {p}, {name})")
        return lines

    def _row_value(self, c: Column, pv: str, p: str, name: str, proto_type: str) -> list[str]:
        if c.hidden:
            return []
        return [f"{self.var[c]} = {self._row_expr(c, pv, p, name, proto_type)}"]

    def _row_expr(self, c: Column, pv: str, p: str, name: str, proto_type: str) -> str:
        """The row value of a converted proto value: enum names, base64 bytes, NUMERIC text, divide, overrides."""
        expr = pv
        natural = typemap.SCALARS.get(proto_type, c.natural_type)
        if proto_type == "enum":
            const = self.enum(c.type_name)
            expr = f"{const}_NAMES[{pv}]" if c.bq_type == "STRING" else pv
            natural = c.bq_type
        elif proto_type == "bytes":
            expr = f"b64({pv})"
        elif natural == "NUMERIC" and proto_type in _INT_BOUNDS:
            expr = f"str({pv})"
        if c.transforms.divide is not None:
            div = self.const("_DIV", f"Decimal({str(c.transforms.divide)!r})")
            expr = f"divide({expr}, {div}, {c.bq_type!r}, {p}, {name})"
            natural = c.bq_type
        if c.bq_type != natural:
            expr = f"to_bq({expr}, {c.bq_type!r}, {p}, {name})"
        return expr

    def _repeated(self, c: Column) -> list[str]:
        out = ["if v is None:"]
        out.extend("    " + line for line in self._set_row(c, "[]") or ["pass"])
        out.append("else:")
        out.append("    if v.__class__ is not list:")
        out.append(f"        v = as_list(v, p, {c.field_name!r})")
        out.append("    out = []")
        scalar = c.proto_type != "message"
        out.append(f"    {'append' if scalar else 'add'} = msg.{c.field_name}.{'append' if scalar else 'add'}")
        out.append("    for i, x in enumerate(v):")
        elem = "f'" + c.field_name + "[{i}]'"
        if c.proto_type == "message" and c.type_name not in _WKT_SETTER and c.type_name not in _WRAPPER_SCALAR:
            fn = self.message(c.type_name, c.fields)
            if c.recursion_cut:
                body = [f"out.append(set_json_tail(add(), x, p, {elem}))"]
            else:
                body = [
                    "if x.__class__ is not dict:",
                    f"    x = as_object(x, p, {elem})",
                    f"out.append({fn}(x, f'{{p}}{c.field_name}[{{i}}].', add(), root, ctx))",
                ]
        elif c.proto_type == "message" and c.type_name in _WKT_SETTER:
            setter = _WKT_SETTER[c.type_name]
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
        out.extend("    " + line for line in self._set_row(c, "out"))
        return out

    def _map(self, c: Column) -> list[str]:
        key_col, val_col = c.fields
        out = ["if v is None:"]
        out.extend("    " + line for line in self._set_row(c, "[]") or ["pass"])
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
        if val_col.proto_type == "message" and val_col.type_name not in _WKT_SETTER:
            fn = self.message(val_col.type_name, val_col.fields)
            body.append(f"rv = {fn}(as_object(x, p, {elem}), p + {elem} + '.', msg.{c.field_name}[key], root, ctx)")
        elif val_col.proto_type == "message":
            setter = _WKT_SETTER[val_col.type_name]
            body.append(f"rv = {setter}(msg.{c.field_name}[key], x, p, {elem})")
        else:
            body += self._scalar_check(val_col, val_col.proto_type, "x", "p", elem)
            body.append(f"msg.{c.field_name}[key] = pv")
            body.append(f"rv = {self._row_expr(val_col, 'pv', 'p', elem, val_col.proto_type)}")
        body.append(f"out.append({{'key': {key_row}, 'value': rv}})")
        out.extend("        " + line for line in body)
        out.extend("    " + line for line in self._set_row(c, "out"))
        return out


def converter_context(model: Model, table: Table, enum_values) -> dict:
    """Everything the converter template lays out for one table."""
    w = _Writer(enums={}, index=enum_values)
    root = w.message(table.message, table.columns)
    enums = []
    for type_name, (values, const) in sorted(w.enums.items(), key=lambda kv: kv[1][1]):
        names = {number: name for name, number in sorted(values.items(), key=lambda kv: kv[1], reverse=True)}
        enums.append((const, type_name, dict(sorted(values.items())), dict(sorted(names.items()))))
    return {
        "message": table.message,
        "table": f"{table.dataset}.{table.name}",
        "root": root,
        "constants": w.constants,
        "enums": enums,
        "functions": ["\n".join(f) for f in reversed(w.functions)],
    }
