"""DataHem's own stack checks (datahem/deploy/stack_checks.py): clean on every committed stack (the example's and the
golden case's), and each check finds the fault it is about when one is planted."""

from __future__ import annotations

import copy
import json

import pytest

from datahem.deploy import stack_checks
from tests.conftest import EXAMPLE, ROOT

STACKS = sorted(
    [
        *EXAMPLE.glob("generated/infra/cdktf.out/stacks/*/cdk.tf.json"),
        *ROOT.glob("tests/cases/*/expected/infra/cdktf.out/stacks/*/cdk.tf.json"),
    ]
)


@pytest.mark.parametrize("path", STACKS, ids=[str(p.relative_to(ROOT)) for p in STACKS])
def test_committed_stacks_pass(path):
    assert stack_checks.problems(json.loads(path.read_text())) == []


@pytest.fixture(scope="module")
def dev() -> dict:
    return json.loads((EXAMPLE / "generated/infra/cdktf.out/stacks/dev/cdk.tf.json").read_text())


def _first(stack: dict, kind: str) -> dict:
    return next(iter(stack["resource"][kind].values()))


def plant_agent_address(s):
    _first(s, "google_pubsub_topic_iam_member")["member"] = (
        "serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def plant_no_api(s):
    _first(s, "google_pubsub_topic")["depends_on"] = []


def plant_fixed_template(s):
    _first(s, "google_dataflow_flex_template_job")["container_spec_gcs_path"] = "gs://b/templates/x.json"


def plant_destroyable_subscription(s):
    del _first(s, "google_pubsub_subscription")["lifecycle"]


def plant_old_terraform(s):
    s["terraform"]["required_version"] = ">= 1.5.0"


def plant_destroying_removed(s):
    s["removed"] = [{"from": "google_pubsub_topic.topic_x", "lifecycle": {"destroy": True}}]


def plant_unmanaged_secret(s):
    job = _first(s, "google_dataflow_flex_template_job")
    job["parameters"]["key"] = "${google_secret_manager_secret.secret_elsewhere.id}/versions/latest"


@pytest.mark.parametrize(
    "plant, expected",
    [
        (plant_agent_address, "service agent address built by hand"),
        (plant_no_api, "does not depend on the pubsub API"),
        (plant_fixed_template, "template path without the release"),
        (plant_destroyable_subscription, "no prevent_destroy"),
        (plant_old_terraform, "removed blocks need >= 1.7"),
        (plant_destroying_removed, "destroys the resource"),
        (plant_unmanaged_secret, "reads secret secret_elsewhere"),
    ],
)
def test_each_check_finds_its_fault(dev, plant, expected):
    stack = copy.deepcopy(dev)
    plant(stack)
    found = stack_checks.problems(stack)
    assert len(found) == 1 and expected in found[0], found


def test_command_line_exit_status(dev, tmp_path, capsys):
    good = EXAMPLE / "generated/infra/cdktf.out/stacks/dev/cdk.tf.json"
    assert stack_checks.main([str(good)]) == 0
    bad = copy.deepcopy(dev)
    plant_fixed_template(bad)
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert stack_checks.main([str(tmp_path / "bad.json")]) == 1
    assert "template path without the release" in capsys.readouterr().out
