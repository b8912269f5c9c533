"""The stacks of a project made by `datahem init` pass the same static analysis as the example's: Checkov with the
repository's .checkov.yaml, and DataHem's own stack checks. A team's first project deploys on the same terms."""

from __future__ import annotations

import json

import pytest

from datahem.deploy import stack_checks
from tests.conftest import invoke_datahem
from tests.deploy.infra.test_checkov import run_checkov, scannable

pytestmark = pytest.mark.slow  # a synth of the new project plus Checkov


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, dict]:
    project = tmp_path_factory.mktemp("init") / "shop"
    invoke_datahem("init", str(project), "--name", "shop", check=True)
    invoke_datahem("build", cwd=project, check=True)
    found = sorted((project / "generated" / "infra" / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    assert found, "datahem build of an init project synthesized no stack"
    return {p.parent.name: json.loads(p.read_text()) for p in found}


def test_datahem_checks_find_nothing_in_an_init_project(stacks):
    for name, stack in stacks.items():
        assert stack_checks.problems(stack) == [], name


def test_checkov_finds_nothing_in_an_init_project(stacks, tmp_path):
    paths = []
    for name, stack in stacks.items():
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "cdk.tf.json")
        paths[-1].write_text(json.dumps(scannable(stack), indent=2))
    scan = run_checkov(*paths)
    failed = [f"{r['check_id']} {r['resource']}" for report in scan for r in report["results"]["failed_checks"]]
    assert not failed, "Checkov findings in an init project's stacks:\n" + "\n".join(failed)
    assert sum(report["summary"]["parsing_errors"] for report in scan) == 0
    assert sum(report["summary"]["passed"] for report in scan) > 50, "Checkov scanned (almost) nothing"
