"""`datahem plan` says exactly what a change does: each sentence the plan prints for the evolution cases
(tests/evolution/cases/<case>/{previous,current}/), checked in the plan text.

The case's previous state is built (without the stacks' synth) into the current project's generated/, and the plan
compares with it, as `datahem plan` does in a project without git.
"""

from __future__ import annotations

import json
from pathlib import Path

from datahem.compiler.build import Settings, compile_project, plan, render_all
from datahem.compiler.emitters import infra, to_json
from datahem.compiler.evolution.plan import as_json, markdown
from datahem.compiler.projection.cost import load_prices
from tests.compiler.evolution.test_rules import CASES
from tests.conftest import EXAMPLE, copy_project

NO_SYNTH = ("registry", "bigquery", "migrations", "routing", "docs", "pipelines")


def _generated(project: Path) -> dict[str, bytes]:
    compiled = compile_project(project)
    files = render_all(compiled, Settings(project, emitters=NO_SYNTH))
    files["infra/platform.json"] = to_json(infra.platform(compiled.model, compiled.evolution.retired_tables))
    return files


def _plan_against(project: Path, previous: Path):
    """The plan of `project` against `previous` built into its generated/ (as without git)."""
    for rel, data in _generated(previous).items():
        (project / "generated" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "generated" / rel).write_bytes(data)
    return plan(project, None, emitters=NO_SYNTH)


def plan_of(case: str, tmp_path: Path, edit=None):
    project = copy_project(CASES / case / "current", tmp_path / case)
    if edit:
        edit(project)
    return _plan_against(project, CASES / case / "previous")


def _per_source(project: Path) -> Path:
    with (project / "sources.yaml").open("a") as f:
        f.write("pipelines:\n  deployment: per_source\n")
    return project


def test_a_field_rename_names_the_json_name_only_when_it_differs(tmp_path):
    text = markdown(plan_of("field_renamed", tmp_path))
    assert "events from JSON producers that still send `email` would be rejected" in text
    assert "(or `email`)" not in text


def test_a_rename_is_accepted_by_one_entry(tmp_path):
    result = plan_of("field_renamed_accepted_once", tmp_path)
    text = markdown(result)
    assert "No unaccepted breaking change; 2 accepted in sources.yaml." in text
    assert "| `FIELD_RENAMED` | `shop.v1.Click.email` |" in text
    assert "| `COLUMN_RENAMED` | `events.click.email` |" in text
    assert "matches no change" not in text  # the one entry is used
    assert "ALTER TABLE `events.click` RENAME COLUMN IF EXISTS `email` TO `mail`;" in text


def test_the_unaccepted_column_rename_points_to_the_one_entry(tmp_path):
    from datahem.compiler.diagnostics import CompileError

    project = copy_project(CASES / "field_renamed_accepted_once" / "current", tmp_path / "p")
    sources = project / "sources.yaml"
    sources.write_text(sources.read_text().split("accepted_breaks:")[0])
    for rel, data in _generated(CASES / "field_renamed_accepted_once" / "previous").items():
        (project / "generated" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "generated" / rel).write_bytes(data)
    try:
        compile_project(project)
    except CompileError as err:
        messages = [d.message for d in err.diagnostics]
    (column,) = [m for m in messages if "queries reading `email` would fail" in m]
    assert "`accepted_breaks: [{rule: FIELD_RENAMED, target: shop.v1.Click.email" in column
    assert "(that one entry also accepts this COLUMN_RENAMED)" in column


def test_a_category_change_counts_its_migration_and_names_who_reads(tmp_path):
    result = plan_of("category_changed", tmp_path)
    text = markdown(result)
    assert "1 change(s) need a migration, 0 need none." in text
    assert "<code>generated/bigquery/migrations/0001_events.click.patch.json</code>" in text
    assert "| column | gains clear read | loses clear read | gains masked read | loses masked read |" in text
    assert "new converter" not in text and "its converter changed" not in text


def test_an_access_change_names_the_principals_per_column(tmp_path):
    text = markdown(plan_of("category_access_changed", tmp_path))
    assert "- `CATEGORY_ACCESS_CHANGED` category `pii_email` changed: readers" in text
    assert "| `events.click.email` | `group:sales@shop.example` |  |  |  |" in text
    assert "No Dataflow job changes." in text


def test_a_new_major_version_shows_its_route_target_and_its_columns(tmp_path):
    result = plan_of("major_version_added", tmp_path)
    text = markdown(result)
    assert "No route changes." not in text
    assert (
        "- `clicks`: its routes now deliver `shop.v2.Click` on topic `shop.v2.Click` (was `shop.v1.Click` on " in text
    )
    assert "<details><summary>Columns of the new table `events.click_v2`" in text
    assert "| `email` | STRING | NULLABLE | `pii_email` |" in text


