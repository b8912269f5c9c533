"""The row message of the BigQuery Storage Write API, per table: its `DescriptorProto` (what the compiler writes to
`generated/bigquery/<dataset>/<table>.row.txtpb`, and what the writer sends as its writer schema), and the encoder
that fills it from a row as the converters produce it (the row dict of the `insertAll` path).

The descriptor follows the table's schema JSON field by field, in column order: field numbers 1, 2, ...; REQUIRED
columns are proto2 `required` (a row without one is refused before it is sent), REPEATED ones `repeated`; a STRUCT
is a nested message type named `S_<column>` (unique among its siblings). Wire encodings (`typemap.STORAGE_WRITE_TYPES`):
TIMESTAMP int64 microseconds, DATE int32 days since 1970-01-01, NUMERIC/BIGNUMERIC/DATETIME/TIME/INTERVAL/GEOGRAPHY/
JSON as their text, BYTES as bytes (the row dict carries them base64-encoded, as `insertAll` takes them).

The encoder is compiled once per table from the schema JSON (which knows the BigQuery types; the descriptor alone
cannot tell a TIMESTAMP from an INT64) into one setter per column; a value it cannot encode raises `RowError` naming
the column, so the row becomes a `write` dead letter.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.message import EncodeError

from datahem.runtime import typemap

_LABELS = {"REQUIRED": "LABEL_REQUIRED", "REPEATED": "LABEL_REPEATED"}


class RowError(ValueError):
    """A row the row message cannot carry (a value of the wrong type, a missing REQUIRED column, an unknown key)."""


def _sql_type(field: Mapping[str, Any]) -> str:
    text = str(field.get("type", "STRING")).upper()
    return typemap.SQL_NAMES.get(text, text)


def _struct_type_names(fields: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """The nested type name of each STRUCT column, by position: `S_<column>`, moved aside (`_` appended) while it is
    taken by a column or an earlier nested type."""
    taken = {str(f["name"]) for f in fields}
    names = {}
    for i, f in enumerate(fields):
        if _sql_type(f) == "STRUCT":
            type_name = f"S_{f['name']}"
            while type_name in taken:
                type_name += "_"
            taken.add(type_name)
            names[i] = type_name
    return names


def _proto_type(f: Mapping[str, Any]) -> str:
    proto_type = typemap.STORAGE_WRITE_TYPES.get(_sql_type(f))
    if proto_type is None:
        raise _no_encoding(f)
    return proto_type


def _no_encoding(f: Mapping[str, Any]) -> ValueError:
    return ValueError(f"column {f['name']}: the Storage Write API has no encoding for {_sql_type(f)}")


def _label(f: Mapping[str, Any]) -> str:
    return _LABELS.get(str(f.get("mode") or "NULLABLE").upper(), "LABEL_OPTIONAL")


@functools.lru_cache(maxsize=256)
def _field_text(bq_type: str, mode: str, indent: str) -> str | None:
    """The label and type lines of a field of this schema type and mode, None when the type has no encoding (a
    handful of pairs, met 40,000 times in a large project)."""
    f = {"type": bq_type, "mode": mode}
    proto_type = typemap.STORAGE_WRITE_TYPES.get(_sql_type(f))
    return None if proto_type is None else f"{indent}label: {_label(f)}\n{indent}type: {proto_type}\n"


def row_descriptor(name: str, fields: Sequence[Mapping[str, Any]]) -> descriptor_pb2.DescriptorProto:
    """The row message of a table from its schema JSON `fields` (the REST API's TableFieldSchema list)."""
    message = descriptor_pb2.DescriptorProto(name=name)
    structs = _struct_type_names(fields)
    for number, f in enumerate(fields, start=1):
        field = message.field.add(name=str(f["name"]), number=number, label=_label(f), type=_proto_type(f))
        type_name = structs.get(number - 1)
        if type_name is not None:
            message.nested_type.append(row_descriptor(type_name, f.get("fields") or []))
            field.type_name = type_name  # relative: resolved in the enclosing message's scope
    return message


def descriptor_text(descriptor: descriptor_pb2.DescriptorProto) -> str:
    """Protobuf text format of a descriptor: deterministic (fields in declaration order), one field per line."""
    return text_format.MessageToString(descriptor, as_one_line=False)


def row_text(name: str, fields: Sequence[Mapping[str, Any]]) -> str:
    """`descriptor_text(row_descriptor(name, fields))`, written directly from the fields (what the compiler writes
    for every table): protobuf's text printer walks each field of each descriptor by reflection, 40 times slower."""
    out: list[str] = []
    _row_text(name, fields, "", out)
    return "".join(out)


def _row_text(name: str, fields: Sequence[Mapping[str, Any]], indent: str, out: list[str]) -> None:
    # text format order: a DescriptorProto's name (1), field (2), nested_type (3); a field's name (1), number (3),
    # label (4), type (5), type_name (6)
    structs = _struct_type_names(fields)
    out.append(f'{indent}name: "{_quoted(name)}"\n')
    inner = indent + "  "
    for number, f in enumerate(fields, start=1):
        kind = _field_text(f.get("type", "STRING"), f.get("mode") or "", inner)
        if kind is None:
            raise _no_encoding(f)
        out.append(f'{indent}field {{\n{inner}name: "{_quoted(str(f["name"]))}"\n{inner}number: {number}\n{kind}')
        if number - 1 in structs:
            out.append(f'{inner}type_name: "{_quoted(structs[number - 1])}"\n')
        out.append(f"{indent}}}\n")
    for i, type_name in structs.items():
        out.append(f"{indent}nested_type {{\n")
        _row_text(type_name, fields[i].get("fields") or [], inner, out)
        out.append(f"{indent}}}\n")


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    """A string's body in text format, escaped as protobuf's printer does (BigQuery column names need none)."""
    if text.isascii() and text.replace("_", "a").isalnum():
        return text
    return text_format.MessageToString(descriptor_pb2.DescriptorProto(name=text))[len('name: "') : -len('"\n')]


def read_descriptor(path: Path) -> descriptor_pb2.DescriptorProto:
    return text_format.Parse(Path(path).read_text(encoding="utf-8"), descriptor_pb2.DescriptorProto())


def message_class(descriptor: descriptor_pb2.DescriptorProto) -> Any:
    """A message class of the row descriptor, in a private pool (proto2, as the Write API requires)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(  # type: ignore[no-untyped-call]
        descriptor_pb2.FileDescriptorProto(
            name=f"{descriptor.name}.row.proto", syntax="proto2", message_type=[descriptor]
        )
    )
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(descriptor.name))  # type: ignore[no-untyped-call]


# --- values of the row dict -> the Write API's encodings ----------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def timestamp_micros(value: Any) -> int:
    """RFC 3339 text (what the converters and metadata rows hold), a datetime, or microseconds already."""
    if value.__class__ is int:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    micros: int = (value - _EPOCH) // _MICRO
    return micros


def date_days(value: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value.toordinal() - _EPOCH_DAY


def _text(value: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, (bool, dict, list, float)) or value is None:
        raise TypeError(f"expected text, got {type(value).__name__}")
    return str(value)  # Decimal, int


def _json_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    raise TypeError(f"expected bytes or base64 text, got {type(value).__name__}")


def _float(value: Any) -> float:
    if value.__class__ is float:
        return value
    if isinstance(value, bool):
        raise TypeError("expected a number, got bool")
    return float(value)  # int, or "NaN" / "Infinity" / "-Infinity"


def _int(value: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


# None: the value is passed as it is (protobuf checks its type)
_CONVERT: dict[str, Callable[[Any], object] | None] = {
    "STRING": None,
    "BYTES": _bytes,
    "INT64": _int,
    "FLOAT64": _float,
    "BOOL": None,
    "NUMERIC": _text,
    "BIGNUMERIC": _text,
    "TIMESTAMP": timestamp_micros,
    "DATE": date_days,
    "DATETIME": None,
    "TIME": None,
    "INTERVAL": None,
    "GEOGRAPHY": None,
    "JSON": _json_text,
}

Fill = Callable[[Any, Mapping[str, Any], str], None]
Step = Callable[[Any, Any, str], None]


def _compile(fields: Sequence[Mapping[str, Any]]) -> Fill:
    """A function filling a message of these columns from a row dict (path: the column prefix for errors)."""
    steps: dict[str, Step] = {}
    for f in fields:
        name = str(f["name"])
        bq_type = _sql_type(f)
        repeated = str(f.get("mode") or "").upper() == "REPEATED"
        if bq_type == "STRUCT":
            sub = _compile(f.get("fields") or [])
            steps[name] = _repeated_struct(name, sub) if repeated else _struct(name, sub)
        else:
            conv = _CONVERT[bq_type]
            steps[name] = _repeated_scalar(name, conv) if repeated else _scalar(name, conv)

    def fill(msg: Any, row: Mapping[str, Any], path: str) -> None:
        for key, value in row.items():
            if value is None:
                continue
            step = steps.get(key)
            if step is None:
                raise RowError(f"{path}{key}: no such column in the table")
            step(msg, value, path)

    return fill


def _scalar(name: str, conv: Callable[[Any], object] | None) -> Step:
    def step(msg: Any, value: Any, path: str) -> None:
        try:
            setattr(msg, name, value if conv is None else conv(value))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise RowError(f"{path}{name}: cannot encode {value!r:.100}: {exc}") from None

    return step


def _repeated_scalar(name: str, conv: Callable[[Any], object] | None) -> Step:
    def step(msg: Any, value: Any, path: str) -> None:
        try:
            getattr(msg, name).extend(value if conv is None else [conv(v) for v in value])
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise RowError(f"{path}{name}: cannot encode {value!r:.100}: {exc}") from None

    return step


def _struct(name: str, sub: Fill) -> Step:
    def step(msg: Any, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise RowError(f"{path}{name}: expected a STRUCT (object), got {type(value).__name__}")
        child = getattr(msg, name)
        child.SetInParent()
        sub(child, value, f"{path}{name}.")

    return step


def _repeated_struct(name: str, sub: Fill) -> Step:
    def step(msg: Any, value: Any, path: str) -> None:
        add = getattr(msg, name).add
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise RowError(f"{path}{name}[{i}]: expected a STRUCT (object), got {type(item).__name__}")
            sub(add(), item, f"{path}{name}[{i}].")

    return step


# What must change before a row dict can go to the message's constructor as it is (the values converters produce);
# anything else the constructor refuses takes the column-by-column path, which converts more (text integers, Decimal
# NUMERICs, "NaN" strings) and names the column at fault.
_FAST: dict[str, Callable[[Any], object]] = {
    "TIMESTAMP": timestamp_micros,
    "DATE": date_days,
    "BYTES": _bytes,
    "JSON": _json_text,
}

Prepare = Callable[[Mapping[str, Any]], dict[str, Any]]


def _prepare(fields: Sequence[Mapping[str, Any]]) -> Prepare | None:
    """A function returning a copy of a row dict whose values the message constructor takes, or None when the
    row dicts of these columns need no change."""
    convs: list[tuple[str, Callable[[Any], object], bool]] = []
    for f in fields:
        bq_type = _sql_type(f)
        repeated = str(f.get("mode") or "").upper() == "REPEATED"
        conv = _prepare(f.get("fields") or []) if bq_type == "STRUCT" else _FAST.get(bq_type)
        if conv is not None:
            convs.append((str(f["name"]), conv, repeated))
    if not convs:
        return None

    def prepare(row: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, conv, repeated in convs:
            value = out.get(name)
            if value is not None:
                out[name] = [conv(v) for v in value] if repeated else conv(value)
        return out

    return prepare


class RowEncoder:
    """Serialized row messages of one table from its row dicts: the message's constructor takes the row dict (with
    TIMESTAMP, DATE, BYTES and JSON values converted first), in C; a row it refuses is filled column by column, which
    converts more and names the column at fault (`RowError`)."""

    def __init__(self, descriptor: descriptor_pb2.DescriptorProto, fields: Sequence[Mapping[str, Any]]):
        expected = row_descriptor(descriptor.name, fields)
        if expected != descriptor:
            raise ValueError(
                f"the row message {descriptor.name} does not match the table's schema JSON: regenerate generated/ "
                "(`datahem build`)"
            )
        self.descriptor = descriptor
        self.cls = message_class(descriptor)
        self._fill = _compile(fields)
        self._prepare = _prepare(fields) or dict

    @classmethod
    def for_table(cls, bigquery_dir: Path, table: str) -> RowEncoder:
        """The encoder of `dataset.table` from generated/bigquery/<dataset>/<table>.row.txtpb and .schema.json."""
        dataset, name = table.split(".", 1)
        base = Path(bigquery_dir) / dataset / name
        fields = json.loads(base.with_name(f"{name}.schema.json").read_text(encoding="utf-8"))["fields"]
        return cls(read_descriptor(base.with_name(f"{name}.row.txtpb")), fields)

    def encode(self, row: Mapping[str, Any]) -> bytes:
        try:
            msg = self.cls(**self._prepare(row))
        except Exception:  # noqa: BLE001 - the column-by-column path says what is wrong, or converts it
            msg = self.cls()
            self._fill(msg, row, "")
        try:
            data: bytes = msg.SerializeToString()
            return data
        except EncodeError as exc:
            raise RowError(f"a REQUIRED column has no value: {exc}") from None
