"""`datahem migrate` and `datahem plan` from the command line: schema patches (pure), the ledger on a table the
emulator holds, and the plan's usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from datahem.deploy.migrate import MigrationError, apply_patch, statements, structure
from tests.compiler.evolution.test_rules import CASES, baseline
from tests.conftest import EXAMPLE, copy_project, invoke_datahem, run_datahem

FIELDS = [
    {"name": "id", "type": "STRING", "mode": "REQUIRED"},
    {
        "name": "device",
        "type": "RECORD",
        "mode": "NULLABLE",
        "fields": [{"name": "model", "type": "STRING", "mode": "REQUIRED", "description": "Model."}],
    },
]


def test_patch_operations_merge_and_are_idempotent():
    ops = [
        {"op": "add_field", "path": ["device"], "field": {"name": "os", "type": "STRING", "mode": "NULLABLE"}},
        {"op": "relax", "path": ["device", "model"]},
        {"op": "set_description", "path": ["device", "model"], "description": ""},
        {"op": "set_policy_tag", "path": ["id"], "category": "pii"},
        {
            "op": "add_field",
            "path": [],
            "field": {
                "name": "email",
                "type": "STRING",
                "mode": "NULLABLE",
                "policyTags": {"names": ["datahem:category/pii"]},
            },
        },
    ]
    tags = {"pii": "projects/p/locations/eu/taxonomies/1/policyTags/2"}
    once = apply_patch(FIELDS, ops, tags)
    assert once == [
        {"name": "id", "type": "STRING", "mode": "REQUIRED", "policyTags": {"names": [tags["pii"]]}},
        {
            "name": "device",
            "type": "RECORD",
            "mode": "NULLABLE",
            "fields": [
                {"name": "model", "type": "STRING", "mode": "NULLABLE"},
                {"name": "os", "type": "STRING", "mode": "NULLABLE"},
            ],
        },
        {"name": "email", "type": "STRING", "mode": "NULLABLE", "policyTags": {"names": [tags["pii"]]}},
    ]
    assert apply_patch(once, ops, tags) == once
    assert FIELDS[1]["fields"][0]["mode"] == "REQUIRED", "the input is not modified"
    with pytest.raises(MigrationError, match="--policy-tags does not name it"):
        apply_patch(FIELDS, ops, None)
    with pytest.raises(MigrationError, match="`device.serial` does not exist"):
        apply_patch(FIELDS, [{"op": "relax", "path": ["device", "serial"]}], None)


def test_statements_split_at_line_ends_only():
    sql = '-- header; with a semicolon\nALTER TABLE `a.b` ADD COLUMN IF NOT EXISTS `c` STRING OPTIONS(description = "x; y");\n\n-- why\nALTER TABLE `a.b` ALTER COLUMN `d` DROP NOT NULL;\n'
    assert statements(sql) == [
        'ALTER TABLE `a.b` ADD COLUMN IF NOT EXISTS `c` STRING OPTIONS(description = "x; y")',
        "ALTER TABLE `a.b` ALTER COLUMN `d` DROP NOT NULL",
    ]


def test_structure_ignores_descriptions_tags_order_and_type_aliases():
    a = [{"name": "n", "type": "INT64"}, {"name": "r", "type": "STRUCT", "fields": [{"name": "x", "type": "BOOL"}]}]
    b = [
        {
            "name": "r",
            "type": "RECORD",
            "mode": "NULLABLE",
            "fields": [{"name": "x", "type": "BOOLEAN", "description": "d"}],
        },
        {"name": "n", "type": "INTEGER", "policyTags": {"names": ["t"]}},
    ]
    assert structure(a) == structure(b)


def _generated(case: str, root: Path) -> Path:
    """The generated/ tree a build of the case's current project writes (registry, BigQuery, migrations)."""
    files = {**baseline(CASES / case / "current")}
    for p in (CASES / case / "expected").rglob("*"):
        if p.is_file():
            files[p.relative_to(CASES / case / "expected").as_posix()] = p.read_bytes()
    for rel, data in files.items():
        (root / "generated" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "generated" / rel).write_bytes(data)
    return root


