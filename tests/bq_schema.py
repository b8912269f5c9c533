"""Read BigQuery DDL back with sqlglot into the same shape as the schema JSON, so tests can compare them."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from datahem.runtime import typemap


def parse_ddl(sql: str) -> exp.Create:
    tree = sqlglot.parse_one(sql, read="bigquery")
    assert isinstance(tree, exp.Create) and tree.kind == "TABLE", sql[:200]
    return tree


def _description(constraints) -> str | None:
    for c in constraints or []:
        if isinstance(c.kind, exp.Properties) or "OPTIONS" in c.sql("bigquery"):
            for prop in c.find_all(exp.Property):
                if prop.name.lower() == "description":
                    return prop.args["value"].this
    return None


def _field(name: str, dt: exp.DataType, constraints) -> dict:
    mode = "NULLABLE"
    if dt.is_type(exp.DataType.Type.ARRAY):
        mode = "REPEATED"
        dt = dt.expressions[0]
    elif any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in constraints or []):
        mode = "REQUIRED"
    out: dict = {"name": name, "mode": mode}
    if dt.is_type(exp.DataType.Type.STRUCT):
        out["type"] = "RECORD"
        out["fields"] = [_field(f.name, f.args["kind"], f.args.get("constraints")) for f in dt.expressions]
    else:
        out["type"] = typemap.json_type(dt.sql("bigquery").upper())
    desc = _description(constraints)
    if desc is not None:
        out["description"] = desc
    return out


def ddl_fields(sql: str) -> list[dict]:
    tree = parse_ddl(sql)
    return [_field(c.name, c.args["kind"], c.args.get("constraints")) for c in tree.this.expressions]


def strip_json_fields(fields: list[dict]) -> list[dict]:
    """The schema JSON without what DDL cannot say (policy tags)."""
    out = []
    for f in fields:
        g = {k: v for k, v in f.items() if k != "policyTags"}
        if "fields" in g:
            g["fields"] = strip_json_fields(g["fields"])
        out.append(g)
    return out
