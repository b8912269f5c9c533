"""Runs every registered check. Importing the check modules here (model checks first, then the checks of names that
become cloud resources) registers them, in that order."""

from __future__ import annotations

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Model
from datahem.compiler.validate import checks, infra
from datahem.compiler.validate.registry import CHECKS

MODULES = (checks, infra)  # registration order: the order diagnostics are reported in


def run_checks(model: Model, diags: Diagnostics) -> None:
    for fn in CHECKS:
        fn(model, diags)
