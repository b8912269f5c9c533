"""The registry of column options: one spec per field of `datahem.ColumnOptions`, in the order the generated
converters apply them (see base.py for the phases). To add an option: add its field to the vocabulary
(datahem/compiler/vocabulary/datahem/options.proto, then `make vocabulary`), write its module here and add it to
COLUMN_OPTIONS; document it in the README's table of column options."""

from __future__ import annotations

from typing import Any

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Column, Transforms
from datahem.compiler.options import (
    append,
    coalesce,
    column,
    default_policy,
    divide,
    filter_,
    from_attribute,
    indexed,
    local_to_utc,
    pseudonymize,
    regex_extract,
    regex_replace,
)
from datahem.compiler.options.base import ColumnOption, ColumnOptions, Where, Writer, not_applicable

COLUMN_OPTIONS: tuple[ColumnOption[Any], ...] = (
    column.NAME,
    column.DESCRIPTION,
    column.CATEGORY,
    column.TYPE,
    column.HIDDEN,
    column.REQUIRED,
    from_attribute.SPEC,
    coalesce.SPEC,
    indexed.SPEC,
    default_policy.SPEC,
    local_to_utc.SPEC,
    regex_extract.SPEC,
    regex_replace.SPEC,
    append.SPEC,
    pseudonymize.SPEC,
    filter_.SPEC,
    divide.SPEC,
)
BY_NAME: dict[str, ColumnOption[Any]] = {spec.name: spec for spec in COLUMN_OPTIONS}
# Options whose change changes the column's name, type, mode or presence (for the compatibility rules).
SHAPE_OPTIONS: frozenset[str] = frozenset(spec.name for spec in COLUMN_OPTIONS if spec.shape)


def resolve(o: ColumnOptions) -> Transforms:
    """The values of a field's options that the converter applies, by option name."""
    return Transforms(tuple((spec.name, v) for spec in COLUMN_OPTIONS if (v := spec.resolve(o)) is not None))


# Each spec, and whether it reads its value off the column itself (else from `Column.transforms`, by its name).
_READS_COLUMN = tuple((spec, type(spec).value is not ColumnOption.value) for spec in COLUMN_OPTIONS)


# The specs that read the column itself: all a column without transforms (most columns) can have.
_OWN = tuple(spec for spec, own in _READS_COLUMN if own)


def present(c: Column) -> list[tuple[ColumnOption[Any], object]]:
    """The options a column has, with their values, in registry order."""
    if not c.transforms.values:
        return [(spec, v) for spec in _OWN if (v := spec.value(c)) is not None]
    transforms = dict(c.transforms.values)
    out = []
    for spec, own in _READS_COLUMN:
        v = spec.value(c) if own else transforms.get(spec.name)
        if v is not None:
            out.append((spec, v))
    return out


def check(c: Column, where: Where, d: Diagnostics) -> None:
    """Every diagnostic of a column's options."""
    for spec, value in present(c):
        if spec.proto_types and c.proto_type not in spec.proto_types:
            types = " / ".join(spec.proto_types)
            not_applicable(c, spec.name, f"it applies to {types} fields, and this one is {c.proto_type}", d)
        spec.check(c, value, where, d)


__all__ = [
    "BY_NAME",
    "COLUMN_OPTIONS",
    "SHAPE_OPTIONS",
    "ColumnOption",
    "Where",
    "Writer",
    "check",
    "present",
    "resolve",
]
