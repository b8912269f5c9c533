"""BigQuery: per table a `CREATE TABLE IF NOT EXISTS` DDL and the table's schema JSON (REST API
TableFieldSchema) with a policy-tag placeholder `datahem:category/<name>` on every categorized column; the
infrastructure stacks replace each placeholder with a reference to the category's policy-tag resource.
Also the shared backup and dead-letter tables."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header, header_text, render, to_json
from datahem.compiler.model.resolved import Column, Model, Table
from datahem.runtime import typemap


def sql_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def ident(name: str) -> str:
    return f"`{name}`"


def column_type(c: Column, indent: str) -> str:
    if c.bq_type == "STRUCT":
        inner = indent + "  "
        body = ",\n".join(inner + column_def(f, inner) for f in c.fields if not f.hidden)
        base = f"STRUCT<\n{body}\n{indent}>"
    else:
        base = c.bq_type
    return f"ARRAY<{base}>" if c.repeated else base


def column_def(c: Column, indent: str = "  ") -> str:
    parts = [ident(c.name), column_type(c, indent)]
    if c.mode == "REQUIRED":
        parts.append("NOT NULL")
    if c.description:
        parts.append(f"OPTIONS(description = {sql_string(c.description)})")
    return " ".join(parts)


def partition_by(t: Table, types: dict[str, str]) -> str:
    p = t.partitioning
    if p.column is None:
        return "_PARTITIONDATE" if p.granularity == "DAY" else f"TIMESTAMP_TRUNC(_PARTITIONTIME, {p.granularity})"
    col_type = types[p.column]
    if col_type == "DATE":
        return ident(p.column) if p.granularity == "DAY" else f"DATE_TRUNC({ident(p.column)}, {p.granularity})"
    return f"{col_type}_TRUNC({ident(p.column)}, {p.granularity})"


def ddl(t: Table, sources: list[str]) -> bytes:
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
        columns=[column_def(c) for c in t.bq_columns],
        partition_by=partition_by(t, types),
        cluster_by=", ".join(ident(c) for c in t.clustering),
        options=options,
    )


def field_schema(c: Column) -> dict:
    out: dict = {"name": c.name, "type": typemap.json_type(c.bq_type), "mode": c.mode}
    if c.description:
        out["description"] = c.description
    if c.bq_type == "STRUCT":
        out["fields"] = [field_schema(f) for f in c.fields if not f.hidden]
    if c.policy_tag:
        out["policyTags"] = {"names": [c.policy_tag]}
    return out


def schema_json(t: Table, sources: list[str]) -> bytes:
    return to_json({"comment": header_text(sources), "fields": [field_schema(c) for c in t.bq_columns]})


def table_sources(t: Table) -> list[str]:
    return list(t.provenance)


def emit(model: Model) -> list[OutputFile]:
    out = []
    for t in (*model.tables, model.backup_table, model.dead_letter_table):
        base = f"bigquery/{t.dataset}/{t.name}"
        src = table_sources(t)
        out.append(OutputFile(f"{base}.sql", ddl(t, src)))
        out.append(OutputFile(f"{base}.schema.json", schema_json(t, src)))
    return out
