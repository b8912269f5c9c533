"""`divide: 100`: divide a number in the BigQuery row (cents -> kronor); the protobuf keeps the proto value."""

from __future__ import annotations

import math
import sys

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
from datahem.runtime import typemap


def divisor_problem(divisor: float) -> str | None:
    """Why a divisor would not give every row a usable number, or None."""
    if math.isnan(divisor):
        return "is not a number (every row would be refused by BigQuery)"
    if math.isinf(divisor):
        return "is infinite (every value would become 0)"
    if divisor == 0:
        return "divides by zero"
    if abs(divisor) < sys.float_info.min:
        return "is so small (subnormal) that its reciprocal overflows"
    return None


class Divide(ColumnOption[object]):
    name = "divide"
    helpers = ("divide",)
    imports = ("from decimal import Decimal",)

    def resolve(self, o: ColumnOptions) -> object | None:
        """The divisor; `divide: 0` is present (and refused), an unset divide is None."""
        return o.divide if o.HasField("divide") else None

    def check(self, c: Column, value: object, where: Where, d: Diagnostics) -> None:
        problem = divisor_problem(float(str(value)))
        if problem:
            invalid(c, f"`divide: {value}` on `{c.field_name}` {problem}; divide by a finite, non-zero number", d)
        if c.proto_type not in NUMERIC_PROTO and c.bq_type not in typemap.NUMERIC_TYPES:
            not_applicable(c, "divide", f"it applies to numbers, and this field is {c.proto_type}", d)
        elif c.bq_type in ("INT64", "STRING"):
            not_applicable(
                c,
                "divide",
                f"the quotient is fractional but the column is {c.bq_type}; add "
                '`type: "NUMERIC"` (exact, for money) or `type: "FLOAT64"`',
                d,
            )

    def row(self, w: Writer, c: Column, value: object, expr: str, p: str, name: str) -> str:
        div = w.const("div", f"Decimal({str(value)!r})")
        return f"divide({expr}, {div}, {c.bq_type!r}, {p}, {name})"


SPEC = Divide()
