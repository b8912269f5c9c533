"""Rules on columns as BigQuery stores them: each change with the idempotent steps that apply it (SQL for top-level
columns, rendered by the BigQuery emitter's own `column_def`; schema-patch operations for nested fields and policy
tags)."""

from __future__ import annotations

from datahem.compiler import rules
from datahem.compiler.evolution.changes import Step, retain
from datahem.compiler.evolution.handlers.tables import unknown_fields_target
from datahem.compiler.evolution.pairs import ColumnAdded, ColumnGone, ColumnPair
from datahem.compiler.evolution.registry import COLUMN, COLUMN_ADDED, COLUMN_GONE, Context, rule
from datahem.compiler.model.resolved import UNKNOWN_COLUMN
from datahem.compiler.projection.columns import ColumnSchema, column_def, column_type, sql_string

WIDENINGS = frozenset(
    {
        ("INT64", "NUMERIC"),
        ("INT64", "BIGNUMERIC"),
        ("INT64", "FLOAT64"),
        ("NUMERIC", "BIGNUMERIC"),
        ("NUMERIC", "FLOAT64"),
    }
)


@rule(rules.COLUMN_REMOVED, COLUMN_GONE)
def column_removed(ctx: Context, p: ColumnGone) -> None:
    ref, path = p.table, p.path
    if p.field is not None:
        summary, fix = (
            f"column `{path}` of `{ref}` disappears while field `{p.field.name}` stays (hidden?)",
            ("remove `hidden: true`"),
        )
    else:
        summary, fix = f"column `{path}` of `{ref}` disappears", ""
    same_edit = None
    if p.field is None and not p.old_path and p.column.name == UNKNOWN_COLUMN.name:
        summary += " (the table no longer keeps unknown fields)"
        same_edit = (rules.UNKNOWN_FIELDS_TIGHTENED, unknown_fields_target(ref))
    ctx.add(
        rules.COLUMN_REMOVED,
        f"{ref}.{path}",
        summary,
        p.loc,
        fix=fix,
        table=ref,
        column=path,
        kind="removed",
        steps=retain(ref, p.old_path + (p.column.name,), p.column),
        same_edit=same_edit,
    )


@rule(rules.COLUMN_RENAMED, COLUMN)
def column_renamed(ctx: Context, p: ColumnPair) -> None:
    ref, oc, nc = p.table, p.old, p.new
    if p.old_full == p.new_full:
        return
    if p.top:
        steps: tuple[Step, ...] = (
            Step(ref, f"ALTER TABLE `{ref}` RENAME COLUMN IF EXISTS `{oc.name}` TO `{nc.name}`"),
        )
    else:
        steps = (
            *retain(ref, p.old_full, oc),
            Step(ref, patch={"op": "add_field", "path": list(p.new_path), "field": nc.to_json()}),
        )
    old = ".".join(p.old_full)
    ctx.add(
        rules.COLUMN_RENAMED,
        f"{ref}.{old}",
        f"column `{old}` of `{ref}` is renamed `{nc.name}`: queries reading `{oc.name}` would fail",
        p.option_loc,
        fix=f'keep the column name with `[(datahem.column) = {{name: "{oc.name}"}}]`',
        table=ref,
        column=p.path,
        steps=steps,
        same_edit=(rules.FIELD_RENAMED, p.renamed_field) if p.renamed_field else None,
    )


def _widens(p: ColumnPair) -> bool:
    return (p.old.type, p.new.type) in WIDENINGS


@rule(rules.COLUMN_TYPE_WIDENED, COLUMN)
def column_type_widened(ctx: Context, p: ColumnPair) -> bool:
    ot, nt = p.old.type, p.new.type
    if ot == nt or not (_widens(p) and p.top and not p.old.repeated):
        return False
    ctx.add(
        rules.COLUMN_TYPE_WIDENED,
        f"{p.table}.{p.path}",
        f"column `{p.path}` of `{p.table}` widens {ot} → {nt}",
        p.option_loc,
        table=p.table,
        column=p.path,
        steps=(Step(p.table, f"ALTER TABLE `{p.table}` ALTER COLUMN `{p.new.name}` SET DATA TYPE {nt}"),),
    )
    return True


@rule(rules.COLUMN_TYPE_CHANGED, COLUMN)
def column_type_changed(ctx: Context, p: ColumnPair) -> bool:
    ot, nt = p.old.type, p.new.type
    if ot == nt:
        return False
    why = (
        "BigQuery widens only top-level, non-repeated columns"
        if _widens(p)
        else "BigQuery cannot convert the stored values"
    )
    ctx.add(
        rules.COLUMN_TYPE_CHANGED,
        f"{p.table}.{p.path}",
        f"column `{p.path}` of `{p.table}` changes type {ot} → {nt}: {why}",
        p.option_loc,
        fix="keep the type and add a new field for the new type, or move the message to a new major "
        "version (package `...v2`) to start a new table",
        table=p.table,
        column=p.path,
    )
    return True  # a new type: its mode and options are not compared


@rule(rules.COLUMN_RELAXED, COLUMN)
def column_relaxed(ctx: Context, p: ColumnPair) -> None:
    if not (p.old.mode == "REQUIRED" and p.new.mode == "NULLABLE"):
        return
    ref = p.table
    step = (
        Step(ref, f"ALTER TABLE `{ref}` ALTER COLUMN `{p.new.name}` DROP NOT NULL")
        if p.top
        else Step(ref, patch={"op": "relax", "path": list(p.new_full)})
    )
    ctx.add(
        rules.COLUMN_RELAXED,
        f"{ref}.{p.path}",
        f"column `{p.path}` of `{ref}` becomes NULLABLE",
        p.option_loc,
        table=ref,
        column=p.path,
        steps=(step,),
    )


