"""A scripted history of the example project: realistic edits in sequence, each built with `datahem build` and
committed, each checked for its classification (`datahem plan --format json --against HEAD`), the migration files it
adds and the plan text; at the end the accumulated migrations are applied to the BigQuery API emulator.

One module-scoped history (each build re-synthesizes the stacks, about 7 s; the plans run after the build, so they
reuse its stacks), the steps as separate tests in order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, copy_project, invoke_datahem, run_datahem

pytestmark = pytest.mark.slow  # each step builds and synthesizes (about 7 s)

ORDER = "schemas/grocer/commerce/v1/order.proto"
CAR = "schemas/grocer/delivery/v1/car_temperature.proto"


@dataclass
class History:
    project: Path
    initial: dict  # the example's events.orders schema JSON fields before any step

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=self.project,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.project / path
        text = file.read_text()
        assert old in text, old
        file.write_text(text.replace(old, new, 1))

    def build(self) -> subprocess.CompletedProcess:
        return invoke_datahem("build", cwd=self.project)

    def plan(self, *args: str) -> subprocess.CompletedProcess:
        return invoke_datahem("plan", "--against", "HEAD", *args, cwd=self.project)

    def classified(self) -> list[tuple[str, str, str]]:
        data = json.loads(self.plan("--format", "json").stdout)
        return sorted((c["classification"], c["rule"], c["target"]) for c in data["changes"])

    def new_files(self) -> list[str]:
        out = self.git("status", "--porcelain", "--untracked-files=all", "generated/bigquery/migrations")
        return sorted(line[3:].removeprefix("generated/bigquery/migrations/") for line in out.splitlines())

    def migration(self, name: str) -> str:
        return (self.project / "generated" / "bigquery" / "migrations" / name).read_text()

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("history") / "grocer")
    # the story numbers its migrations from 0001: the example's own earlier ones are not part of it
    shutil.rmtree(project / "generated" / "bigquery" / "migrations", ignore_errors=True)
    (project / "generated" / "registry" / "history.json").unlink(missing_ok=True)
    invoke_datahem("build", cwd=project, check=True)
    h = History(project, json.loads((project / "generated/bigquery/events/orders.schema.json").read_text()))
    h.git("init", "-q", "-b", "main")
    h.commit("the example project")
    return h


def _statements(sql: str) -> list[str]:
    from datahem.deploy.migrate import statements

    return statements(sql)


def test_01_add_an_optional_field(history):
    history.edit(
        ORDER,
        '  string event_id = 26 [(datahem.column) = {from_attribute: "uuid"}];\n',
        '  string event_id = 26 [(datahem.column) = {from_attribute: "uuid"}];\n'
        '  // Campaign code the member entered at checkout, e.g. "SUMMER24".\n'
        "  string campaign_code = 27;\n",
    )
    proc = history.build()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert history.classified() == [("migration", "COLUMN_ADDED", "events.orders.campaign_code")]
    assert history.new_files() == ["0001_events.orders.sql"]
    assert _statements(history.migration("0001_events.orders.sql")) == [
        "ALTER TABLE `events.orders` ADD COLUMN IF NOT EXISTS `campaign_code` STRING OPTIONS(description = "
        '"Campaign code the member entered at checkout, e.g. \\"SUMMER24\\".")'
    ]
    text = history.plan().stdout
    assert "No breaking change." in text
    assert "| + | `campaign_code` | new column `campaign_code` STRING in `events.orders` | migration |" in text
    assert "<code>generated/bigquery/migrations/0001_events.orders.sql</code>" in text
    assert "| `datahem-streaming` | update (`--update`, transform name mapping `{}`) | its converter changed" in text
    # Terraform changes no table for it (schema is ignored after creation): only the descriptor set object
    assert "- change `google_bigquery_table." not in text
    assert "| dev | 0 | 1 | 0 | 0 |" in text
    history.commit("campaign code")


def test_02_add_a_nested_field(history):
    history.edit(
        ORDER,
        "    string substituted_by_sku = 9;\n",
        "    string substituted_by_sku = 9;\n    // Picked weight in grams, for products sold by weight.\n"
        "    int32 picked_grams = 10;\n",
    )
    assert history.build().returncode == 0
    assert history.classified() == [("migration", "NESTED_COLUMN_ADDED", "events.orders.lines.picked_grams")]
    assert history.new_files() == ["0002_events.orders.patch.json"]
    patch = json.loads(history.migration("0002_events.orders.patch.json"))
    assert patch["operations"] == [
        {
            "op": "add_field",
            "path": ["lines"],
            "field": {
                "name": "picked_grams",
                "type": "INTEGER",
                "mode": "NULLABLE",
                "description": "Picked weight in grams, for products sold by weight.",
            },
        }
    ]
    assert "new field `lines.picked_grams` INT64 inside a STRUCT of `events.orders`" in history.plan().stdout
    history.commit("picked grams")


def test_03_relax_a_required_field(history):
    history.edit(ORDER, "  string member_id = 2 [(datahem.column) = {required: true}];", "  string member_id = 2;")
    assert history.build().returncode == 0
    assert history.classified() == [("migration", "COLUMN_RELAXED", "events.orders.member_id")]
    assert history.new_files() == ["0003_events.orders.sql"]
    assert _statements(history.migration("0003_events.orders.sql")) == [
        "ALTER TABLE `events.orders` ALTER COLUMN `member_id` DROP NOT NULL"
    ]
    history.commit("guest orders have no member")


def test_04_widen_an_integer(history):
    history.edit(
        ORDER,
        "[(datahem.column) = {default_policy: {kind: PROTO_DEFAULT}}];",
        '[(datahem.column) = {default_policy: {kind: PROTO_DEFAULT} type: "NUMERIC"}];',
    )
    assert history.build().returncode == 0
    assert history.classified() == [("migration", "COLUMN_TYPE_WIDENED", "events.orders.loyalty_points_used")]
    assert _statements(history.migration("0004_events.orders.sql")) == [
        "ALTER TABLE `events.orders` ALTER COLUMN `loyalty_points_used` SET DATA TYPE NUMERIC"
    ]
    history.commit("loyalty points as NUMERIC")


def test_05_rename_a_column_fails_until_accepted(history):
    history.edit(
        ORDER,
        '[(datahem.column) = {category: "pii_address"}];\n  // Idempotency',
        '[(datahem.column) = {category: "pii_address" name: "driver_notes"}];\n  // Idempotency',
    )
    before = (history.project / "generated" / "registry" / "history.json").read_bytes()
    proc = history.build()
    assert proc.returncode == 1
    assert re.fullmatch(
        r"schemas/grocer/commerce/v1/order\.proto:\d+:\d+: error\[COLUMN_RENAMED\]: column `delivery_instructions` "
        r"of `events\.orders` is renamed `driver_notes`.*target: events\.orders\.delivery_instructions, "
        r'reason: "\.\.\."\}\]`\n',
        proc.stdout,
    ), proc.stdout
    assert (history.project / "generated" / "registry" / "history.json").read_bytes() == before
    plan = history.plan("--fail-on-breaking")
    assert plan.returncode == 1
    assert "**1 breaking change(s)**" in plan.stdout
    assert "| `COLUMN_RENAMED` | `events.orders.delivery_instructions` |" in plan.stdout
    assert "**blocks the build**" in plan.stdout
    with (history.project / "sources.yaml").open("a") as f:
        f.write(
            "\naccepted_breaks:\n  - rule: COLUMN_RENAMED\n    target: events.orders.delivery_instructions\n"
            "    reason: The driver app calls them driver notes; the logistics dashboard moves in the same release.\n"
        )
    assert history.build().returncode == 0
    assert history.classified() == [("breaking", "COLUMN_RENAMED", "events.orders.delivery_instructions")]
    assert _statements(history.migration("0005_events.orders.sql")) == [
        "ALTER TABLE `events.orders` RENAME COLUMN IF EXISTS `delivery_instructions` TO `driver_notes`"
    ]
    plan = history.plan("--fail-on-breaking")
    assert plan.returncode == 0
    assert "accepted: The driver app calls them driver notes" in plan.stdout
    recorded = json.loads((history.project / "generated/registry/history.json").read_text())["migrations"][-1]
    assert recorded["accepted"][0]["rule"] == "COLUMN_RENAMED"
    history.commit("driver notes")


def test_06_delete_a_field(history):
    history.edit(
        ORDER,
        "  // When the order was last changed (the change this event describes).\n"
        "  google.protobuf.Timestamp updated_at = 6;\n",
        '  reserved 6;\n  reserved "updated_at";\n',
    )
    proc = history.build()
    assert proc.returncode == 1
    assert "error[FIELD_REMOVED]: field `updated_at` = 6 of `grocer.commerce.v1.Order` was removed" in proc.stdout
    history.edit(
        "sources.yaml",
        "accepted_breaks:\n",
        "accepted_breaks:\n  - rule: FIELD_REMOVED\n    target: grocer.commerce.v1.Order.updated_at\n"
        "    reason: Every order event is a change; the receive time says when.\n",
    )
    assert history.build().returncode == 0
    assert history.classified() == [("breaking", "FIELD_REMOVED", "grocer.commerce.v1.Order.updated_at")]
    # the entry of step 5 is for a change HEAD already has: the plan says to remove it
    assert (
        "> **Warning:** `accepted_breaks` entry `COLUMN_RENAMED` `events.orders.delivery_instructions` "
        "(`sources.yaml:" in history.plan().stdout
    )
    # the column keeps its data (nothing to run: it was NULLABLE); the acceptance is recorded in the history
    assert history.new_files() == []
    entry = json.loads((history.project / "generated/registry/history.json").read_text())["migrations"][-1]
    assert entry["number"] == 6 and entry["tables"] == {}
    assert entry["accepted"][0]["target"] == "grocer.commerce.v1.Order.updated_at"
    history.commit("no updated_at")


def test_07_bump_a_major_version(history):
    old = history.project / CAR
    new = history.project / CAR.replace("/v1/", "/v2/")
    new.parent.mkdir(parents=True)
    text = old.read_text().replace("package grocer.delivery.v1;", "package grocer.delivery.v2;")
    text = text.replace('name: "car_temperatures"', 'name: "car_temperatures_v2"')
    new.write_text(text.replace("  string route_id = 4;", "  int64 route_id = 4;"))
    old.unlink()
    shutil.move(str(old.with_suffix(".examples.yaml")), str(new.with_suffix(".examples.yaml")))
    history.edit(
        "sources.yaml", "message: grocer.delivery.v1.CarTemperature", "message: grocer.delivery.v2.CarTemperature"
    )
    proc = history.build()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert history.classified() == [("safe", "MAJOR_VERSION_ADDED", "grocer.delivery.v1.CarTemperature")]
    registry = json.loads((history.project / "generated/registry/history.json").read_text())
    assert registry["retired_tables"] == ["events.car_temperatures"]
    stack = json.loads((history.project / "generated/infra/cdktf.out/stacks/dev/cdk.tf.json").read_text())
    v1 = "grocer-delivery-v1-CarTemperature"
    forgotten = [
        "google_bigquery_table.table_events-car_temperatures",
        *(f"google_pubsub_subscription.subscription_{v1}{s}" for s in ("-backup", "-dead-letter-hold", "-enrichment")),
        *(f"google_pubsub_topic.topic_{v1}{s}" for s in ("", "-dead-letter", "-processed")),
    ]
    # the old version's table, topics and subscriptions (with their backlog and dead letters) are forgotten, not destroyed
    assert stack["removed"] == [{"from": a, "lifecycle": {"destroy": False}} for a in forgotten]
    text = history.plan().stdout
    assert "- forget `google_bigquery_table.table_events-car_temperatures`" in text
    assert "- add `google_bigquery_table.table_events-car_temperatures_v2`" in text
    assert "- destroy `google_bigquery_table." not in text
    assert re.search(r"\| `datahem-streaming` \| relaunch \|.*branch `car_temperatures`: its subscription", text), text
    assert (
        "- `car_temperatures`: its routes now deliver `grocer.delivery.v2.CarTemperature` on topic "
        "`grocer.delivery.v2.CarTemperature` (was `grocer.delivery.v1.CarTemperature` on topic "
        "`grocer.delivery.v1.CarTemperature`)" in text
    )
    assert "<details><summary>Columns of the new table `events.car_temperatures_v2`" in text
    assert "| `route_id` | INT64 | NULLABLE |  |" in text
    history.commit("car temperatures v2")


def test_08_a_later_build_keeps_every_migration(history):
    assert invoke_datahem("build", "--check", cwd=history.project).returncode == 0
    registry = json.loads((history.project / "generated/registry/history.json").read_text())
    assert [e["number"] for e in registry["migrations"]] == [1, 2, 3, 4, 5, 6, 7]
    files = sorted(p.name for p in (history.project / "generated/bigquery/migrations").iterdir())
    assert files == [
        "0001_events.orders.sql",
        "0002_events.orders.patch.json",
        "0003_events.orders.sql",
        "0004_events.orders.sql",
        "0005_events.orders.sql",
    ]
    # the whole history, planned against the first commit: the branch's view in a pull request
    first = history.git("rev-list", "--max-parents=0", "HEAD").strip()
    plan = invoke_datahem("plan", "--against", first, cwd=history.project)
    assert plan.returncode == 0
    assert "No unaccepted breaking change; 2 accepted in sources.yaml." in plan.stdout
    assert plan.stdout.count("<code>generated/bigquery/migrations/") == 5
    assert (
        f"> **Warning:** This branch adds 7 migrations since `{first}` (0001, 0002, 0003, 0004, 0005, 0006, 0007); "
        f"every table runs each in turn. Squash them into one: `datahem build --against {first}`, then commit "
        "generated/." in plan.stdout
    )


class _EmulatorClient:
    """The google-cloud-bigquery client, with the one statement form bqemulator 1.4 cannot parse rewritten:
    `RENAME COLUMN IF EXISTS` (BigQuery accepts it; the emulator's parser only knows `RENAME COLUMN`, which does the
    same on a first run). Everything else goes to the emulator unchanged."""

    def __init__(self, client):
        self.client = client
        self.rewritten: list[str] = []

    def query(self, sql: str):
        if " RENAME COLUMN IF EXISTS " in sql:
            self.rewritten.append(sql)
            sql = sql.replace(" RENAME COLUMN IF EXISTS ", " RENAME COLUMN ")
        return self.client.query(sql)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_09_the_migrations_apply_to_the_bigquery_emulator(history):
    """The table as the example project created it, migrated through every step by `datahem migrate`'s code: the
    SQL statements change the table (bqemulator runs DDL on its DuckDB tables, visible to queries, though not in the
    metadata `tables.get` returns), the schema patch adds the nested field through the API, and the label ledger makes
    a second run apply nothing."""
    from google.api_core.retry import Retry
    from google.cloud import bigquery

    from datahem.deploy.migrate import LABEL, MigrationError, Migrator, client_for
    from tests.emulators import bigquery_emulator

    with bigquery_emulator() as url:
        raw = client_for("demo-project", url)
        raw.create_dataset("events")
        table = bigquery.Table("demo-project.events.orders")
        table.schema = [bigquery.SchemaField.from_api_repr(f) for f in history.initial["fields"]]
        raw.create_table(table)
        client = _EmulatorClient(raw)
        generated = history.project / "generated"
        with pytest.raises(MigrationError, match="has no `datahem_migration` label and its columns differ"):
            Migrator(client, generated).run(["events.orders"])
        report = Migrator(client, generated).run(["events.orders"], assume_level=0)
        assert report.applied == 5  # four SQL statements and one patch
        assert len(client.rewritten) == 1
        assert raw.get_table("events.orders").labels[LABEL] == "0007"
        rows = raw.query("SELECT * FROM `events.orders` LIMIT 0", retry=Retry(deadline=10)).result()
        columns = {f.name for f in rows.schema}
        assert {"campaign_code", "driver_notes", "updated_at"} <= columns  # added, renamed, kept (accepted removal)
        assert "delivery_instructions" not in columns
        lines = next(f for f in raw.get_table("events.orders").schema if f.name == "lines")
        assert [f.name for f in lines.fields][-1] == "picked_grams"
        again = Migrator(client, generated).run(["events.orders"])
        assert again.applied == 0
        assert again.lines == ["events.orders: up to date (datahem_migration=0007)"]


def test_10_a_branch_rebuilt_against_main_gets_one_migration(history, tmp_path):
    """`datahem build --against REF` compares with REF's generated/ and carries REF's migrations: the whole history
    above, rebuilt against its first commit, is one migration with every step in order."""
    project = tmp_path / "branch"
    shutil.copytree(history.project, project)
    first = history.git("rev-list", "--max-parents=0", "HEAD").strip()
    proc = invoke_datahem("build", "--against", first, cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    registry = json.loads((project / "generated/registry/history.json").read_text())
    (entry,) = registry["migrations"]
    assert sorted(a["rule"] for a in entry["accepted"]) == ["COLUMN_RENAMED", "FIELD_REMOVED"]
    assert registry["retired_tables"] == ["events.car_temperatures"]
    migrations = project / "generated/bigquery/migrations"
    assert sorted(p.name for p in migrations.iterdir()) == ["0001_events.orders.patch.json", "0001_events.orders.sql"]
    assert _statements((migrations / "0001_events.orders.sql").read_text()) == [
        "ALTER TABLE `events.orders` RENAME COLUMN IF EXISTS `delivery_instructions` TO `driver_notes`",
        "ALTER TABLE `events.orders` ALTER COLUMN `member_id` DROP NOT NULL",
        "ALTER TABLE `events.orders` ALTER COLUMN `loyalty_points_used` SET DATA TYPE NUMERIC",
        "ALTER TABLE `events.orders` ADD COLUMN IF NOT EXISTS `campaign_code` STRING OPTIONS(description = "
        '"Campaign code the member entered at checkout, e.g. \\"SUMMER24\\".")',
    ]
    assert invoke_datahem("build", "--check", cwd=project).returncode == 0
    # planned against the main line (seven migrations), this branch's history (one) does not extend it
    diverged = invoke_datahem("plan", "--against", str(history.project), cwd=project)
    assert "> **Warning:** The migration history does not extend" in diverged.stdout
    bad = run_datahem("build", "--against", "no-such-ref", cwd=project)
    assert bad.returncode == 2 and "is not a git revision here" in bad.stderr
