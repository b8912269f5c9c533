"""What the walker (`compare.py`) pairs and hands to the compatibility handlers (`handlers/`): one frozen value per
kind of pair, and the fields of a message as the comparison sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datahem.compiler.diagnostics import Loc
from datahem.compiler.model.resolve import ProtoIndex, json_name, oneof_of, proto_type_name
from datahem.compiler.projection.columns import ColumnSchema
from datahem.compiler.projection.tables import Root
from datahem.compiler.vocabulary import COLUMN, ONEOF

_OPTIONS_FIELD = 8
_LABEL_REPEATED = 3
_ONEOF_DECL = 8  # DescriptorProto.oneof_decl
_ONEOF_OPTIONS = 2  # OneofDescriptorProto.options

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


def wire_compatible(a: str, b: str) -> bool:
    return a == b or _WIRE_GROUP.get(a, a) == _WIRE_GROUP.get(b, b)


@dataclass(frozen=True)
class Field:
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
    oneof: str | None = None  # a real oneof (not proto3 `optional`)
    oneof_required: bool = False  # that oneof has `(datahem.oneof) = {required: true}`


def fields_of(index: ProtoIndex, message: str) -> list[Field]:
    msg = index.messages[message]
    out = []
    for i, f in enumerate(msg.proto.field):
        oneof, oneof_required = oneof_of(msg.proto, f)
        has = f.options.HasExtension(COLUMN)
        o = f.options.Extensions[COLUMN] if has else None
        path = msg.path + (2, i)
        loc = index.loc(msg.file, path)
        option_loc = index.loc(msg.file, path + (_OPTIONS_FIELD, COLUMN.number)) if has else loc
        out.append(
            Field(
                name=f.name,
                number=f.number,
                json_name=json_name(f),
                type=proto_type_name(f),
                type_name=f.type_name.lstrip("."),
                repeated=f.label == _LABEL_REPEATED,
                required=bool(o and o.required),
                column=None if (o and o.hidden) else ((o.name if o else "") or f.name),
                loc=loc,
                option_loc=option_loc,
                oneof=oneof,
                oneof_required=oneof_required,
            )
        )
    return out


def oneof_loc(index: ProtoIndex, message: str, oneof: str, fallback: Loc) -> Loc:
    """Where a oneof's `(datahem.oneof)` option is written, else `fallback` (the dotted form
    `option (datahem.oneof).required = true;` is recorded at a path the index does not keep)."""
    msg = index.messages[message]
    i = next(i for i, d in enumerate(msg.proto.oneof_decl) if d.name == oneof)
    path = msg.path + (_ONEOF_DECL, i, _ONEOF_OPTIONS, ONEOF.number)  # `option (datahem.oneof) = {...}`
    return index.loc(msg.file, path) if index.located(msg.file, path) else fallback


# -- tables and sources ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RootPair:
    """A message type with a table in both builds (same message, or `new` now holds `old`'s table)."""

    old: Root
    new: Root


@dataclass(frozen=True)
class LostRoot:
    """A message type whose table leaves the project while its source stays with another message."""

    old: Root
    source: str
    new_message: str


@dataclass(frozen=True)
class SourcePair:
    source: str
    message: str  # the old message
    old_routes: frozenset[str]
    new_routes: frozenset[str] | None  # None: the source is gone


@dataclass(frozen=True)
class CategoryPair:
    name: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


# -- fields and enums -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldPair:
    old_type: str
    new_type: str
    old: Field
    new: Field

    @property
    def target(self) -> str:
        return f"{self.old_type}.{self.old.name}"


@dataclass(frozen=True)
class OneofPair:
    """A oneof of the new message that must have one of its fields set (`(datahem.oneof) = {required: true}`)."""

    old_type: str
    new_type: str
    name: str
    fields: tuple[str, ...]  # its fields in the new message
    was_required: bool  # the old message already refused events without one of them (a required oneof within it)
    loc: Loc

    @property
    def target(self) -> str:
        return f"{self.new_type}.{self.name}"


@dataclass(frozen=True)
class FieldGone:
    """A field of the old message no field of the new one matches: removed, or its number now means another field
    (`reused`)."""

    table: str
    old_type: str
    new_type: str
    old: Field
    reused: Field | None
    column: ColumnSchema | None  # its column, when the comparison follows the table
    old_path: tuple[str, ...]
    first: bool  # the first time this message pair is compared
    message_loc: Loc

    @property
    def target(self) -> str:
        return f"{self.old_type}.{self.old.name}"

    @property
    def column_path(self) -> str:
        return ".".join(self.old_path + (self.column.name,)) if self.column is not None else ""


@dataclass(frozen=True)
class EnumValue:
    """One value of an enum in the old build (`new_number` None when it is gone) or, with `old_number` None, one
    the new build adds."""

    old_enum: str
    new_enum: str
    name: str
    old_number: int | None
    new_number: int | None
    loc: Loc


# -- columns --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnPair:
    table: str
    old: ColumnSchema
    new: ColumnSchema
    old_path: tuple[str, ...]  # of the parent
    new_path: tuple[str, ...]
    option_loc: Loc
    loc: Loc
    top: bool
    tighten: bool  # False when the field-level FIELD_MADE_REQUIRED already reported the column becoming REQUIRED
    renamed_field: str = ""  # the FIELD_RENAMED target when the column's field was renamed (the same edit)

    @property
    def old_full(self) -> tuple[str, ...]:
        return self.old_path + (self.old.name,)

    @property
    def new_full(self) -> tuple[str, ...]:
        return self.new_path + (self.new.name,)

    @property
    def path(self) -> str:
        return ".".join(self.new_full)


@dataclass(frozen=True)
class ColumnAdded:
    table: str
    new_path: tuple[str, ...]
    column: ColumnSchema
    loc: Loc
    top: bool

    @property
    def path(self) -> str:
        return ".".join(self.new_path + (self.column.name,))


@dataclass(frozen=True)
class ColumnGone:
    """A column of the old build without one in the new: its field stays but hides it (`field` given), or no field
    explains it (metadata columns, system tables)."""

    table: str
    old_path: tuple[str, ...]
    column: ColumnSchema
    loc: Loc
    field: Field | None = None

    @property
    def path(self) -> str:
        return ".".join(self.old_path + (self.column.name,))
