"""DataHem's own checks of a synthesized stack (cdk.tf.json), for what a generic scanner like Checkov does not know:
the order a first deploy on a fresh project needs, releases that reach every job, and retirement that loses nothing.

`python -m datahem.deploy.stack_checks STACK.json...` prints one line per problem and exits 1 if there is any; the
stack tests run the same checks on the example project (and can on any project, e.g. one made by `datahem init`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

# Resource types and the API each needs enabled first (a `google_project_service` among its dependencies).
NEEDS_API = {
    "google_pubsub_topic": "pubsub",
    "google_bigquery_dataset": "bigquery",
    "google_storage_bucket": "storage",
    "google_artifact_registry_repository": "artifactregistry",
    "google_secret_manager_secret": "secretmanager",
    "google_service_account": "iam",
    "google_project_service_identity": None,  # its own service's API
    "google_cloud_run_v2_service": "run",
    "google_cloudfunctions2_function": "compute",
    "google_dataflow_flex_template_job": "compute",
    "google_project_iam_member": "cloudresourcemanager",
}
KEEP = ("google_pubsub_topic", "google_pubsub_subscription")
MIN_TERRAFORM = (1, 7)
_SECRET_REF = re.compile(r"\$\{google_secret_manager_secret\.([A-Za-z0-9_-]+)\.(?:id|secret_id)\}")

Problems = Iterator[str]


def _resources(stack: dict) -> Iterator[tuple[str, str, dict]]:
    for kind, items in stack.get("resource", {}).items():
        for name, body in items.items():
            yield kind, name, body


def _depends(body: dict) -> set[str]:
    return {d.removeprefix("${").removesuffix("}") for d in body.get("depends_on", [])}


def agents_before_grants(stack: dict) -> Problems:
    """Grants to a Google service agent name a `google_project_service_identity` (created after its API), never a
    hand-built `service-N@gcp-sa-...` address that may not exist yet on a new project."""
    for kind, name, body in _resources(stack):
        member = body.get("member", "")
        if isinstance(member, str) and "gcp-sa-" in member:
            yield f"{kind}.{name}: grant to a service agent address built by hand ({member})"


def apis_first(stack: dict) -> Problems:
    """Every resource waits for the API it needs, so one apply works on a project where none is enabled."""
    for kind, name, body in _resources(stack):
        if kind not in NEEDS_API:
            continue
        api = NEEDS_API[kind] or body.get("service", "").split(".")[0]
        if f"google_project_service.api_{api}" not in _depends(body):
            yield f"{kind}.{name}: does not depend on the {api} API (google_project_service.api_{api})"


def release_in_every_job(stack: dict) -> Problems:
    """A release changes every Dataflow job (its template path carries `var.release`), or Terraform sees no diff."""
    for _, name, body in _resources(stack):
        if "container_spec_gcs_path" in body and "${var.release}" not in body["container_spec_gcs_path"]:
            yield f"dataflow job {name}: template path without the release ({body['container_spec_gcs_path']})"


def nothing_destroyed(stack: dict) -> Problems:
    """Tables have deletion protection; topics and subscriptions `prevent_destroy`; `removed` blocks never destroy
    and come with a Terraform that knows them."""
    for kind, name, body in _resources(stack):
        if kind == "google_bigquery_table" and body.get("deletion_protection") is not True:
            yield f"{kind}.{name}: no deletion protection"
        if kind in KEEP and body.get("lifecycle", {}).get("prevent_destroy") is not True:
            yield f"{kind}.{name}: no prevent_destroy (its backlog and dead letters would go with it)"
    for block in stack.get("removed", []):
        if block.get("lifecycle", {}).get("destroy") is not False:
            yield f"removed block of {block.get('from')}: destroys the resource"
    required = stack.get("terraform", {}).get("required_version", "")
    m = re.match(r"^>=\s*(\d+)\.(\d+)", required)
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_TERRAFORM:
        yield f"terraform.required_version is `{required}`: removed blocks need >= 1.7"


def secrets_managed(stack: dict) -> Problems:
    """Every secret a workload reads is a secret of the stack (so the deploy's secrets step checks its versions)."""
    secrets = stack.get("resource", {}).get("google_secret_manager_secret", {})
    for kind, name, body in _resources(stack):
        if kind not in ("google_cloud_run_v2_service", "google_dataflow_flex_template_job"):
            continue
        for ref in _SECRET_REF.findall(json.dumps(body)):
            if ref not in secrets:
                yield f"{kind}.{name}: reads secret {ref}, which the stack does not manage"


CHECKS: tuple[Callable[[dict], Problems], ...] = (
    agents_before_grants,
    apis_first,
    release_in_every_job,
    nothing_destroyed,
    secrets_managed,
)


def problems(stack: dict) -> list[str]:
    return [p for check in CHECKS for p in check(stack)]


def main(argv: Sequence[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    found = 0
    for path in paths:
        for p in problems(json.loads(path.read_text(encoding="utf-8"))):
            print(f"{path}: {p}")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
