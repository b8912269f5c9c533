"""`regex_replace: {pattern: "\\?.*$" replacement: ""}`: replace every match of a pattern in a string value."""

from __future__ import annotations

import re

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, compile_regex
from datahem.runtime.regex import Regex


def _check_template(rx: Regex, template: str) -> None:
    """Raise if a replacement template refers to a group the pattern lacks (noticed only on a match at run time).
    RE2's Python binding reads templates as `re` does: `\\1`, `\\g<1>`, `\\g<name>` and `re`'s escapes."""
    re.sub("", template, "")  # bad escapes raise re.error
    for m in re.finditer(r"\\(\d+)|\\g<(\w+)>", template):
        ref = m.group(1) or m.group(2)
        if ref.isdigit() and int(ref) > rx.groups:
            raise IndexError(f"group {ref} does not exist")
        if not ref.isdigit() and ref not in rx.groupindex:
            raise IndexError(f"group `{ref}` does not exist")


class RegexReplace(ColumnOption[tuple[str, str]]):
    name = "regex_replace"
    proto_types = ("string",)
    helpers = ("regex",)

    def resolve(self, o: ColumnOptions) -> tuple[str, str] | None:
        """(pattern, replacement)."""
        return (o.regex_replace.pattern, o.regex_replace.replacement) if o.HasField("regex_replace") else None

    def check(self, c: Column, value: tuple[str, str], where: Where, d: Diagnostics) -> None:
        pattern, replacement = value
        rx = compile_regex(c, "regex_replace", pattern, d)
        if rx is not None:
            try:
                _check_template(rx, replacement)
            except (re.error, IndexError) as exc:
                d.error(
                    c.option_at("regex_replace"),
                    rules.REGEX_INVALID,
                    f"`regex_replace` replacement `{replacement}` on `{c.field_name}` is invalid: {exc}",
                )

    def transform(self, w: Writer, c: Column, value: tuple[str, str], var: str, p: str, name: str) -> list[str]:
        rx = w.const("replace", f"regex({value[0]!r})")
        return [f"{var} = {rx}.sub({value[1]!r}, {var})"]


SPEC = RegexReplace()
