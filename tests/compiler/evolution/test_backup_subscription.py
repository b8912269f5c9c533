"""Why the raw backup stays a pipeline branch and is not a Pub/Sub BigQuery subscription (README: "The raw backup:
a pipeline branch, not a BigQuery subscription"), checked against the backup table's contract as the compiler emits
it, so that the reasons are re-examined when that contract changes.

A BigQuery subscription with `write_metadata` (and neither topic nor table schema) writes five columns of its own:
`subscription_name`, `message_id`, `publish_time`, `data` (the payload) and `attributes` (every attribute as one JSON
object, in a STRING or JSON column). It fills no other column."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from datahem.compiler.build import load_project
from datahem.compiler.diagnostics import Loc
from datahem.compiler.evolution.compare import Comparer
from datahem.compiler.projection.columns import ColumnSchema
from datahem.compiler.projection.project import project
from datahem.runtime.beam import rows
from tests.conftest import ROOT

# what a BigQuery subscription with write_metadata writes (Google's BigQueryConfig.write_metadata)
SUBSCRIPTION_COLUMNS = {"subscription_name", "message_id", "publish_time", "data", "attributes"}


@pytest.fixture(scope="module")
def example():
    model, _ = load_project(Path(ROOT))
    return model, project(model)


@pytest.mark.parametrize("attributes_type", ["JSON", "STRING"])
def test_the_closest_table_a_subscription_can_write_is_a_breaking_change(example, attributes_type):
    """The least change that lets a subscription write the backup table: `attributes` as the JSON object it writes,
    `payload` relaxed (the subscription writes `data`, never `payload`), `data` and `subscription_name` added. The
    evolution rules classify the `attributes` change as breaking: BigQuery cannot convert the stored key/value
    records, and `datahem backfill` reads them as such."""
    model, old = example
    ref = f"{model.backup_table.dataset}.{model.backup_table.name}"

    def adapt(c: ColumnSchema) -> ColumnSchema:
        if c.name == "attributes":
            return ColumnSchema("attributes", attributes_type, "NULLABLE", c.description)
        return replace(c, mode="NULLABLE") if c.name == "payload" else c

    adapted = (
        *(adapt(c) for c in old.tables[ref]),
        ColumnSchema("data", "BYTES"),
        ColumnSchema("subscription_name", "STRING"),
    )
    changes = Comparer(old, replace(old, tables={**old.tables, ref: adapted}), {}, Loc("sources.yaml")).run()
    by_target = {c.target: (c.rule, c.classification) for c in changes}
    assert by_target == {
        f"{ref}.attributes": ("COLUMN_TYPE_CHANGED", "breaking"),
        f"{ref}.payload": ("COLUMN_RELAXED", "migration"),
        f"{ref}.data": ("COLUMN_ADDED", "migration"),
        f"{ref}.subscription_name": ("COLUMN_ADDED", "migration"),
    }


def test_the_backup_columns_a_subscription_cannot_fill(example):
    """The pipeline derives `uuid`, `source`, `message_type` and `received_at` from the attributes; a subscription
    writes none of them, so they would be NULL, and the table's clustering (by source and message type) with them."""
    model, old = example
    ref = f"{model.backup_table.dataset}.{model.backup_table.name}"
    columns = {c.name for c in old.tables[ref]}
    row = rows.backup_row(b"x", {"uuid": "u", "source": "s", "message_type": "m", "timestamp": "1"}, "1", 0)
    assert set(row) == columns
    unfilled = columns - SUBSCRIPTION_COLUMNS - {"payload"}  # payload: written as `data`
    assert unfilled == {"uuid", "source", "message_type", "received_at"}
    assert set(model.backup_table.clustering) <= unfilled
    # the payload column is required, and a subscription never writes it: every row would be rejected
    assert next(c for c in old.tables[ref] if c.name == "payload").mode == "REQUIRED"
