"""`coalesce: ["hidden_fields.email"]`: when the field is absent, the first present value among these field paths
(from the message root)."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, invalid
from datahem.compiler.suggest import did_you_mean


def _json_step(step: str) -> str:
    parts = step.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


class Coalesce(ColumnOption[tuple[str, ...]]):
    name = "coalesce"
    helpers = ("lookup",)

    def resolve(self, o: ColumnOptions) -> tuple[str, ...] | None:
        return tuple(o.coalesce) or None

    def check(self, c: Column, value: tuple[str, ...], where: Where, d: Diagnostics) -> None:
        for path in value:
            other = where.paths.get(path)
            if other is None:
                invalid(
                    c,
                    f"`coalesce` on `{c.field_name}` names `{path}`, which is not a field path of "
                    f"`{where.table.message}`{did_you_mean(path, where.paths)} (use field names from the message "
                    "root, dotted for nested fields)",
                    d,
                )
            elif other.proto_type != c.proto_type or other.repeated != c.repeated:
                invalid(
                    c,
                    f"`coalesce` on `{c.field_name}` ({c.proto_type}) names `{path}` ({other.proto_type}"
                    f"{', repeated' if other.repeated else ''}); both must have the same type and shape",
                    d,
                )

    def lookup(self, w: Writer, c: Column, value: tuple[str, ...]) -> list[str]:
        lines = []
        for i, path in enumerate(value):
            steps = tuple((_json_step(s), s) for s in path.split("."))
            const = w.const("coalesce", repr(steps), str(i + 1) if len(value) > 1 else "")
            lines += ["if v is None:", f"    v = lookup(root, {const})"]
        return lines


SPEC = Coalesce()
