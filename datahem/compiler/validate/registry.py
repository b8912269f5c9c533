"""The list of checks: each check module registers its functions with `@check`; `datahem.compiler.validate.run`
imports every check module (in a fixed order, which is the order of the diagnostics) and runs them."""

from __future__ import annotations

from collections.abc import Callable

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Model

Check = Callable[[Model, Diagnostics], None]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn
