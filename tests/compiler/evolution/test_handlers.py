"""One test per compatibility handler, in process: a hand-made pair, a recording context, the rule ids reported.
The golden cases (test_rules.py) cover the walker and the exact texts; these pin down each handler alone."""

from __future__ import annotations

from typing import Any

import pytest

from datahem.compiler import rules
from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.evolution import compare, registry
from datahem.compiler.evolution.changes import Change
from datahem.compiler.evolution.handlers import columns, fields, tables
from datahem.compiler.evolution.pairs import (
    CategoryPair,
    ColumnAdded,
    ColumnGone,
    ColumnPair,
    EnumValue,
    Field,
    FieldGone,
    FieldPair,
    LostRoot,
    OneofPair,
    RootPair,
    SourcePair,
)
from datahem.compiler.projection.columns import ColumnSchema
from datahem.compiler.projection.project import Projection
from datahem.compiler.projection.tables import Root

LOC = Loc("schemas/a.proto", 3, 1)
_EMPTY = Projection(None, {}, {}, {}, {})


class Recorder:
    """The handlers' Context, recording what they report."""

    old = new = _EMPTY
    sources_loc = Loc("sources.yaml", 1, 1)

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, rule: str, target: str, summary: str, loc: Loc, **extra: Any) -> None:
        self.changes.append(Change(rule, target, summary, loc, **extra))

    def message_loc(self, message: str) -> Loc:
        return LOC

    def table_loc(self, message: str) -> Loc:
        return LOC

    def source_loc(self, source: str) -> Loc:
        return self.sources_loc

    def category_loc(self, name: str) -> Loc:
        return self.sources_loc


def run(check, pair) -> tuple[list[str], object]:
    ctx = Recorder()
    stop = check(ctx, pair)
    return [c.rule for c in ctx.changes], stop


def field(name="a", number=1, type="int64", repeated=False, required=False, json_name=None, column="a") -> Field:
    return Field(name, number, json_name or name, type, "", repeated, required, column, LOC, LOC)


def col(name="a", type="INT64", mode="NULLABLE", description="", category=None, fields=()) -> ColumnSchema:
    return ColumnSchema(name, type, mode, description, category, fields)


def cols(old: ColumnSchema, new: ColumnSchema, top=True, tighten=True) -> ColumnPair:
    return ColumnPair("ds.t", old, new, (), (), LOC, LOC, top, tighten)


def root(message="p.v1.M", table="ds.t", options=None) -> Root:
    return Root(message, table, ("s",), options if options is not None else _OPTIONS)


_OPTIONS = {
    "partitioning": {"type": "DAY", "field": None, "expiration_days": None, "require_filter": False},
    "clustering": [],
    "description": "",
    "labels": {},
}


def _with(**changes) -> dict:
    out = {**_OPTIONS, **changes}
    if "partitioning" in changes:
        out["partitioning"] = {**_OPTIONS["partitioning"], **changes["partitioning"]}
    return out


