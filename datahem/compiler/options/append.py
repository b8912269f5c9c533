"""`append: "-SE"`: append a fixed suffix to a string value."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, not_applicable


class Append(ColumnOption[object]):
    name = "append"
    proto_types = ("string",)

    def resolve(self, o: ColumnOptions) -> object | None:
        return o.append or None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        if c.bq_type != "STRING":
            not_applicable(c, "append", f"the column is {c.bq_type}; append works on STRING columns", d)

    def transform(self, w: Writer, c: Column, value: object, var: str, p: str, name: str) -> list[str]:
        return [f"{var} = {var} + {value!r}"]


SPEC = Append()
