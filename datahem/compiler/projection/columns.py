"""A BigQuery column as it is deployed: the REST API's TableFieldSchema (`bigquery/<dataset>/<table>.schema.json`)
as a frozen value, and its DDL. The BigQuery emitter writes both from here; evolution compares these values (the
previous ones read back from the baseline's schema JSON) and renders its migration SQL with the same `column_def`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datahem.compiler.model.resolved import POLICY_TAG_PLACEHOLDER, Column
from datahem.runtime import typemap

PLACEHOLDER = POLICY_TAG_PLACEHOLDER.format("")


def sql_type(name: object) -> str:
    """The GoogleSQL name of a type written either way (`INTEGER` or `INT64`)."""
    text = str(name).upper()
    return typemap.SQL_NAMES.get(text, text)


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    name: str
    type: str  # GoogleSQL name: INT64, STRUCT, ...
    mode: str = "NULLABLE"  # NULLABLE | REQUIRED | REPEATED
    description: str = ""
    category: str | None = None  # the data category, deployed as a policy tag
    fields: tuple[ColumnSchema, ...] = ()  # a STRUCT's visible fields

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @property
    def struct(self) -> bool:
        return self.type == "STRUCT"

    def field(self, name: str) -> ColumnSchema | None:
        return next((f for f in self.fields if f.name == name), None)

    @classmethod
    def of(cls, c: Column, memo: dict[int, ColumnSchema] | None = None) -> ColumnSchema:
        """The deployed column of a resolved one (hidden fields have none). `memo`: the columns made so far, by the
        identity of the resolved column (the resolver shares the columns of a message type met in many places: half
        of a large project's), alive while the memo is used."""
        if memo is not None and (hit := memo.get(id(c))) is not None:
            return hit
        fields = tuple(cls.of(f, memo) for f in c.fields if not f.hidden) if c.bq_type == "STRUCT" else ()
        out = cls(c.name, c.bq_type, c.mode, c.description, c.category, fields)
        if memo is not None:
            memo[id(c)] = out
        return out

    @classmethod
    def from_json(cls, data: object) -> ColumnSchema | None:
        """A TableFieldSchema read back from a generated tree; None when it has no name."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return None
        names = (data.get("policyTags") or {}).get("names") or []
        return cls(
            name=data["name"],
            type=sql_type(data.get("type")),
            mode=(data.get("mode") or "NULLABLE").upper(),
            description=data.get("description") or "",
            category=names[0].removeprefix(PLACEHOLDER) if names else None,
            fields=read_columns(data.get("fields") or []),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": typemap.json_type(self.type), "mode": self.mode}
        if self.description:
            out["description"] = self.description
        if self.struct:
            out["fields"] = [f.to_json() for f in self.fields]
        if self.category:
            out["policyTags"] = {"names": [POLICY_TAG_PLACEHOLDER.format(self.category)]}
        return out


def read_columns(fields: object) -> tuple[ColumnSchema, ...]:
    """The columns of a schema JSON `fields` list; entries without a name are skipped, a repeated name keeps its last."""
    by_name = {}
    for f in fields if isinstance(fields, list) else []:
        col = ColumnSchema.from_json(f)
        if col is not None:
            by_name[col.name] = col
    return tuple(by_name.values())


def sql_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def ident(name: str) -> str:
    return f"`{name}`"


def column_type(c: ColumnSchema, indent: str | None = None) -> str:
    """The column's type in DDL: a STRUCT spread over lines at `indent` (CREATE TABLE), or on one line when `indent`
    is None (ALTER TABLE, plan summaries)."""
    if not c.struct:
        base = c.type
    elif indent is None:
        base = "STRUCT<" + ", ".join(column_def(f) for f in c.fields) + ">"
    else:
        inner = indent + "  "
        body = ",\n".join(inner + column_def(f, inner) for f in c.fields)
        base = f"STRUCT<\n{body}\n{indent}>"
    return f"ARRAY<{base}>" if c.repeated else base


def column_def(c: ColumnSchema, indent: str | None = None, not_null: bool = True) -> str:
    """A column definition. `not_null=False` for `ADD COLUMN`: BigQuery allows REQUIRED fields inside a new STRUCT,
    never a new REQUIRED column."""
    parts = [ident(c.name), column_type(c, indent)]
    if not_null and c.required:
        parts.append("NOT NULL")
    if c.description:
        parts.append(f"OPTIONS(description = {sql_string(c.description)})")
    return " ".join(parts)
