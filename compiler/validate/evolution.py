"""Safe evolution, the part the infrastructure needs now: a change that would make Terraform replace a BigQuery
table — dropping its data — is a build error (TABLE_WOULD_BE_REPLACED), never emitted silently.

The baseline is the previous build in generated/ (committed, so it is what was reviewed and deployed):
`registry/index.json` (message type → table), `bigquery/<dataset>/<table>.schema.json` (columns) and
`infra/platform.json` (partitioning). A missing or unreadable baseline file means nothing to compare with.

What replaces a table follows the google provider's rules for `google_bigquery_table`: a new table id or dataset;
in `schema`, a column that disappears (removed, renamed or hidden), a type change (only the aliases INT64/INTEGER,
FLOAT64/FLOAT, BOOL/BOOLEAN are the same type: even widenings BigQuery allows in SQL are replacements in Terraform),
a mode change other than REQUIRED → NULLABLE, a new REQUIRED column; and `time_partitioning.field`. A changed
partitioning granularity cannot be applied in place either. Clustering, descriptions, policy tags, labels, partition
expiration and require-filter are updated in place and are fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from compiler import rules
from compiler.diagnostics import Diagnostics, Loc
from compiler.model.resolved import Column, Model, Table
from runtime import typemap

_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
_FIX = "or move the message to a new major version (package `...v2`) to start a new table"


@dataclass(frozen=True)
class Baseline:
    tables: dict[str, str] = field(default_factory=dict)  # message → "dataset.table"
    fields: dict[str, list] = field(default_factory=dict)  # "dataset.table" → schema JSON fields
    partitioning: dict[str, dict] = field(default_factory=dict)  # message → {"type", "field", ...}


def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_baseline(generated: Path) -> Baseline:
    index = _json(generated / "registry" / "index.json") or {}
    messages = index.get("messages")
    tables = {
        m: e["table"]
        for m, e in (messages.items() if isinstance(messages, dict) else ())
        if isinstance(e, dict) and isinstance(e.get("table"), str) and "." in e["table"]
    }
    fields = {}
    for ref in tables.values():
        dataset, _, name = ref.partition(".")
        schema = _json(generated / "bigquery" / dataset / f"{name}.schema.json") or {}
        if isinstance(schema.get("fields"), list):
            fields[ref] = schema["fields"]
    platform = _json(generated / "infra" / "platform.json") or {}
    partitioning = {
        t["message"]: t["partitioning"]
        for t in platform.get("tables", [])
        if isinstance(t, dict) and t.get("message") and isinstance(t.get("partitioning"), dict)
    }
    return Baseline(tables, fields, partitioning)


def check_replacements(model: Model, generated: Path, d: Diagnostics) -> None:
    baseline = load_baseline(generated)
    for t in model.tables:
        old_ref = baseline.tables.get(t.message)
        if old_ref is None:
            continue  # a new message type: a new table
        ref = f"{t.dataset}.{t.name}"
        if old_ref != ref:
            old_dataset, _, old_name = old_ref.partition(".")
            d.error(
                t.option_loc,
                rules.TABLE_WOULD_BE_REPLACED,
                f"`{t.message}` now maps to table `{ref}` instead of `{old_ref}`: Terraform would delete "
                f"`{old_ref}` with its data and create a new table; keep it with "
                f'`option (datahem.table) = {{name: "{old_name}" dataset: "{old_dataset}"}}`, {_FIX}',
            )
            continue
        if ref in baseline.fields:
            _columns(t, baseline.fields[ref], t.bq_columns, "", t.loc, d)
        if t.message in baseline.partitioning:
            _partitioning(t, baseline.partitioning[t.message], d)


def _type(name: object) -> str:
    text = str(name).upper()
    return _ALIASES.get(text, text)


def _columns(t: Table, old: list, new: tuple[Column, ...], prefix: str, parent: Loc, d: Diagnostics) -> None:
    current = {c.name: c for c in new if not c.hidden}
    old_names = {f.get("name") for f in old if isinstance(f, dict)}
    table = f"{t.dataset}.{t.name}"
    for f in old:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        path = prefix + f["name"]
        c = current.get(f["name"])
        if c is None:
            d.error(
                parent,
                rules.TABLE_WOULD_BE_REPLACED,
                f"column `{path}` of `{table}` is gone (its field was removed, renamed or hidden): Terraform would "
                f"replace the table and its data would be lost; keep the field (for a renamed field set "
                f'`[(datahem.column) = {{name: "{f["name"]}"}}]`), {_FIX}',
            )
            continue
        old_type, new_type = _type(f.get("type")), _type(typemap.json_type(c.bq_type))
        if old_type != new_type:
            d.error(
                c.option_loc if c.bq_type != c.natural_type else c.loc,
                rules.TABLE_WOULD_BE_REPLACED,
                f"column `{path}` of `{table}` changes type from {old_type} to {new_type}: Terraform replaces a "
                f"table on any column type change (even a widening) and its data would be lost; keep the type and "
                f"add a new field for the new type, {_FIX}",
            )
            continue
        old_mode, new_mode = str(f.get("mode") or "NULLABLE").upper(), c.mode
        if old_mode != new_mode and (old_mode, new_mode) != ("REQUIRED", "NULLABLE"):
            d.error(
                c.option_loc if c.required else c.loc,
                rules.TABLE_WOULD_BE_REPLACED,
                f"column `{path}` of `{table}` changes mode from {old_mode} to {new_mode}: only REQUIRED → "
                f"NULLABLE is possible in place, Terraform would replace the table and its data would be lost; "
                f"keep the mode, {_FIX}",
            )
            continue
        if new_type == "RECORD" and isinstance(f.get("fields"), list):
            _columns(t, f["fields"], c.fields, path + ".", c.loc, d)
    for c in new:
        if not c.hidden and c.name not in old_names and c.mode == "REQUIRED" and c.proto_type != "metadata":
            d.error(
                c.option_loc,
                rules.TABLE_WOULD_BE_REPLACED,
                f"new column `{prefix}{c.name}` of `{table}` is REQUIRED: existing rows have no value, so "
                f"Terraform would replace the table and its data would be lost; add it without `required: true`, {_FIX}",
            )


def _describe(p: dict) -> str:
    return f"{p.get('type')} on `{p['field']}`" if p.get("field") else f"{p.get('type')} by ingestion time"


def _partitioning(t: Table, old: dict, d: Diagnostics) -> None:
    p = t.partitioning
    new = {"type": p.granularity, "field": p.column}
    if (old.get("type"), old.get("field")) != (new["type"], new["field"]):
        d.error(
            p.loc,
            rules.TABLE_WOULD_BE_REPLACED,
            f"partitioning of `{t.dataset}.{t.name}` changes from {_describe(old)} to {_describe(new)}: a table's "
            f"partitioning cannot change in place, Terraform would replace the table and its data would be lost; "
            f"keep the partitioning, {_FIX}",
        )
