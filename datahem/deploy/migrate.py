"""`datahem migrate`: apply the migrations of generated/bigquery/migrations/ to an environment's BigQuery tables.

The ledger is a label on each table, `datahem_migration` = the number of the last history entry the table has
(Terraform leaves labels it does not manage alone: the google provider's `labels` are non-authoritative). Per table:

- no table: nothing to do (Terraform creates it, with the current schema);
- no label: Terraform created it from the current schema, so it needs none of the earlier migrations; its live
  columns are checked against the generated schema JSON and it is labelled with the latest number (a table whose
  columns differ is refused: pass `--assume-level N` to say which migration it has);
- a label L: every history entry after L that names the table is applied in order, its SQL statements first (one
  query job each), then its schema patch (one `tables.update` with the merged schema), then the label moves to the
  entry's number, so a failure resumes at the migration that failed. Every statement and patch operation is
  idempotent, so running one twice is harmless.

Schema patches do what SQL cannot: add fields inside a STRUCT (always at the end), relax nested fields, set nested
descriptions and policy tags. Policy tags are named by category in the patches; `--policy-tags` maps each category to
its policy-tag resource (the stack's Terraform output `policy_tags`).

Reads only generated/ (never the compiler); imported by the CLI, runs in CI with the deployer's credentials.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from datahem.runtime.contracts.platform import MIGRATION_LABEL

LABEL = MIGRATION_LABEL
PLACEHOLDER = "datahem:category/"
_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}


class MigrationError(Exception):
    """A table cannot be migrated as generated/ says (user-facing; the CLI prints it and exits 1)."""


@dataclass(frozen=True)
class Entry:
    number: int
    sql: Path | None
    patch: Path | None


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    applied: int = 0

    def say(self, text: str) -> None:
        self.lines.append(text)


def _norm_type(t: object) -> str:
    text = str(t).upper()
    return _ALIASES.get(text, text)


def load_history(generated: Path) -> dict:
    path = generated / "registry" / "history.json"
    if not path.is_file():
        return {"migrations": []}
    return json.loads(path.read_text(encoding="utf-8"))


def target_tables(generated: Path) -> dict[str, list]:
    """dataset.table → the generated schema JSON `fields` of every table the project has."""
    out = {}
    for path in sorted((generated / "bigquery").glob("*/*.schema.json")):
        out[f"{path.parent.name}.{path.name.removesuffix('.schema.json')}"] = json.loads(path.read_text())["fields"]
    return out


def entries_for(history: dict, table: str, generated: Path) -> list[Entry]:
    out = []
    for e in history.get("migrations", []):
        files = (e.get("tables") or {}).get(table)
        if files:
            sql, patch = files.get("sql"), files.get("patch")
            out.append(Entry(int(e["number"]), generated / sql if sql else None, generated / patch if patch else None))
    return sorted(out, key=lambda e: e.number)


def statements(sql_text: str) -> list[str]:
    """The statements of a migration file: comment lines dropped, split at `;` ending a line (string literals are
    escaped on one line by the compiler, so a `;` at a line end always ends a statement)."""
    body = "\n".join(line for line in sql_text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|$)", body) if s.strip()]


def structure(fields: list) -> list:
    """Names, types and modes (recursively, sorted by name): what a migration changes, for the check of an
    unlabelled table. Descriptions and policy tags are left out (the emulator and older APIs drop them)."""
    return sorted(
        (
            f["name"].lower(),
            _norm_type(f.get("type")),
            (f.get("mode") or "NULLABLE").upper(),
            structure(f.get("fields") or []),
        )
        for f in fields
    )


def _resolve_tags(f: dict, policy_tags: dict[str, str] | None) -> dict:
    f = copy.deepcopy(f)
    names = (f.get("policyTags") or {}).get("names")
    if names:
        f["policyTags"] = {"names": [_tag(n.removeprefix(PLACEHOLDER), policy_tags) for n in names]}
    if f.get("fields"):
        f["fields"] = [_resolve_tags(g, policy_tags) for g in f["fields"]]
    return f


def _tag(category: str, policy_tags: dict[str, str] | None) -> str:
    if not policy_tags or category not in policy_tags:
        raise MigrationError(
            f"the migration sets the policy tag of category `{category}`, but --policy-tags does not name it; pass the "
            "stack's output: `terraform output -json policy_tags > policy_tags.json`"
        )
    return policy_tags[category]


def _find(fields: list, path: list[str]) -> dict:
    """The field at `path` (names, case-insensitive like BigQuery's)."""
    level, node = fields, None
    for name in path:
        node = next((f for f in level if f["name"].lower() == name.lower()), None)
        if node is None:
            raise MigrationError(f"column `{'.'.join(path)}` does not exist in the table")
        level = node.get("fields") or []
    return node


def apply_patch(fields: list, operations: list[dict], policy_tags: dict[str, str] | None) -> list:
    """The schema `fields` (REST representation) after the patch operations; a no-op for what is already there."""
    fields = copy.deepcopy(fields)
    for op in operations:
        kind, path = op["op"], op["path"]
        if kind == "add_field":
            parent = _find(fields, path) if path else None
            level = parent.setdefault("fields", []) if parent is not None else fields
            if not any(f["name"].lower() == op["field"]["name"].lower() for f in level):
                level.append(_resolve_tags(op["field"], policy_tags))
        elif kind == "relax":
            node = _find(fields, path)
            if (node.get("mode") or "NULLABLE").upper() == "REQUIRED":
                node["mode"] = "NULLABLE"
        elif kind == "set_description":
            node = _find(fields, path)
            if op["description"]:
                node["description"] = op["description"]
            else:
                node.pop("description", None)
        elif kind == "set_policy_tag":
            node = _find(fields, path)
            if op["category"]:
                node["policyTags"] = {"names": [_tag(op["category"], policy_tags)]}
            else:
                node["policyTags"] = {"names": []}  # an empty list removes the tag through the API
        else:
            raise MigrationError(f"unknown schema-patch operation `{kind}`; is datahem older than generated/?")
    return fields


class Migrator:
    """Applies generated/'s migrations through a google-cloud-bigquery client (any endpoint: BigQuery or an
    emulator)."""

    def __init__(self, client, generated: Path, policy_tags: dict[str, str] | None = None, dry_run: bool = False):
        self.client = client
        self.generated = generated
        self.policy_tags = policy_tags
        self.dry_run = dry_run
        self.history = load_history(generated)
        self.latest = max((int(e["number"]) for e in self.history.get("migrations", [])), default=0)

    def run(self, tables: list[str] | None = None, assume_level: int | None = None) -> Report:
        from google.api_core.exceptions import NotFound

        report = Report()
        targets = target_tables(self.generated)
        for ref in tables or sorted(targets):
            if ref not in targets:
                raise MigrationError(f"`{ref}` is not a table of this project; tables: {', '.join(sorted(targets))}")
            try:
                table = self.client.get_table(ref)
            except NotFound:
                report.say(f"{ref}: does not exist yet (terraform apply creates it with the current schema)")
                continue
            self._table(table, ref, targets[ref], assume_level, report)
        return report

    def _table(self, table, ref: str, target: list, assume_level: int | None, report: Report) -> None:
        label = (table.labels or {}).get(LABEL)
        if label is None and assume_level is None:
            live = [f.to_api_repr() for f in table.schema]
            if structure(live) != structure(target):
                raise MigrationError(
                    f"`{ref}` has no `{LABEL}` label and its columns differ from "
                    f"generated/bigquery/{ref.replace('.', '/', 1)}.schema.json; if it predates a migration, say "
                    f"which one it has with --assume-level N (0: none)"
                )
            self._label(table, ref, self.latest, report, "new table, already current")
            return
        level = int(label) if label is not None else int(assume_level)
        pending = [e for e in entries_for(self.history, ref, self.generated) if e.number > level]
        for entry in pending:
            self._apply(ref, entry, report)
            table = self._label(self.client.get_table(ref), ref, entry.number, report, f"migration {entry.number:04d}")
        if not pending:
            report.say(f"{ref}: up to date ({LABEL}={level:04d})")
        if level < self.latest or label is None:
            self._label(table, ref, max(self.latest, level), report, "")

    def _apply(self, ref: str, entry: Entry, report: Report) -> None:
        if entry.sql is not None:
            for stmt in statements(entry.sql.read_text(encoding="utf-8")):
                report.say(f"{ref}: {entry.number:04d} SQL {stmt.splitlines()[0][:160]}")
                if not self.dry_run:
                    self.client.query(stmt).result()
                report.applied += 1
        if entry.patch is not None:
            ops = json.loads(entry.patch.read_text(encoding="utf-8"))["operations"]
            table = self.client.get_table(ref)
            live = [f.to_api_repr() for f in table.schema]
            merged = apply_patch(live, ops, self.policy_tags)
            report.say(f"{ref}: {entry.number:04d} patch {', '.join(o['op'] + ' ' + '.'.join(o['path']) for o in ops)}")
            if merged != live and not self.dry_run:
                from google.cloud import bigquery

                table.schema = [bigquery.SchemaField.from_api_repr(f) for f in merged]
                self.client.update_table(table, ["schema"])
            report.applied += 1

    def _label(self, table, ref: str, number: int, report: Report, why: str):
        if why:
            report.say(f"{ref}: {LABEL}={number:04d} ({why})")
        if self.dry_run:
            return table
        table.labels = {**(table.labels or {}), LABEL: f"{number:04d}"}
        return self.client.update_table(table, ["labels"])


def client_for(project: str, endpoint: str | None):
    """A BigQuery client; with an endpoint (an emulator) anonymous credentials, else Application Default
    Credentials (workload identity federation in CI)."""
    from google.cloud import bigquery

    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
        )
    return bigquery.Client(project=project)
