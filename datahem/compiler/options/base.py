"""What a column option is: one `ColumnOption` per field of `datahem.ColumnOptions` (the `(datahem.column)`
extension), saying where the option applies, how it resolves, how it is checked, what converter code it generates
and which runtime helpers that code needs. The resolver, the checks and the converter generator only loop over the
registry (`datahem.compiler.options.COLUMN_OPTIONS`); none of them names an option.

Converter code is generated in phases, each a hook of the spec, called in registry order for the options a field
has (those whose `value` is not None):

- `lookup`: after `v` is read from the JSON, where else a value may come from (`from_attribute`, `coalesce`);
- `absent`: the lines when the field is absent; the first option that returns lines wins (`required`,
  `default_policy`), else the row gets NULL;
- `transform`: lines rewriting the converted proto value in `var` (`pv`, or `rv` for well-known types), before it is
  set on the message (`local_to_utc` ... `filter`);
- `row`: wraps the BigQuery row expression; the result must already have the column's BigQuery type (`divide`).

An option that decides whether the event is kept at all (`early`, the `filter`) is also evaluated before anything else
of the event is looked at, on a scalar reachable from the root through single messages: its value is read and
transformed as in the main pass, up to the option, so that a filtered event is a dead letter of stage `filter`
whatever else is wrong with it (unknown fields, bad values elsewhere). Where that value cannot be computed, the main
pass reports why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar, cast

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column, Table
from datahem.compiler.suggest import did_you_mean
from datahem.compiler.vocabulary import options_pb2
from datahem.runtime import regex

ColumnOptions = options_pb2.ColumnOptions

NUMERIC_PROTO = (
    "double",
    "float",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "sint32",
    "sint64",
    "fixed32",
    "fixed64",
    "sfixed32",
    "sfixed64",
)


@dataclass(frozen=True)
class Where:
    """What a check may look at beyond the column: its table, the categories of sources.yaml, the table's field
    paths (dotted, from the root; repeated fields are not entered) and the attributes its events may carry."""

    table: Table
    categories: set[str]
    paths: dict[str, Column]
    # the Pub/Sub attributes events of this table may carry: the collectors' of the sources that feed it
    attributes: frozenset[str] = frozenset()


class Writer(Protocol):
    """The converter generator, as the converter hooks of an option see it."""

    def const(self, kind: str, expr: str, detail: str = "") -> str:
        """A module constant `_<kind>_<message>_<field>[_<detail>]` for the field being written; returns its name."""
        ...

    def set_row(self, c: Column, expr: str) -> list[str]:
        """Lines setting the field's row value (none when the column is hidden)."""
        ...

    def proto_default_row(self, c: Column) -> str:
        """The row value of the field's proto3 default."""
        ...

    def present_literal(self, c: Column, text: str) -> list[str]:
        """Lines converting a literal in the field's JSON form as if it had been sent."""
        ...


V = TypeVar("V")


class ColumnOption(Generic[V]):
    """One column option, whose resolved value is a `V`. Subclasses set `name` (the field of datahem.ColumnOptions)
    and override what they need; the defaults do nothing."""

    name: ClassVar[str]
    # Changes the column's name, type, mode or presence: a change of it is a schema change for evolution.
    shape: ClassVar[bool] = False
    # Decides whether the whole event is kept: evaluated first, before the event's other fields (see above).
    early: ClassVar[bool] = False
    # The proto types of fields the option applies to; empty: any field.
    proto_types: ClassVar[tuple[str, ...]] = ()
    # Names the generated code imports from datahem.runtime.beam.convert, and standard-library import lines.
    helpers: ClassVar[tuple[str, ...]] = ()
    imports: ClassVar[tuple[str, ...]] = ()

    def resolve(self, o: ColumnOptions) -> V | None:
        """The option's value in `Column.transforms`, None when unset. Options that are attributes of the column
        itself (name, type, required...) are read by the resolver and return None here."""
        return None

    def value(self, c: Column) -> V | None:
        """The option's value on a resolved column, None when unset."""
        # Column.transforms holds, under this option's name, what `resolve` of this spec returned.
        return cast("V | None", c.transforms.get(self.name))

    def check(self, c: Column, value: V, where: Where, d: Diagnostics) -> None:
        """Report what is wrong with the value (the proto type was checked already)."""

    def lookup(self, w: Writer, c: Column, value: V) -> list[str]:
        return []

    def absent(self, w: Writer, c: Column, value: V) -> list[str] | None:
        return None

    def transform(self, w: Writer, c: Column, value: V, var: str, p: str, name: str) -> list[str]:
        return []

    def row(self, w: Writer, c: Column, value: V, expr: str, p: str, name: str) -> str:
        return expr


# -- diagnostics shared by the options' checks -------------------------------------------------------------------


def unknown_category(c: Column, names: set[str], d: Diagnostics) -> None:
    d.error(
        c.option_at("category"),
        rules.CATEGORY_UNKNOWN,
        f"category `{c.category}` of field `{c.field_name}` is not defined in sources.yaml"
        f"{did_you_mean(str(c.category), names, end=' ') or '; '}known categories: "
        f"{', '.join(sorted(names)) or '(none)'}",
    )


def not_applicable(c: Column, option: str, why: str, d: Diagnostics) -> None:
    d.error(c.option_at(option), rules.OPTION_NOT_APPLICABLE, f"`{option}` on field `{c.field_name}`: {why}")


def invalid(c: Column, message: str, d: Diagnostics) -> None:
    d.error(c.option_loc, rules.OPTION_VALUE_INVALID, message)


def compile_regex(c: Column, option: str, pattern: str, d: Diagnostics) -> regex.Regex | None:
    """The pattern compiled as the converters compile it (RE2), or None and a diagnostic with RE2's reason."""
    try:
        return regex.compile(pattern)
    except regex.RegexError as exc:
        reason = str(exc)
        d.error(
            c.option_at(option),
            rules.REGEX_INVALID,
            f"`{option}` pattern `{pattern}` on field `{c.field_name}` does not compile with RE2 (the syntax of "
            f"BigQuery's REGEXP functions, matched in linear time): {reason}{_re2_hint(reason)}",
        )
        return None


def _re2_hint(reason: str) -> str:
    if "perl operator: (?=" in reason or "perl operator: (?!" in reason or "perl operator: (?<" in reason:
        return "; RE2 has no lookaround: match the context in a group and keep the group you need"
    if re.search(r"escape sequence: \\[1-9]", reason):
        return "; RE2 has no backreferences"
    if "escape sequence: \\Z" in reason:
        return "; RE2 writes the end of the text `\\z`"
    return ""
