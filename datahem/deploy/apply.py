"""`python -m datahem.deploy.apply STEP ENV`: the steps of a deploy that work on a fresh project, run by the deploy
workflow once per environment (see the README's "Deploy").

- `foundation`: `terraform init` and an apply of what must exist before anything is published or started: the
  APIs, the service agents, the registry and Dataflow buckets, the image repository, the KMS key and the Secret
  Manager secrets (`-target`s read from the synthesized stack; Terraform adds what they depend on).
- `secrets`: refuses to go on while a secret the workloads read has no enabled version (Cloud Run checks secret
  access when a revision deploys, and a pipeline would fail at run time and be relaunched on every apply), listing
  each one with the command that adds a version.
- `access` (after the full apply): with the environment's `invoker_iam_disabled`, disables the invoker check of the
  SNS function's Cloud Run service (the provider sets it on the HTTP collector's service, but cannot on a function),
  so the collectors are public without an `allUsers` binding.

Reads generated/infra only (never the compiler). Terraform and gcloud are run as subprocesses; `run` is injectable
for tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

GENERATED = Path("generated")
# The resource types created in the foundation step (everything else waits for published images and secret values).
FOUNDATION_TYPES = (
    "google_project_service",
    "google_project_service_identity",
    "google_storage_bucket",
    "google_artifact_registry_repository",
    "google_kms_key_ring",
    "google_kms_crypto_key",
    "google_kms_crypto_key_iam_member",
    "google_secret_manager_secret",
)

Run = Callable[[Sequence[str]], subprocess.CompletedProcess]


def _run(args: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


def stack_dir(generated: Path, env: str) -> Path:
    return generated / "infra" / "cdktf.out" / "stacks" / env


def foundation_targets(stack: dict) -> list[str]:
    """`-target=` arguments of the foundation step, in a stable order."""
    resources = stack.get("resource", {})
    return [f"-target={kind}.{name}" for kind in FOUNDATION_TYPES for name in sorted(resources.get(kind, {}))]


def environment(generated: Path, env: str) -> dict:
    platform = json.loads((generated / "infra" / "platform.json").read_text(encoding="utf-8"))
    for e in platform["environments"]:
        if e["name"] == env:
            return {**e, "secrets": platform["secrets"], "collectors": platform["collectors"]}
    names = ", ".join(e["name"] for e in platform["environments"])
    raise SystemExit(f"unknown environment `{env}` (sources.yaml has: {names})")


def missing_versions(project: str, secrets: list[dict], run: Run = _run) -> list[str]:
    """The ids of the secrets without an enabled version (gcloud lists the enabled versions of each)."""
    missing = []
    for s in secrets:
        proc = run(
            [
                "gcloud", "secrets", "versions", "list", s["id"], f"--project={project}",
                "--filter=state:ENABLED", "--limit=1", "--format=value(name)",
            ]
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"cannot list the versions of secret {s['id']}: {proc.stderr.strip()}")
        if not proc.stdout.strip():
            missing.append(s["id"])
    return missing


def refusal(project: str, secrets: list[dict], missing: list[str]) -> str:
    purposes = {s["id"]: ", ".join(s["purposes"]) for s in secrets}
    lines = [
        f"{len(missing)} secret(s) in {project} have no enabled version; the workloads that read them cannot start.",
        "Add each value (from a file or stdin, never on the command line), then run the deploy again:",
    ]
    for sid in missing:
        lines += [
            f"  # {sid}: {purposes.get(sid, '')}",
            f"  gcloud secrets versions add {sid} --project={project} --data-file=PATH",
        ]
    return "\n".join(lines)


def foundation(generated: Path, env: str, run: Run = _run) -> int:
    directory = stack_dir(generated, env)
    stack = json.loads((directory / "cdk.tf.json").read_text(encoding="utf-8"))
    for args in (
        ["terraform", f"-chdir={directory}", "init", "-input=false"],
        ["terraform", f"-chdir={directory}", "apply", "-input=false", "-auto-approve",
         "-var", "release=foundation", *foundation_targets(stack)],
    ):  # fmt: skip
        proc = subprocess.run(args, check=False) if run is _run else run(args)
        if proc.returncode != 0:
            return proc.returncode
    return 0


def secrets(generated: Path, env: str, run: Run = _run) -> int:
    e = environment(generated, env)
    missing = missing_versions(e["gcp_project"], e["secrets"], run)
    if missing:
        print(refusal(e["gcp_project"], e["secrets"], missing), file=sys.stderr)
        return 1
    print(f"every secret of {e['gcp_project']} has an enabled version ({len(e['secrets'])})")
    return 0


def access(generated: Path, env: str, run: Run = _run) -> int:
    e = environment(generated, env)
    sns = e["collectors"].get("sns")
    if not e.get("invoker_iam_disabled") or not sns:
        print("nothing to do: the collectors' public access is in the stack")
        return 0
    args = [
        "gcloud", "run", "services", "update", sns["name"], f"--project={e['gcp_project']}",
        f"--region={e['region']}", "--no-invoker-iam-check", "--quiet",
    ]  # fmt: skip
    proc = run(args)
    if proc.returncode != 0:
        print(f"cannot disable the invoker check of {sns['name']}: {proc.stderr.strip()}", file=sys.stderr)
    return proc.returncode


STEPS = {"foundation": foundation, "secrets": secrets, "access": access}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datahem.deploy.apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=tuple(STEPS))
    parser.add_argument("env", help="environment name from sources.yaml (dev, prod...)")
    parser.add_argument("--generated", type=Path, default=GENERATED, help="the generated/ folder (default: generated)")
    args = parser.parse_args(argv)
    return STEPS[args.step](args.generated, args.env)


if __name__ == "__main__":
    sys.exit(main())