@pytest.mark.slow
def test_datahem_migrate_on_the_emulator(tmp_path):
    """The CLI end to end: a table as the previous build made it, the nested field added by the patch, the ledger
    label set; then a second run and a table that is already current."""
    from google.cloud import bigquery

    from datahem.deploy.migrate import client_for
    from tests.emulators import bigquery_emulator

    project = _generated("nested_column_added", tmp_path / "p")
    previous = json.loads(baseline(CASES / "nested_column_added" / "previous")["bigquery/events/click.schema.json"])
    current = json.loads((project / "generated/bigquery/events/click.schema.json").read_text())
    (project / "policy_tags.json").write_text(json.dumps({"value": {"pii_email": "projects/p/tags/email"}}))
    with bigquery_emulator() as url:
        client = client_for("demo-project", url)
        client.create_dataset("events")
        for name, fields in (("click", previous["fields"]), ("fresh", current["fields"])):
            table = bigquery.Table(f"demo-project.events.{name}")
            table.schema = [bigquery.SchemaField.from_api_repr(f) for f in fields]
            client.create_table(table)
        shutil.copy(
            project / "generated/bigquery/events/click.schema.json",
            project / "generated/bigquery/events/fresh.schema.json",
        )
        args = ["migrate", "--project", str(project), "--gcp-project", "demo-project", "--bigquery-endpoint", url]
        refused = invoke_datahem(*args, "--table", "events.click")
        assert refused.returncode == 1
        assert "has no `datahem_migration` label and its columns differ" in refused.stderr
        first = invoke_datahem(*args, "--assume-level", "0", "--policy-tags", str(project / "policy_tags.json"))
        assert first.returncode == 0, first.stdout + first.stderr
        assert "events.click: 0001 patch add_field device, add_field device" in first.stdout  # tag resolved
        assert "events.fresh: datahem_migration=0001 (new table, already current)" not in first.stdout  # assumed
        device = next(f for f in client.get_table("events.click").schema if f.name == "device")
        assert [f.name for f in device.fields] == ["os", "model", "browser", "owner_email"]
        assert client.get_table("events.click").labels["datahem_migration"] == "0001"
        again = invoke_datahem(*args)
        assert again.returncode == 0
        assert "events.click: up to date (datahem_migration=0001)" in again.stdout
        assert again.stdout.rstrip().endswith("applied 0 migration step(s)")


@pytest.mark.slow
def test_a_table_terraform_just_created_is_only_labelled(tmp_path):
    from google.cloud import bigquery

    from datahem.deploy.migrate import Migrator, client_for
    from tests.emulators import bigquery_emulator

    project = _generated("column_added", tmp_path / "p")
    current = json.loads((project / "generated/bigquery/events/click.schema.json").read_text())
    with bigquery_emulator() as url:
        client = client_for("demo-project", url)
        client.create_dataset("events")
        table = bigquery.Table("demo-project.events.click")
        table.schema = [bigquery.SchemaField.from_api_repr(f) for f in current["fields"]]
        client.create_table(table)
        report = Migrator(client, project / "generated").run(["events.click"])
        assert report.applied == 0
        assert report.lines == ["events.click: datahem_migration=0001 (new table, already current)"]
        assert client.get_table("events.click").labels["datahem_migration"] == "0001"
        missing = Migrator(client, project / "generated").run()
        assert (
            "events_backup.backup: does not exist yet (terraform apply creates it with the current schema)"
            in missing.lines
        )


def test_plan_usage_errors_and_an_unchanged_project(tmp_path):
    assert run_datahem("plan", "--against", "no-such-ref-anywhere").returncode == 2
    project = copy_project(EXAMPLE, tmp_path / "p")
    proc = invoke_datahem("plan", "--against", str(EXAMPLE), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "No breaking change." in proc.stdout
    assert "No route changes." in proc.stdout
    assert "No Dataflow job changes." in proc.stdout
    assert "| dev | 0 | 0 | 0 | 0 |" in proc.stdout
    rules = invoke_datahem("rules").stdout
    assert "Compatibility rules" in rules
    assert "FIELD_REMOVED               wire        breaking (acceptable)" in rules