def test_a_new_table_lists_its_columns(tmp_path):
    text = markdown(plan_of("table_added", tmp_path))
    assert "<details><summary>Columns of the new table `" in text
    assert "| `_uuid` | STRING | REQUIRED |  |" in text


def test_a_changed_converter_is_named(tmp_path):
    text = markdown(plan_of("column_added", tmp_path))
    assert "its converter changed (`generated/pipelines/converters/shop_v1_click.py`)" in text


def test_a_stale_accepted_break_is_a_warning(tmp_path):
    def stale(project: Path) -> None:
        with (project / "sources.yaml").open("a") as f:
            f.write("  - rule: COLUMN_REMOVED\n    target: events.click.nothing\n    reason: Long done.\n")

    result = plan_of("field_removed_accepted", tmp_path, stale)
    text = markdown(result)
    assert "> **Warning:** `accepted_breaks` entry `COLUMN_REMOVED` `events.click.nothing` (`sources.yaml:" in text
    assert "matches no change since `generated/`: remove it" in text
    assert "`FIELD_REMOVED` `shop.v1.Device.model`" not in text.split("### Breaking")[0]  # the used one is not stale
    assert '"stale_accepted_breaks": [\n    {\n      "rule": "COLUMN_REMOVED"' in as_json(result)


def _jobs(result) -> dict[str, tuple[str, str]]:
    return {j["job"]: (j["action"], j["why"]) for j in result.dataflow}


def test_a_new_source_updates_the_streaming_job_in_place(tmp_path):
    result = plan_of("table_added", tmp_path)
    assert _jobs(result) == {
        "datahem-streaming": ("update", "new branch `views`: new steps; new message types: new backup read steps")
    }
    assert "| `datahem-streaming` | update (`--update`, transform name mapping `{}`) | new branch `views`" in (
        markdown(result)
    )


def test_a_removed_source_relaunches_the_streaming_job(tmp_path):
    action, why = _jobs(plan_of("source_removed", tmp_path))["datahem-streaming"]
    assert action == "relaunch"
    assert "branch `clicks_legacy` removed: its read step cannot be dropped by an update" in why


def test_per_source_deployment_names_the_source_job_it_updates(tmp_path):
    previous = _per_source(copy_project(CASES / "table_added" / "previous", tmp_path / "previous"))
    project = _per_source(copy_project(CASES / "table_added" / "current", tmp_path / "current"))
    jobs = _jobs(_plan_against(project, previous))
    assert jobs == {
        "datahem-backup": ("update", "new message types: new backup read steps"),
        "datahem-views": ("launch", "new pipeline"),
    }


def test_switching_to_one_job_drains_the_source_jobs_into_it(tmp_path):
    previous = _per_source(copy_project(CASES / "table_added" / "current", tmp_path / "previous"))
    project = copy_project(CASES / "table_added" / "current", tmp_path / "current")
    jobs = _jobs(_plan_against(project, previous))
    moved = "its branches moved to `datahem-streaming` (Terraform drains the job)"
    assert jobs == {
        "datahem-backup": ("drain", moved),
        "datahem-clicks": ("drain", moved),
        "datahem-views": ("drain", moved),
        "datahem-streaming": (
            "launch",
            "new pipeline: takes over the branches of `datahem-backup`, `datahem-clicks`, `datahem-views`",
        ),
    }


# -- cost -------------------------------------------------------------------------------------------------------


def _cost_section(text: str) -> str:
    return text[text.index("### Cost (monthly)") : text.index("### Infrastructure")]


def _worker_month() -> float:
    """One always-on Dataflow worker of the default shape, priced from the committed price table."""
    prices = load_prices()
    df = prices["dataflow"]
    shape = df["machine_types"][df["default_machine_type"]]
    hourly = (
        shape["vcpus"] * df["streaming_vcpu_hour"]
        + shape["memory_gib"] * df["streaming_memory_gib_hour"]
        + df["default_disk_gib"] * df["standard_disk_gib_hour"]
    )
    return round(hourly * prices["hours_per_month"], 2)


def _gib_day_month(write: str = "storage_write_gib") -> float:
    """1 GiB/day of one source's events for a month: Pub/Sub ×4, Dataflow data ×2, row writes ×2 (the Storage Write
    API by default, `streaming_inserts_gib` for insert_all), storage ×2."""
    p = load_prices()
    once = 4 * p["pubsub"]["throughput_gib"] + 2 * p["dataflow"]["streaming_engine_data_gib"]
    once += 2 * p["bigquery"][write]
    return round(
        once * p["days_per_month"] + 2 * p["days_per_month"] * p["bigquery"]["active_logical_storage_gib_month"], 2
    )


