"""Options that are attributes of the column itself: the resolver reads them into `Column` (name, description,
category, bq_type, hidden, required/mode), so they have no value in `Column.transforms`."""

from __future__ import annotations

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, Where, Writer, not_applicable, unknown_category
from datahem.runtime import typemap


class Name(ColumnOption[object]):
    """`name: "client_id"`: the column name (identifiers and collisions are checked with the table's names)."""

    name = "name"
    shape = True

    def value(self, c: Column) -> object | None:
        return c.name if c.name != c.field_name else None


class Description(ColumnOption[object]):
    """`description: "..."`: the column description (its length is checked with the table's limits)."""

    name = "description"

    def value(self, c: Column) -> object | None:
        return None  # a description is always set (the field's comment by default) and never checked here


class Category(ColumnOption[object]):
    """`category: "pii_email"`: a category of sources.yaml, the column's policy tag (leaf columns only)."""

    name = "category"

    def value(self, c: Column) -> object | None:
        return c.category

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        if c.category not in where.categories:
            unknown_category(c, where.categories, d)
        elif c.bq_type == "STRUCT":
            not_applicable(
                c,
                "category",
                "BigQuery puts policy tags on leaf columns only; set the category on "
                "the fields of the nested message instead",
                d,
            )


class Type(ColumnOption[object]):
    """`type: "NUMERIC"`: a BigQuery type override, legal for the proto type (typemap.LEGAL_OVERRIDES)."""

    name = "type"
    shape = True

    def value(self, c: Column) -> object | None:
        return c.bq_type if c.bq_type != c.natural_type and not c.recursion_cut else None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        if c.bq_type not in typemap.ALL_TYPES:
            d.error(
                c.option_at("type"),
                rules.TYPE_OVERRIDE_ILLEGAL,
                f'`type: "{c.bq_type}"` on field `{c.field_name}` is not a BigQuery type; use one of '
                f"{', '.join(sorted(typemap.ALL_TYPES - {'STRUCT'}))}",
            )
        elif c.natural_type == "STRUCT" or not typemap.override_allowed(c.proto_type, c.natural_type, c.bq_type):
            allowed = sorted(typemap.LEGAL_OVERRIDES.get("ENUM" if c.proto_type == "enum" else c.natural_type, ()))
            d.error(
                c.option_at("type"),
                rules.TYPE_OVERRIDE_ILLEGAL,
                f"field `{c.field_name}` is proto {c.type_name or c.proto_type} ({c.natural_type}) and cannot be "
                f"stored as {c.bq_type}; allowed: {', '.join(allowed) or 'no override'}",
            )


class Hidden(ColumnOption[object]):
    """`hidden: true`: kept in the protobuf stream, no BigQuery column."""

    name = "hidden"
    shape = True

    def value(self, c: Column) -> object | None:
        return True if c.hidden else None


class Required(ColumnOption[object]):
    """`required: true`: events without the field are rejected; the column is REQUIRED."""

    name = "required"
    shape = True
    helpers = ("required",)

    def value(self, c: Column) -> object | None:
        return True if c.required else None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        if c.repeated:
            not_applicable(c, "required", "a repeated field is a list that may be empty; drop `required`", d)

    def absent(self, w: Writer, c: Column, value: object) -> list[str] | None:
        return [f"raise required(p, {c.field_name!r})"]


NAME = Name()
DESCRIPTION = Description()
CATEGORY = Category()
TYPE = Type()
HIDDEN = Hidden()
REQUIRED = Required()
