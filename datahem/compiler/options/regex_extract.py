"""`regex_extract: {pattern: "^https?://([^/]+)" group: 1}`: keep what a group captures; no match is a transform
error."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, compile_regex, invalid


class RegexExtract(ColumnOption[tuple[str, int]]):
    name = "regex_extract"
    proto_types = ("string",)
    helpers = ("regex", "regex_extract", "Reject", "TRANSFORM")

    def resolve(self, o: ColumnOptions) -> tuple[str, int] | None:
        """(pattern, group)."""
        return (o.regex_extract.pattern, o.regex_extract.group) if o.HasField("regex_extract") else None

    def check(self, c: Column, value: tuple[str, int], where: Where, d: Diagnostics) -> None:
        pattern, group = value
        rx = compile_regex(c, "regex_extract", pattern, d)
        if rx is not None and group > rx.groups:
            invalid(
                c,
                f"`regex_extract` on `{c.field_name}` keeps group {group}, but the pattern has {rx.groups} group(s)",
                d,
            )

    def transform(self, w: Writer, c: Column, value: tuple[str, int], var: str, p: str, name: str) -> list[str]:
        pattern, group = value
        rx = w.const("extract", f"regex({pattern!r})")
        return [
            f"{var} = regex_extract({rx}, {group}, {var})",
            f"if {var} is None:",
            f"    raise Reject(TRANSFORM, {p} + {name}, {'regex_extract found no match in ' + repr(pattern)!r})",
        ]


SPEC = RegexExtract()
