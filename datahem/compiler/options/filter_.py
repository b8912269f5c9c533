"""`filter: {pattern: "^(pageview|event)$" action: KEEP}`: keep (or drop) whole events by whether the field's final
value matches; filtered events are dead letters of stage `filter`."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, compile_regex, not_applicable

_ACTION = {0: "KEEP", 1: "KEEP", 2: "DROP"}


class Filter(ColumnOption[tuple[str, str]]):
    name = "filter"
    early = True
    helpers = ("regex", "keep")

    def resolve(self, o: ColumnOptions) -> tuple[str, str] | None:
        """(pattern, KEEP|DROP)."""
        return (o.filter.pattern, _ACTION[o.filter.action]) if o.HasField("filter") else None

    def check(self, c: Column, value: tuple[str, str], where: Where, d: Diagnostics) -> None:
        compile_regex(c, "filter", value[0], d)
        if c.repeated or c.bq_type == "STRUCT":
            not_applicable(c, "filter", "it needs a single scalar value to match", d)

    def transform(self, w: Writer, c: Column, value: tuple[str, str], var: str, p: str, name: str) -> list[str]:
        rx = w.const("filter", f"regex({value[0]!r})")
        return [f"keep({rx}, {value[1]!r}, {var}, {p}, {name})"]


SPEC = Filter()
