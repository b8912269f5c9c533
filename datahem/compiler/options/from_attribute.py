"""`from_attribute: "uuid"`: fill the field from a Pub/Sub attribute of the event; the attribute wins when present."""

from __future__ import annotations

import re

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, invalid, not_applicable
from datahem.compiler.suggest import did_you_mean


class FromAttribute(ColumnOption[object]):
    name = "from_attribute"

    def resolve(self, o: ColumnOptions) -> object | None:
        return o.from_attribute or None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        if not re.match(r"^[A-Za-z0-9_.-]{1,256}\Z", str(value)):
            invalid(c, f"`from_attribute` `{value}` is not a Pub/Sub attribute name", d)
        elif value not in where.attributes:
            d.error(
                c.option_at("from_attribute"),
                rules.ATTRIBUTE_UNKNOWN,
                f"`from_attribute` `{value}` on `{c.field_name}` is not an attribute the collectors of "
                f"`{where.table.message}` set, so the column would always be NULL"
                + did_you_mean(str(value), where.attributes)
                + f" (they set: {', '.join(sorted(where.attributes))})",
            )
        if c.proto_type != "string" or c.repeated:
            not_applicable(
                c,
                "from_attribute",
                "attributes are strings: use a singular string field (with a `type` override for e.g. TIMESTAMP)",
                d,
            )

    def lookup(self, w: Writer, c: Column, value: object) -> list[str]:
        return [f"a = ctx.attributes.get({value!r})", "if a is not None:", "    v = a"]


SPEC = FromAttribute()