CASES = [
    # tables and sources
    (tables.message_renamed, RootPair(root(), root("p.v1.N")), [rules.MESSAGE_RENAMED]),
    (tables.source_message_changed, LostRoot(root(), "s", "p.v1.N"), [rules.MESSAGE_RENAMED]),
    (tables.major_version_added, RootPair(root(), root("p.v2.M", "ds.t_v2")), [rules.MAJOR_VERSION_ADDED]),
    (tables.table_added, root(), [rules.TABLE_ADDED]),
    (tables.table_would_be_replaced, RootPair(root(), root(table="ds.u")), [rules.TABLE_WOULD_BE_REPLACED]),
    (
        tables.table_would_be_replaced,
        RootPair(root(), root(options=_with(partitioning={"field": "ts"}))),
        [rules.TABLE_WOULD_BE_REPLACED],
    ),
    (tables.table_would_be_replaced, RootPair(root(), root()), []),
    (tables.clustering_changed, RootPair(root(), root(options=_with(clustering=["a"]))), [rules.CLUSTERING_CHANGED]),
    (
        tables.table_options_changed,
        RootPair(root(), root(options=_with(description="d", partitioning={"expiration_days": 3}))),
        [rules.TABLE_OPTIONS_CHANGED, rules.TABLE_OPTIONS_CHANGED],
    ),
    # unknown_fields: trees written before the option existed rejected unknown fields
    (
        tables.unknown_fields_relaxed,
        RootPair(root(), root(options=_with(unknown_fields="KEEP"))),
        [rules.UNKNOWN_FIELDS_RELAXED],
    ),
    (
        tables.unknown_fields_relaxed,
        RootPair(root(options=_with(unknown_fields="IGNORE")), root(options=_with(unknown_fields="KEEP"))),
        [rules.UNKNOWN_FIELDS_RELAXED],
    ),
    (tables.unknown_fields_relaxed, RootPair(root(options=_with(unknown_fields="KEEP")), root()), []),
    (tables.unknown_fields_relaxed, RootPair(root(), root(options=_with(unknown_fields="REJECT"))), []),
    (
        tables.unknown_fields_tightened,
        RootPair(root(options=_with(unknown_fields="KEEP")), root()),
        [rules.UNKNOWN_FIELDS_TIGHTENED],
    ),
    (
        tables.unknown_fields_tightened,
        RootPair(root(options=_with(unknown_fields="KEEP")), root(options=_with(unknown_fields="IGNORE"))),
        [rules.UNKNOWN_FIELDS_TIGHTENED],
    ),
    (tables.unknown_fields_tightened, RootPair(root(), root(options=_with(unknown_fields="IGNORE"))), []),
    (tables.source_removed, SourcePair("s", "p.v1.M", frozenset({"POST /a"}), None), [rules.SOURCE_REMOVED]),
    (tables.source_removed, SourcePair("s", "p.v1.M", frozenset(), frozenset()), []),
    (
        tables.route_removed,
        SourcePair("s", "p.v1.M", frozenset({"POST /a", "POST /b"}), frozenset({"POST /b"})),
        [rules.ROUTE_REMOVED],
    ),
    (
        tables.category_access_changed,
        CategoryPair("pii", {"readers": []}, {"readers": ["x"]}),
        [rules.CATEGORY_ACCESS_CHANGED],
    ),
    (tables.category_access_changed, CategoryPair("pii", {"readers": []}, {"readers": []}), []),
    # fields and enums
    (fields.field_number_changed, FieldPair("M", "M", field(), field(number=2)), [rules.FIELD_NUMBER_CHANGED]),
    (fields.field_renamed, FieldPair("M", "M", field(), field("b")), [rules.FIELD_RENAMED]),
    (fields.json_name_changed, FieldPair("M", "M", field(), field(json_name="A")), [rules.JSON_NAME_CHANGED]),
    (fields.json_name_changed, FieldPair("M", "M", field(), field("b", json_name="A")), []),
    (fields.field_type_changed, FieldPair("M", "M", field(), field(type="double")), [rules.FIELD_TYPE_CHANGED]),
    (fields.field_type_changed, FieldPair("M", "M", field(), field(type="uint32")), []),
    (
        fields.field_cardinality_changed,
        FieldPair("M", "M", field(), field(repeated=True)),
        [rules.FIELD_CARDINALITY_CHANGED],
    ),
    (fields.field_made_required, FieldPair("M", "M", field(), field(required=True)), [rules.FIELD_MADE_REQUIRED]),
    (fields.oneof_made_required, OneofPair("M", "M", "o", ("a", "b"), False, LOC), [rules.ONEOF_MADE_REQUIRED]),
    (fields.oneof_made_required, OneofPair("M", "M", "o", ("a", "b"), True, LOC), []),
    (
        fields.field_number_reused,
        FieldGone("ds.t", "M", "M", field(), field("b", type="string"), col(), (), True, LOC),
        [rules.FIELD_NUMBER_REUSED],
    ),
    (fields.field_removed, FieldGone("ds.t", "M", "M", field(), None, col(), (), False, LOC), [rules.FIELD_REMOVED]),
    (fields.field_removed, FieldGone("ds.t", "M", "M", field(), None, None, (), False, LOC), []),
    (fields.enum_value_removed, EnumValue("E", "E", "X", 1, None, LOC), [rules.ENUM_VALUE_REMOVED]),
    (fields.enum_value_renumbered, EnumValue("E", "E", "X", 1, 2, LOC), [rules.ENUM_VALUE_RENUMBERED]),
    (fields.enum_value_added, EnumValue("E", "E", "X", None, 2, LOC), [rules.ENUM_VALUE_ADDED]),
    # columns
    (columns.column_removed, ColumnGone("ds.t", (), col(mode="REQUIRED"), LOC), [rules.COLUMN_REMOVED]),
    (columns.column_renamed, cols(col(), col("b")), [rules.COLUMN_RENAMED]),
    (columns.column_type_widened, cols(col(), col(type="NUMERIC")), [rules.COLUMN_TYPE_WIDENED]),
    (columns.column_type_widened, cols(col(), col(type="NUMERIC"), top=False), []),
    (columns.column_type_changed, cols(col(), col(type="STRING")), [rules.COLUMN_TYPE_CHANGED]),
    (columns.column_relaxed, cols(col(mode="REQUIRED"), col()), [rules.COLUMN_RELAXED]),
    (columns.column_made_required, cols(col(), col(mode="REQUIRED")), [rules.FIELD_MADE_REQUIRED]),
    (columns.column_made_required, cols(col(), col(mode="REQUIRED"), tighten=False), []),
    (columns.column_mode_changed, cols(col(), col(mode="REPEATED")), [rules.FIELD_CARDINALITY_CHANGED]),
    (columns.column_mode_changed, cols(col(mode="REQUIRED"), col()), []),
    (columns.column_description_changed, cols(col(), col(description="d")), [rules.COLUMN_DESCRIPTION_CHANGED]),
    (columns.category_changed, cols(col(), col(category="pii")), [rules.CATEGORY_CHANGED]),
    (
        columns.required_column_added,
        ColumnAdded("ds.t", (), col(mode="REQUIRED"), LOC, True),
        [rules.REQUIRED_COLUMN_ADDED],
    ),
    (columns.column_added, ColumnAdded("ds.t", (), col(), LOC, True), [rules.COLUMN_ADDED]),
    (columns.column_added, ColumnAdded("ds.t", ("s",), col(), LOC, False), []),
    (columns.nested_column_added, ColumnAdded("ds.t", ("s",), col(), LOC, False), [rules.NESTED_COLUMN_ADDED]),
]


