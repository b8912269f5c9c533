"""BigQuery: per table a `CREATE TABLE IF NOT EXISTS` DDL and the table's schema JSON (REST API
TableFieldSchema), both serialized from the table's projected columns (`datahem/compiler/projection/columns.py`),
with a policy-tag placeholder `datahem:category/<name>` on every categorized column; the infrastructure stacks
replace each placeholder with a reference to the category's policy-tag resource. Also the shared backup and
dead-letter tables. And per table the row message of the Storage Write API (`<table>.row.txtpb`, a DescriptorProto in
text format, built by `datahem.runtime.rowproto` from the same columns; the pipelines send it as their writer schema)."""

from __future__ import annotations

from typing import Any

from datahem.compiler.emitters import OutputFile, header, header_text, render, to_json
from datahem.compiler.model.resolved import Model, Table
from datahem.compiler.projection.columns import ColumnSchema, column_def, ident, sql_string
from datahem.compiler.projection.project import Projection
from datahem.compiler.projection.tables import table_ref
from datahem.runtime import rowproto


def partition_by(t: Table, types: dict[str, str]) -> str:
    p = t.partitioning
    if p.column is None:
        return "_PARTITIONDATE" if p.granularity == "DAY" else f"TIMESTAMP_TRUNC(_PARTITIONTIME, {p.granularity})"
    col_type = types[p.column]
    if col_type == "DATE":
        return ident(p.column) if p.granularity == "DAY" else f"DATE_TRUNC({ident(p.column)}, {p.granularity})"
    return f"{col_type}_TRUNC({ident(p.column)}, {p.granularity})"


def ddl(t: Table, cols: tuple[ColumnSchema, ...], sources: list[str]) -> bytes:
    types = {c.name: c.bq_type for c in t.bq_columns}
    options: list[tuple[str, str]] = []
    if t.description:
        options.append(("description", sql_string(t.description)))
    if t.labels:
        pairs = ", ".join(f"({sql_string(k)}, {sql_string(v)})" for k, v in t.labels)
        options.append(("labels", f"[{pairs}]"))
    if t.partitioning.expiration_days:
        options.append(("partition_expiration_days", str(t.partitioning.expiration_days)))
    if t.partitioning.require_filter:
        options.append(("require_partition_filter", "TRUE"))
    return render(
        "bigquery/table.sql.j2",
        header=header("sql", sources),
        table=ident(f"{t.dataset}.{t.name}"),
        columns=[column_def(c, "  ") for c in cols],
        partition_by=partition_by(t, types),
        cluster_by=", ".join(ident(c) for c in t.clustering),
        options=options,
    )


def schema_json(fields: list[dict[str, Any]], sources: list[str]) -> bytes:
    """`fields`: the columns' TableFieldSchema dicts (`ColumnSchema.to_json`)."""
    return to_json({"comment": header_text(sources), "fields": fields})


def row_message(name: str, fields: list[dict[str, Any]], sources: list[str]) -> bytes:
    return f"{header('txtpb', sources)}\n{rowproto.row_text(name, fields)}".encode()


def table_sources(t: Table) -> list[str]:
    return list(t.provenance)


def emit(model: Model, projection: Projection) -> list[OutputFile]:
    out = []
    for t in (*model.tables, model.backup_table, model.dead_letter_table):
        base = f"bigquery/{t.dataset}/{t.name}"
        src = table_sources(t)
        cols = projection.tables[table_ref(t)]
        out.append(OutputFile(f"{base}.sql", ddl(t, cols, src)))
        fields = [c.to_json() for c in cols]
        out.append(OutputFile(f"{base}.schema.json", schema_json(fields, src)))
        out.append(OutputFile(f"{base}.row.txtpb", row_message(t.name, fields, src)))
    return out