def test_adding_a_source_costs_no_floor_in_the_streaming_job_and_its_gib_per_day(tmp_path):
    result = plan_of("table_added", tmp_path)
    text = _cost_section(markdown(result))
    rate = _gib_day_month()
    assert f"- adding source `views`: +$0 floor (same job `datahem-streaming`), +${rate:,.2f} per GiB/day" in text
    floor = _worker_month()
    assert f"| dev | ${floor:,.2f} | ${floor:,.2f} | ${rate:,.2f} | ${rate:,.2f} |" in text
    assert "List prices of us-central1 taken 2026-12-02 (`datahem/compiler/prices.json`)" in text
    assert json.loads(as_json(result))["cost"]["environments"][0]["floor_after"] == floor


def test_removing_a_source_keeps_the_floor_of_the_job_that_stays(tmp_path):
    text = _cost_section(markdown(plan_of("source_removed", tmp_path)))
    rate = _gib_day_month()
    assert (
        f"- removing source `clicks_legacy`: −$0 floor (job `datahem-streaming` stays), −${rate:,.2f} per GiB/day"
        in text
    )


def _per_source_cost(case: str, tmp_path: Path) -> str:
    """The plan's cost section of a case with both sides deployed a job per source."""
    previous = _per_source(copy_project(CASES / case / "previous", tmp_path / "previous"))
    project = _per_source(copy_project(CASES / case / "current", tmp_path / "current"))
    return _cost_section(markdown(_plan_against(project, previous)))


def test_a_source_of_its_own_adds_a_worker_to_the_floor(tmp_path):
    text, worker = _per_source_cost("table_added", tmp_path), _worker_month()
    assert f"- adding source `views`: +${worker:,.2f} floor (new job `datahem-views`)" in text
    # before: the clicks job and the backup job; after: a third job
    assert f"| dev | ${2 * worker:,.2f} | ${3 * worker:,.2f} (+${worker:,.2f}) |" in text


def test_removing_a_source_of_its_own_drains_its_floor(tmp_path):
    text, worker = _per_source_cost("source_removed", tmp_path), _worker_month()
    assert f"- removing source `clicks_legacy`: −${worker:,.2f} floor (job `datahem-clicks-legacy` drained)" in text


def test_your_volumes_are_priced_before_and_after(tmp_path):
    project = copy_project(CASES / "table_added" / "current", tmp_path / "current")
    for rel, data in _generated(CASES / "table_added" / "previous").items():
        (project / "generated" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "generated" / rel).write_bytes(data)
    result = plan(project, None, emitters=NO_SYNTH, volumes={"clicks": 2, "views": 3, "nothing": 1})
    text = _cost_section(markdown(result))
    floor, rate = _worker_month(), _gib_day_month()
    before, after = round(floor + 2 * rate, 2), round(floor + 5 * rate, 2)
    assert "| your volumes before | your volumes after |" in text
    assert f"| ${before:,.2f} | ${after:,.2f} (+${after - before:,.2f}) |" in text
    assert "> **Warning:** the volumes name `nothing`, which neither build has: not counted." in text


# -- Kinesis: reader job or import topic ------------------------------------------------------------------------

KINESIS_ROLE = "    role_arn: arn:aws:iam::123456789012:role/datahem-kinesis-reader"
KINESIS_STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/car-temperatures"


def test_kinesis_via_pubsub_import_drains_the_reader_and_the_topic_ingests_the_stream(tmp_path):
    previous = copy_project(EXAMPLE, tmp_path / "previous")
    project = copy_project(EXAMPLE, tmp_path / "current")
    sources = project / "sources.yaml"
    consumer = f"{KINESIS_STREAM}/consumer/datahem:1764633600"
    sources.write_text(
        sources.read_text().replace(
            KINESIS_ROLE, f"{KINESIS_ROLE}\n    via: pubsub_import\n    consumer_arn: {consumer}"
        )
    )
    result = _plan_against(project, previous)
    topic = "grocer.delivery.v1.CarTemperature"
    assert _jobs(result) == {
        "datahem-kinesis-car-temperatures": (
            "drain",
            f"topic `{topic}` ingests aws_kinesis `{KINESIS_STREAM}` itself now (Terraform drains the reader)",
        ),
        "datahem-streaming": (
            "update",
            "an import topic's backup read gets a step that gives its messages DataHem's attributes; "
            "branch `car_temperatures` reads an import topic: a new step gives its messages DataHem's attributes",
        ),
    }
    text = markdown(result)
    assert (
        f"- `car_temperatures`: topic `{topic}` now ingests aws_kinesis `{KINESIS_STREAM}` itself (Pub/Sub import "
        "topic): no reader job" in text
    )
    # the reader's always-on worker leaves the floor, and its Dataflow data leaves the cost per GiB
    cost, worker = _cost_section(text), _worker_month()
    assert f"(−${worker:,.2f}) |" in cost.split("| dev |")[1].split("\n")[0]
    back = _jobs(_plan_against(copy_project(previous, tmp_path / "back"), project))
    assert back["datahem-kinesis-car-temperatures"] == ("launch", "new pipeline")
    assert back["datahem-streaming"][0] == "relaunch"
