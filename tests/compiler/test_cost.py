"""The cost model in generated/cost/cost.json: the example's floor is one streaming job (and the Kinesis reader)
instead of a job per source, priced from the committed price table; `datahem plan --volumes` reads GiB/day per
source from a file and refuses a malformed one."""

from __future__ import annotations

import json

from datahem.compiler.build import load_model
from datahem.compiler.emitters import infra
from datahem.compiler.projection.cost import PRICES, cost, load_prices
from tests.compiler.evolution.test_plan import _gib_day_month, _worker_month
from tests.conftest import EXAMPLE, copy_project, invoke_datahem


def test_the_price_table_names_its_source_date_and_region():
    prices = json.loads(PRICES.read_text())
    assert prices["taken"] == "2026-12-02" and prices["region"] == "us-central1"
    assert all(url.startswith("https://cloud.google.com/") for url in prices["sources"].values())
    assert "list prices" in prices["comment"] and "ONE region" in prices["comment"]


def test_the_committed_cost_model_is_the_examples(example_model):
    committed = json.loads((EXAMPLE / "generated" / "cost" / "cost.json").read_text())
    assert {k: v for k, v in committed.items() if k != "comment"} == cost(infra.platform(example_model))


def test_one_job_per_environment_is_the_floor_of_two_workers_not_nine(example_model, tmp_path):
    worker, secrets = _worker_month(), 3 * load_prices()["secret_manager"]["active_version_replica_month"]
    one = cost(infra.platform(example_model))["environments"]
    assert one["dev"]["floor_month"] == round(2 * worker + secrets, 2)  # the streaming job and the Kinesis reader
    project = copy_project(EXAMPLE, tmp_path / "p")
    text = (project / "sources.yaml").read_text()
    (project / "sources.yaml").write_text(
        text.replace("\nbigquery:\n", "\npipelines: {deployment: per_source}\n\nbigquery:\n")
    )
    per_source = cost(infra.platform(load_model(project)))["environments"]
    assert per_source["dev"]["floor_month"] == round(9 * worker + secrets, 2)  # 7 sources, the backup, the reader
    # prod replicates its secrets to two regions
    assert per_source["prod"]["floor_month"] == round(9 * worker + 2 * secrets, 2)
    # the same events cost the same per GiB either way; the Kinesis source's reader job adds its Dataflow data
    assert one["dev"]["sources"] == per_source["dev"]["sources"]
    assert one["dev"]["sources"]["orders"]["per_gib_day_month"] == _gib_day_month()
    cars = one["dev"]["sources"]["car_temperatures"]["items"]
    assert [i["factor"] for i in cars if i["what"] == "Dataflow Streaming Engine data"] == [3]


def test_plan_prices_a_volumes_file_and_refuses_a_bad_one(tmp_path):
    volumes = tmp_path / "volumes.yaml"
    volumes.write_text("prod: {orders: 2}\ndev: {orders: 0.5}\n")
    proc = invoke_datahem("plan", "--against", str(EXAMPLE), "--volumes", str(volumes), cwd=EXAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| your volumes before | your volumes after |" in proc.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders: lots\n")
    proc = invoke_datahem("plan", "--against", str(EXAMPLE), "--volumes", str(bad), cwd=EXAMPLE)
    assert proc.returncode == 2
    assert "expected `source: GiB/day`" in proc.stderr


def test_insert_all_is_priced_at_the_streaming_insert_rate(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "p")
    text = (project / "sources.yaml").read_text()
    (project / "sources.yaml").write_text(
        text.replace(
            "      state_bucket: grocer-data-dev-tfstate\n",
            "      state_bucket: grocer-data-dev-tfstate\n      write_method: insert_all\n",
        )
    )
    envs = cost(infra.platform(load_model(project)))["environments"]
    assert envs["dev"]["sources"]["orders"]["per_gib_day_month"] == _gib_day_month("streaming_inserts_gib")
    assert envs["prod"]["sources"]["orders"]["per_gib_day_month"] == _gib_day_month()
