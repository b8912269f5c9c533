"""`default_policy: {kind: VALUE value: "SEK"}`: what the row (and message) get when the field is absent: NULL (the
default, no value here), the proto3 default, or a literal in the field's JSON form."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import (
    NUMERIC_PROTO,
    ColumnOption,
    ColumnOptions,
    Where,
    Writer,
    invalid,
    not_applicable,
)

_KIND = {2: "PROTO_DEFAULT", 3: "VALUE"}  # 0 (unspecified) and 1 are NULL


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class DefaultPolicy(ColumnOption[tuple[str, str | None]]):
    name = "default_policy"

    def resolve(self, o: ColumnOptions) -> tuple[str, str | None] | None:
        """(kind, value): ("PROTO_DEFAULT", None) or ("VALUE", text); None for NULL."""
        kind = _KIND.get(o.default_policy.kind)
        return (kind, o.default_policy.value if kind == "VALUE" else None) if kind else None

    def check(self, c: Column, value: tuple[str, str | None], where: Where, d: Diagnostics) -> None:
        kind, text = value
        if kind == "VALUE":
            if text is None or text == "" and c.proto_type != "string":
                invalid(c, f"`default_policy` VALUE on `{c.field_name}` needs a `value`", d)
            elif c.proto_type in NUMERIC_PROTO and not _is_number(text):
                invalid(c, f"default value `{text}` of `{c.field_name}` is not a number", d)
            elif c.proto_type == "bool" and text not in ("true", "false"):
                invalid(c, f"default value `{text}` of `{c.field_name}` must be true or false", d)
            elif c.proto_type == "message" and c.bq_type not in ("TIMESTAMP", "INTERVAL", "JSON", "STRING"):
                not_applicable(c, "default_policy", "VALUE defaults apply to scalar fields", d)
        if c.repeated:
            not_applicable(c, "default_policy", "a repeated field is an empty list when absent", d)
        if c.mode == "REQUIRED":
            not_applicable(c, "default_policy", "a required field has no default: the event is rejected instead", d)

    def absent(self, w: Writer, c: Column, value: tuple[str, str | None]) -> list[str] | None:
        kind, text = value
        if kind == "PROTO_DEFAULT" and c.proto_type != "message":
            return w.set_row(c, w.proto_default_row(c))
        if kind == "VALUE" and text is not None:
            return w.present_literal(c, text)
        return None


SPEC = DefaultPolicy()
