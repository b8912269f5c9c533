"""Rules on the wire and JSON form of fields and enum values (once per message pair, wherever a table reaches it)."""

from __future__ import annotations

from datahem.compiler import rules
from datahem.compiler.evolution.changes import retain
from datahem.compiler.evolution.pairs import EnumValue, FieldGone, FieldPair, OneofPair, wire_compatible
from datahem.compiler.evolution.registry import ENUM_VALUE, FIELD, FIELD_GONE, ONEOF, Context, rule


@rule(rules.FIELD_NUMBER_CHANGED, FIELD)
def field_number_changed(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if f.name == g.name and f.number != g.number:
        ctx.add(
            rules.FIELD_NUMBER_CHANGED,
            p.target,
            f"field `{f.name}` of `{p.new_type}` changes number {f.number} → {g.number}",
            g.loc,
            fix=f"give it back number {f.number}",
        )


@rule(rules.FIELD_RENAMED, FIELD)
def field_renamed(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if f.name != g.name:
        ctx.add(
            rules.FIELD_RENAMED,
            p.target,
            f"field {f.number} of `{p.new_type}` is renamed `{f.name}` → `{g.name}`: events from JSON producers "
            f"that still send `{f.name}`"
            + (f" (or its JSON name `{f.json_name}`)" if f.json_name != f.name else "")
            + " would be rejected",
            g.loc,
            fix=f"keep the name `{f.name}`",
        )


@rule(rules.JSON_NAME_CHANGED, FIELD)
def json_name_changed(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if f.name == g.name and f.json_name != g.json_name:
        ctx.add(
            rules.JSON_NAME_CHANGED,
            p.target,
            f"JSON name of `{p.new_type}.{g.name}` changes `{f.json_name}` → `{g.json_name}`",
            g.loc,
            fix=f'keep `json_name = "{f.json_name}"`',
        )


@rule(rules.FIELD_TYPE_CHANGED, FIELD)
def field_type_changed(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if not wire_compatible(f.type, g.type):
        ctx.add(
            rules.FIELD_TYPE_CHANGED,
            p.target,
            f"field `{p.new_type}.{g.name}` changes type {f.type} → {g.type}: values written before cannot be "
            f"read as the new type",
            g.loc,
            fix="keep the type and add a new field for the new one (a `type` option widens the column only)",
        )


@rule(rules.FIELD_CARDINALITY_CHANGED, FIELD)
def field_cardinality_changed(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if f.repeated != g.repeated:
        ctx.add(
            rules.FIELD_CARDINALITY_CHANGED,
            p.target,
            f"field `{p.new_type}.{g.name}` changes from {'repeated' if f.repeated else 'singular'} to "
            f"{'repeated' if g.repeated else 'singular'}: its JSON shape and its column mode change",
            g.loc,
            fix="keep it as it was and add a new field, or move the message to a new major version "
            "(package `...v2`) to start a new table",
        )


@rule(rules.FIELD_MADE_REQUIRED, FIELD)
def field_made_required(ctx: Context, p: FieldPair) -> None:
    f, g = p.old, p.new
    if g.required and not f.required:
        ctx.add(
            rules.FIELD_MADE_REQUIRED,
            p.target,
            f"field `{p.new_type}.{g.name}` becomes required: events without it would be dead-lettered and the "
            f"column cannot become NOT NULL",
            g.option_loc,
            fix="remove `required: true`, or move the message to a new major version (package `...v2`)",
        )


@rule(rules.ONEOF_MADE_REQUIRED, ONEOF)
def oneof_made_required(ctx: Context, p: OneofPair) -> None:
    if not p.was_required:
        ctx.add(
            rules.ONEOF_MADE_REQUIRED,
            p.target,
            f"oneof `{p.target}` becomes required: events with none of {', '.join(p.fields)} would be dead-lettered",
            p.loc,
            fix="remove `(datahem.oneof) = {required: true}`, or move the message to a new major version "
            "(package `...v2`)",
        )


@rule(rules.FIELD_NUMBER_REUSED, FIELD_GONE)
def field_number_reused(ctx: Context, p: FieldGone) -> bool:
    f, g, oc = p.old, p.reused, p.column
    if g is None:
        return False
    ctx.add(
        rules.FIELD_NUMBER_REUSED,
        p.target,
        f"number {f.number} of `{p.new_type}` was `{f.type} {f.name}` and is now `{g.type} {g.name}`: old "
        f"bytes would be read as the new field",
        g.loc,
        fix=f"give `{g.name}` a new number and `reserved {f.number};`",
        table=p.table if oc is not None else "",
        column=p.column_path,
        kind="removed",
        steps=retain(p.table, p.old_path + (oc.name,), oc) if oc is not None else (),
    )
    return True


@rule(rules.FIELD_REMOVED, FIELD_GONE)
def field_removed(ctx: Context, p: FieldGone) -> None:
    f, oc = p.old, p.column
    if not p.first and oc is None:
        return
    ctx.add(
        rules.FIELD_REMOVED,
        p.target,
        f"field `{f.name}` = {f.number} of `{p.old_type}` was removed"
        + (f" (column `{p.column_path}` of `{p.table}`)" if oc is not None else ""),
        p.message_loc,
        fix="keep it (`[deprecated = true]` tells producers to stop sending it), or move the message to a "
        "new major version (package `...v2`) to start a new table",
        table=p.table if oc is not None else "",
        column=p.column_path,
        kind="removed",
        steps=retain(p.table, p.old_path + (oc.name,), oc) if oc is not None else (),
    )


@rule(rules.ENUM_VALUE_REMOVED, ENUM_VALUE)
def enum_value_removed(ctx: Context, v: EnumValue) -> None:
    if v.old_number is not None and v.new_number is None:
        ctx.add(
            rules.ENUM_VALUE_REMOVED,
            f"{v.old_enum}.{v.name}",
            f"value `{v.name}` = {v.old_number} of enum `{v.new_enum}` was removed or renamed: events sending it "
            f"would be rejected and stored rows still hold it",
            v.loc,
            fix=f"keep `{v.name} = {v.old_number};` (document it as no longer used)",
        )


@rule(rules.ENUM_VALUE_RENUMBERED, ENUM_VALUE)
def enum_value_renumbered(ctx: Context, v: EnumValue) -> None:
    if v.old_number is not None and v.new_number is not None and v.old_number != v.new_number:
        ctx.add(
            rules.ENUM_VALUE_RENUMBERED,
            f"{v.old_enum}.{v.name}",
            f"value `{v.name}` of enum `{v.new_enum}` changes number {v.old_number} → {v.new_number}",
            v.loc,
            fix=f"give it back number {v.old_number}",
        )


@rule(rules.ENUM_VALUE_ADDED, ENUM_VALUE)
def enum_value_added(ctx: Context, v: EnumValue) -> None:
    if v.old_number is None and v.new_number is not None:
        ctx.add(
            rules.ENUM_VALUE_ADDED,
            f"{v.new_enum}.{v.name}",
            f"enum `{v.new_enum}` gains value `{v.name}` = {v.new_number}",
            v.loc,
            kind="added",
        )
