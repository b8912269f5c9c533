"""The projection layer: computed from the model, read back from a generated tree, the same values; the DDL renderer
the BigQuery emitter and the migrations share."""

from __future__ import annotations

import json

from datahem.compiler import writer
from datahem.compiler.projection import project as projection
from datahem.compiler.projection.columns import ColumnSchema, column_def, column_type, read_columns, sql_type
from datahem.compiler.projection.tables import columns
from tests.conftest import EXAMPLE


def test_a_column_reads_back_as_it_was_written(example_model):
    for t in example_model.tables:
        for c in columns(t):
            assert ColumnSchema.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_the_projection_of_the_model_is_what_its_generated_tree_says(example_model):
    current = projection.project(example_model)
    committed = projection.read(writer.read_tree(EXAMPLE / "generated"))
    assert current.roots == committed.roots
    assert {m: r.options for m, r in current.roots.items()} == {m: r.options for m, r in committed.roots.items()}
    assert current.tables == committed.tables
    assert {s: k for s, k in current.routes.items() if k} == committed.routes
    assert current.categories == committed.categories
    assert current.source_messages == committed.source_messages
    assert current.index is not None and committed.index is not None
    assert set(current.index.messages) == set(committed.index.messages)


def test_a_damaged_or_empty_tree_reads_as_an_empty_projection():
    empty = projection.read({})
    assert empty.empty and empty.index is None
    damaged = projection.read({"registry/descriptor_set.binpb": b"\xff\xff", "registry/index.json": b"{"})
    assert damaged.empty and damaged.index is None


def test_types_read_under_either_name():
    assert sql_type("INTEGER") == "INT64" and sql_type("record") == "STRUCT" and sql_type("INT64") == "INT64"
    (col,) = read_columns([{"name": "n", "type": "INTEGER"}, {"type": "STRING"}, "junk"])
    assert col == ColumnSchema("n", "INT64")


_STRUCT = ColumnSchema(
    "address",
    "STRUCT",
    "REPEATED",
    "Where",
    fields=(ColumnSchema("city", "STRING", "REQUIRED"), ColumnSchema("zip", "STRING", description='say "hi"')),
)


def test_one_renderer_for_create_and_alter():
    assert column_def(_STRUCT, "  ") == (
        "`address` ARRAY<STRUCT<\n"
        "    `city` STRING NOT NULL,\n"
        '    `zip` STRING OPTIONS(description = "say \\"hi\\"")\n'
        '  >> OPTIONS(description = "Where")'
    )
    assert (
        column_type(_STRUCT)
        == 'ARRAY<STRUCT<`city` STRING NOT NULL, `zip` STRING OPTIONS(description = "say \\"hi\\"")>>'
    )
    required = ColumnSchema("id", "STRING", "REQUIRED")
    assert column_def(required) == "`id` STRING NOT NULL"
    assert column_def(required, not_null=False) == "`id` STRING"


def test_policy_tags_round_trip():
    col = ColumnSchema("email", "STRING", category="pii")
    assert col.to_json()["policyTags"] == {"names": ["datahem:category/pii"]}
    assert ColumnSchema.from_json(col.to_json()) == col