@pytest.mark.parametrize(("check", "pair", "expected"), CASES, ids=lambda v: getattr(v, "__name__", None))
def test_handler(check, pair, expected):
    reported, _ = run(check, pair)
    assert reported == expected


def test_every_compatibility_rule_has_a_handler_and_each_handler_is_tested():
    compatibility = {r for r, rule in RULES.items() if rule.classification}
    assert set(registry.HANDLERS) == compatibility
    tested = {check for check, _, _ in CASES}
    registered = {check for h in registry.HANDLERS.values() for check in h.checks.values()}
    assert registered == tested
    assert all(h.purpose for h in registry.HANDLERS.values())
    assert compare.HANDLER_MODULES == (tables, fields, columns)


def test_the_unknown_column_leaving_is_the_same_edit_as_the_tightened_policy():
    """KEEP → REJECT removes `_unknown` from the schema: one accepted_breaks entry (the policy's) accepts both."""
    ctx = Recorder()
    tables.unknown_fields_tightened(ctx, RootPair(root(options=_with(unknown_fields="KEEP")), root()))
    columns.column_removed(ctx, ColumnGone("ds.t", (), col("_unknown", "JSON"), LOC))
    policy, column = ctx.changes
    assert (policy.rule, policy.target) == (rules.UNKNOWN_FIELDS_TIGHTENED, "ds.t:unknown_fields")
    assert "become dead letters" in policy.summary and "stays in the table" in policy.summary
    assert column.rule == rules.COLUMN_REMOVED and column.same_edit == (policy.rule, policy.target)


def test_a_changed_type_ends_the_column_chain():
    ctx = Recorder()
    registry.run(registry.COLUMN, ctx, cols(col(), col(type="STRING", description="d")))
    assert [c.rule for c in ctx.changes] == [rules.COLUMN_TYPE_CHANGED]


def test_a_new_top_level_column_is_added_with_the_emitters_renderer():
    struct = col("s", "STRUCT", fields=(col("x", mode="REQUIRED", category="pii"),))
    ctx = Recorder()
    columns.column_added(ctx, ColumnAdded("ds.t", (), struct, LOC, True))
    (change,) = ctx.changes
    assert change.steps[0].sql == "ALTER TABLE `ds.t` ADD COLUMN IF NOT EXISTS `s` STRUCT<`x` INT64 NOT NULL>"
    assert change.steps[1].patch == {"op": "set_policy_tag", "path": ["s", "x"], "category": "pii"}
