"""`indexed: {prefix: "pr" index_field: "index"}` on a repeated message field: the indexed parameters of the
enclosing flat object (`pr1id`, `pr1nm`, `pr2id`, as the Universal Analytics Measurement Protocol sends Enhanced
Ecommerce products, impressions, promotions and custom dimensions) become its elements, one per index in index
order, each parameter's suffix naming a field of the element (`pr1id` -> element 1, field `id`). Nested indexed
parameters (`il1pi2id`) are gathered the same way inside each element by an `indexed` field of the element. A
parameter without a suffix (`cd3`) goes to `value_field`. Gathered parameters are not unknown fields of the object.
"""

from __future__ import annotations

import re

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column, all_columns
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, invalid, not_applicable

PREFIX = re.compile(r"^[A-Za-z_][A-Za-z_]{0,31}\Z")
INTEGERS = ("int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64")


def keys_pattern(prefixes: list[str]) -> str:
    """The parameters the `indexed` fields of one message gather: a prefix, an index of 1 to 9 digits, then a suffix
    starting with a non-digit or none (taken only by a field with a value_field), as groups (prefix, index, suffix)."""
    return f"^({'|'.join(re.escape(prefix) for prefix in sorted(prefixes))})([0-9]{{1,9}})([^0-9].*)?\\Z"


class Indexed(ColumnOption[tuple[str, str, str]]):
    name = "indexed"
    proto_types = ("message",)
    helpers = ("gather",)
    imports = ("import re",)  # the message's pattern of gathered keys (datahem.compiler.emitters.converters)

    def resolve(self, o: ColumnOptions) -> tuple[str, str, str] | None:
        """(prefix, index_field, value_field)."""
        if not o.HasField("indexed"):
            return None
        return (o.indexed.prefix, o.indexed.index_field, o.indexed.value_field)

    def check(self, c: Column, value: tuple[str, str, str], where: Where, d: Diagnostics) -> None:
        prefix, index_field, value_field = value
        if not c.repeated or c.is_map or c.recursion_cut:
            not_applicable(c, "indexed", "it gathers parameters into the elements of a repeated message field", d)
            return
        if not PREFIX.match(prefix):
            invalid(c, f"`indexed` prefix `{prefix}` on `{c.field_name}` must be 1 to 32 letters or `_`", d)
        siblings = next((x.fields for x in all_columns(where.table.columns) if c in x.fields), where.table.columns)
        for other in siblings[: siblings.index(c)] if c in siblings else ():
            theirs = other.transforms.get("indexed")
            if isinstance(theirs, tuple) and theirs[0] == prefix:
                invalid(
                    c, f"`indexed` prefix `{prefix}` on `{c.field_name}` is gathered by `{other.field_name}` too", d
                )
        fields = {f.field_name: f for f in c.fields}
        if index_field and (index_field not in fields or fields[index_field].proto_type not in INTEGERS):
            invalid(
                c,
                f"`indexed` index_field `{index_field}` on `{c.field_name}` must name an integer field of "
                f"`{c.type_name}`",
                d,
            )
        if value_field and (value_field not in fields or fields[value_field].repeated):
            invalid(
                c,
                f"`indexed` value_field `{value_field}` on `{c.field_name}` must name a singular field of "
                f"`{c.type_name}`",
                d,
            )

    def lookup(self, w: Writer, c: Column, value: tuple[str, str, str]) -> list[str]:
        # `indexed`: the elements the message gathered from its keys, by prefix (None when no key is unknown)
        return ["if v is None and indexed:", f"    v = indexed.get({value[0]!r})"]


SPEC = Indexed()