@rule(rules.FIELD_MADE_REQUIRED, COLUMN)
def column_made_required(ctx: Context, p: ColumnPair) -> None:
    if p.tighten and p.old.mode == "NULLABLE" and p.new.mode == "REQUIRED":
        ctx.add(
            rules.FIELD_MADE_REQUIRED,
            f"{p.table}.{p.path}",
            f"column `{p.path}` of `{p.table}` becomes REQUIRED: BigQuery cannot make an existing column NOT NULL",
            p.option_loc,
            fix="remove `required: true`, or move the message to a new major version (package `...v2`)",
            table=p.table,
            column=p.path,
        )


@rule(rules.FIELD_CARDINALITY_CHANGED, COLUMN)
def column_mode_changed(ctx: Context, p: ColumnPair) -> bool:
    om, nm = p.old.mode, p.new.mode
    if om == nm or (om, nm) in (("REQUIRED", "NULLABLE"), ("NULLABLE", "REQUIRED")):
        return False
    ctx.add(
        rules.FIELD_CARDINALITY_CHANGED,
        f"{p.table}.{p.path}",
        f"column `{p.path}` of `{p.table}` changes mode {om} → {nm}",
        p.loc,
        fix="keep the mode, or move the message to a new major version (package `...v2`)",
        table=p.table,
        column=p.path,
    )
    return True


@rule(rules.COLUMN_DESCRIPTION_CHANGED, COLUMN)
def column_description_changed(ctx: Context, p: ColumnPair) -> None:
    if p.old.description == p.new.description:
        return
    ref, description = p.table, p.new.description
    step = (
        Step(
            ref,
            f"ALTER TABLE `{ref}` ALTER COLUMN `{p.new.name}` SET OPTIONS (description = {sql_string(description)})",
        )
        if p.top
        else Step(ref, patch={"op": "set_description", "path": list(p.new_full), "description": description})
    )
    ctx.add(
        rules.COLUMN_DESCRIPTION_CHANGED,
        f"{ref}.{p.path}",
        f"description of column `{p.path}` of `{ref}` changed",
        p.loc,
        table=ref,
        column=p.path,
        steps=(step,),
    )


@rule(rules.CATEGORY_CHANGED, COLUMN)
def category_changed(ctx: Context, p: ColumnPair) -> None:
    oa, na = p.old.category, p.new.category
    if oa == na:
        return
    ctx.add(
        rules.CATEGORY_CHANGED,
        f"{p.table}.{p.path}",
        f"column `{p.path}` of `{p.table}`: category {oa or 'none'} → {na or 'none'} (policy tag; who may read "
        f"it changes)",
        p.option_loc,
        table=p.table,
        column=p.path,
        steps=(Step(p.table, patch={"op": "set_policy_tag", "path": list(p.new_full), "category": na}),),
    )


@rule(rules.REQUIRED_COLUMN_ADDED, COLUMN_ADDED)
def required_column_added(ctx: Context, p: ColumnAdded) -> bool:
    if not p.column.required:
        return False
    ctx.add(
        rules.REQUIRED_COLUMN_ADDED,
        f"{p.table}.{p.path}",
        f"new column `{p.path}` of `{p.table}` is REQUIRED: existing rows have no value for it",
        p.loc,
        fix="add it without `required: true`, or move the message to a new major version (package `...v2`)",
        table=p.table,
        column=p.path,
        kind="added",
    )
    return True


def _tagged(col: ColumnSchema, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Policy tags inside a new column, as (path from the column's parent, category)."""
    path = prefix + (col.name,)
    out = [(path, col.category)] if col.category else []
    for f in col.fields:
        out.extend(_tagged(f, path))
    return out


@rule(rules.COLUMN_ADDED, COLUMN_ADDED)
def column_added(ctx: Context, p: ColumnAdded) -> bool:
    if not p.top:
        return False
    ref, nc = p.table, p.column
    tags = tuple(
        Step(ref, patch={"op": "set_policy_tag", "path": list(p.new_path) + list(path), "category": c})
        for path, c in _tagged(nc)
    )
    ctx.add(
        rules.COLUMN_ADDED,
        f"{ref}.{p.path}",
        f"new column `{p.path}` {column_type(nc)} in `{ref}`",
        p.loc,
        table=ref,
        column=p.path,
        kind="added",
        steps=(Step(ref, f"ALTER TABLE `{ref}` ADD COLUMN IF NOT EXISTS {column_def(nc, not_null=False)}"), *tags),
    )
    return True


@rule(rules.NESTED_COLUMN_ADDED, COLUMN_ADDED)
def nested_column_added(ctx: Context, p: ColumnAdded) -> None:
    ctx.add(
        rules.NESTED_COLUMN_ADDED,
        f"{p.table}.{p.path}",
        f"new field `{p.path}` {column_type(p.column)} inside a STRUCT of `{p.table}`",
        p.loc,
        table=p.table,
        column=p.path,
        kind="added",
        steps=(Step(p.table, patch={"op": "add_field", "path": list(p.new_path), "field": p.column.to_json()}),),
    )
