"""Update running Dataflow jobs in place, as `datahem plan` decided (the deploy workflow runs it after the migrations).

`datahem plan --format json` says per job `update` (a new converter, same graph), `relaunch` (drained and started
again: the workflow passes those to `terraform apply -replace`), `launch` or `drain` (Terraform does both). For each
`update`, this relaunches the job from its flex template with `--update` and the plan's transform name mapping, with
every other setting exactly as Terraform deployed it (read from `terraform show -json`), so the update keeps the job's
state (the de-duplication window) and its in-flight messages.

    python -m datahem.deploy.dataflow_update --plan plan.json --state state.json [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _resources(state: dict):
    module = (state.get("values") or {}).get("root_module") or {}
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from child.get("resources", [])


def update_commands(plan: dict, state: dict) -> list[list[str]]:
    """One `gcloud dataflow flex-template run --update` per job the plan updates in place."""
    deployed = {r["address"]: r.get("values") or {} for r in _resources(state)}
    commands = []
    for job in plan.get("dataflow", []):
        if job.get("action") != "update":
            continue
        values = deployed.get(job["address"])
        if values is None:
            raise SystemExit(f"{job['address']} is not in the Terraform state: apply the stack first")
        params = values.get("parameters") or {}
        command = [
            "gcloud",
            "dataflow",
            "flex-template",
            "run",
            values["name"],
            "--update",
            f"--project={values['project']}",
            f"--region={values['region']}",
            f"--template-file-gcs-location={values['container_spec_gcs_path']}",
            f"--service-account-email={values['service_account_email']}",
            f"--temp-location={values['temp_location']}",
            f"--staging-location={values['staging_location']}",
            "--enable-streaming-engine",
        ]
        if params:
            # `^~^` makes `~` the separator: parameter values may hold commas
            command.append("--parameters=^~^" + "~".join(f"{k}={v}" for k, v in sorted(params.items())))
        mapping = job.get("transform_name_mapping") or {}
        if mapping:
            command.append("--transform-name-mappings=^~^" + "~".join(f"{k}={v}" for k, v in sorted(mapping.items())))
        commands.append(command)
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True, help="output of `datahem plan --format json`")
    parser.add_argument("--state", required=True, help="output of `terraform show -json` for the environment")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    with open(args.state, encoding="utf-8") as f:
        state = json.load(f)
    for command in update_commands(plan, state):
        print(" ".join(command), flush=True)
        if not args.dry_run:
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
