"""A classified difference (`Change`) and the idempotent schema steps that apply it to an existing table (`Step`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.projection.columns import ColumnSchema


@dataclass(frozen=True)
class Step:
    """One idempotent schema change of one table: a SQL statement (top-level columns) or a schema-patch operation
    (nested fields, policy tags), which `datahem migrate` applies through the BigQuery API."""

    table: str
    sql: str = ""
    patch: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Change:
    rule: str
    target: str  # what accepted_breaks names: message.field, enum.VALUE, dataset.table.column, source, ...
    summary: str  # one line for the plan
    loc: Loc
    fix: str = ""
    table: str = ""  # dataset.table the change concerns
    column: str = ""  # column path within the table
    kind: str = "changed"  # added | changed | removed (the plan's per-table listing)
    source: str = ""
    steps: tuple[Step, ...] = ()
    accepted: str | None = None  # the reason from accepted_breaks
    # (rule, target) of the change that is the same edit seen from another side (a renamed field's renamed column):
    # one accepted_breaks entry for either accepts both, since a rename is one decision
    same_edit: tuple[str, str] | None = None

    @property
    def classification(self) -> str:
        return RULES[self.rule].classification

    @property
    def breaking(self) -> bool:
        return self.classification == rules.BREAKING

    @property
    def blocking(self) -> bool:
        return self.breaking and self.accepted is None

    def message(self) -> str:
        text = self.summary
        if self.fix:
            text += f"; {self.fix}"
        if RULES[self.rule].acceptable:
            rule, target = self.same_edit or (self.rule, self.target)
            text += (
                f"; or accept the break in sources.yaml: `accepted_breaks: [{{rule: {rule}, "
                f'target: {target}, reason: "..."}}]`'
            )
            if self.same_edit:
                text += f" (that one entry also accepts this {self.rule})"
        return text


def retain(ref: str, path: tuple[str, ...], oc: ColumnSchema) -> tuple[Step, ...]:
    """What an accepted removal does to the table: the column stays with its data (dropping it is a decision for a
    person, with `ALTER TABLE ... DROP COLUMN`), and is relaxed when REQUIRED, since new rows leave it empty."""
    if not oc.required:
        return ()
    if len(path) == 1:
        return (Step(ref, f"ALTER TABLE `{ref}` ALTER COLUMN `{path[0]}` DROP NOT NULL"),)
    return (Step(ref, patch={"op": "relax", "path": list(path)}),)
