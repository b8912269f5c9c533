"""The deploy steps of `python -m datahem.deploy.apply`: the foundation's targets and the refusal to deploy workloads
whose secrets have no value (gcloud and terraform replaced by a recording fake)."""

from __future__ import annotations

import json
import subprocess

from datahem.deploy import apply
from tests.conftest import EXAMPLE

GENERATED = EXAMPLE / "generated"


def _stack(env: str) -> dict:
    return json.loads((apply.stack_dir(GENERATED, env) / "cdk.tf.json").read_text())


def test_foundation_targets_what_publishing_and_secrets_need_and_no_workload():
    targets = apply.foundation_targets(_stack("dev"))
    kinds = {t.removeprefix("-target=").split(".")[0] for t in targets}
    assert {"google_project_service", "google_project_service_identity", "google_storage_bucket"} <= kinds
    assert {"google_artifact_registry_repository", "google_secret_manager_secret"} <= kinds
    for workload in ("google_dataflow_flex_template_job", "google_cloud_run_v2_service", "google_cloudfunctions2"):
        assert not any(workload in t for t in targets)
    assert targets == apply.foundation_targets(_stack("dev")), "stable order"


class Fake:
    def __init__(self, versions: dict[str, str]):
        self.versions = versions
        self.calls: list[list[str]] = []

    def __call__(self, args):
        self.calls.append(list(args))
        if args[:3] == ["gcloud", "secrets", "versions"]:
            return subprocess.CompletedProcess(args, 0, self.versions.get(args[4], ""), "")
        return subprocess.CompletedProcess(args, 0, "", "")


def test_secrets_without_a_version_are_refused_with_the_command_that_adds_one(capsys):
    platform = json.loads((GENERATED / "infra" / "platform.json").read_text())
    ids = [s["id"] for s in platform["secrets"]]
    assert len(ids) >= 2
    fake = Fake({ids[0]: "projects/p/secrets/x/versions/1\n"})
    assert apply.secrets(GENERATED, "dev", run=fake) == 1
    err = capsys.readouterr().err
    assert f"gcloud secrets versions add {ids[0]} " not in err
    for sid in ids[1:]:
        assert f"gcloud secrets versions add {sid} --project=grocer-data-dev --data-file=PATH" in err
    assert all("--filter=state:ENABLED" in c for c in fake.calls)


def test_secrets_with_versions_pass():
    platform = json.loads((GENERATED / "infra" / "platform.json").read_text())
    fake = Fake({s["id"]: "v1\n" for s in platform["secrets"]})
    assert apply.secrets(GENERATED, "prod", run=fake) == 0
    assert {c[4] for c in fake.calls} == {s["id"] for s in platform["secrets"]}
    assert all("--project=grocer-data-prod" in c for c in fake.calls)


def test_foundation_runs_init_then_a_targeted_apply():
    fake = Fake({})
    assert apply.foundation(GENERATED, "dev", run=fake) == 0
    init, plan = fake.calls
    assert init[2:] == ["init", "-input=false"]
    assert plan[2] == "apply" and "-target=google_project_service.api_pubsub" in plan


def test_access_disables_the_functions_invoker_check_only_where_sources_yaml_says_so():
    fake = Fake({})
    assert apply.access(GENERATED, "dev", run=fake) == 0
    assert fake.calls == [], "dev keeps its allUsers bindings (in the stack)"
    assert apply.access(GENERATED, "prod", run=fake) == 0
    (call,) = fake.calls
    assert call[:5] == ["gcloud", "run", "services", "update", "datahem-sns-collector"]
    assert "--no-invoker-iam-check" in call and "--project=grocer-data-prod" in call
