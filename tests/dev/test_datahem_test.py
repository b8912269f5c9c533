"""`datahem test`: every example through its converter; failures and malformed examples files as
path:line:col: error[RULE] with the rule registered (category `examples`)."""

from __future__ import annotations

import re

import pytest

from datahem.compiler.diagnostics import RULES
from datahem.dev import contract
from tests.conftest import EXAMPLE, invoke_datahem

EXAMPLES = "schemas/shop/v1/page_view.examples.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    project = tmp_path_factory.mktemp("shop")
    invoke_datahem("init", "--name", "shop", cwd=project, check=True)
    return project


@pytest.fixture
def project(template, tmp_path):
    import shutil

    shutil.copytree(template, tmp_path / "shop")
    return tmp_path / "shop"


def _rules(stdout: str) -> list[tuple[str, int, str]]:
    return [(m[1], int(m[2]), m[3]) for m in re.finditer(r"^(\S+):(\d+):\d+: error\[(\w+)\]", stdout, re.M)]


def test_the_scaffold_and_the_example_project_pass(project):
    proc = invoke_datahem("test", cwd=project, check=True)
    assert "5 examples as declared: 2 rows, 3 dead letters" in proc.stdout
    proc = invoke_datahem("test", "--project", str(EXAMPLE), check=True)
    assert "dead letters" in proc.stdout


def test_every_failure_is_reported_at_its_example(project):
    path = project / EXAMPLES
    text = path.read_text()
    text = text.replace('reason: "unknown field"', 'reason: "nonsense"')  # wrong reason
    text = text.replace('stage: validate\n    reason: "required field missing"', "stage: transform\n    reason: x")
    text = text.replace('"viewedAt": "yesterday"', '"viewedAt": "2026-01-01T00:00:00Z"')  # now valid: a row
    text = text.replace('{"page": "/", "viewedAt": "2026-05-04T10:16:30.250Z"}', '{"page": 7}')  # valid no more
    path.write_text(text)
    proc = invoke_datahem("test", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = {n: i + 1 for i, n in enumerate(text.splitlines()) if "- name:" in n}
    line = {name.split("name: ")[1]: i for name, i in lines.items()}
    assert sorted(_rules(proc.stdout)) == sorted(
        [
            (EXAMPLES, line["anonymous_visitor"], "EXAMPLE_NOT_A_ROW"),
            (EXAMPLES, line["unknown_field"], "EXAMPLE_WRONG_REASON"),
            (EXAMPLES, line["missing_page"], "EXAMPLE_WRONG_STAGE"),
            (EXAMPLES, line["timestamp_not_a_date"], "EXAMPLE_NOT_REJECTED"),
        ]
    )
    assert "4 failure(s)" in proc.stderr


def test_examples_files_are_loaded_strictly(project):
    path = project / EXAMPLES
    text = path.read_text()
    text = text.replace('why: "Every page view must name its page."', 'description: "no page"')
    text = text.replace('    stage: validate\n    reason: "unknown field"', '    reason: "unknown field"')
    path.write_text(text)
    item = '  - name: a\n    payload: \'{"page": "/"}\'\n'
    (project / "schemas/shop/v1/twice.examples.yaml").write_text(f"message: shop.v1.PageView\nvalid:\n{item}{item}")
    (project / "schemas/shop/v1/other.examples.yaml").write_text(f"message: shop.v1.Nope\nvalid:\n{item}")
    proc = invoke_datahem("test", cwd=project)
    assert proc.returncode == 1
    found = _rules(proc.stdout)
    assert {r for _, _, r in found} == {
        "YAML_UNKNOWN_KEY",
        "YAML_MISSING_KEY",
        "EXAMPLE_DUPLICATE_NAME",
        "EXAMPLE_UNKNOWN_MESSAGE",
    }, proc.stdout
    assert "unknown key `description`" in proc.stdout and "missing the required key `why`" in proc.stdout
    assert "missing the required key `stage`" in proc.stdout
    assert all(line > 1 for _, line, r in found if r != "EXAMPLE_UNKNOWN_MESSAGE")


def test_a_project_that_does_not_build_runs_nothing(project):
    (project / "sources.yaml").write_text((project / "sources.yaml").read_text().replace("kind: http", "kind: htp"))
    proc = invoke_datahem("test", cwd=project)
    assert proc.returncode == 1 and "no example was run" in proc.stderr
    assert "YAML_VALUE" in proc.stdout


def test_every_example_rule_is_registered():
    examples = {r.id for r in RULES.values() if r.category == "examples"}
    assert set(contract.RULE_IDS) <= examples
    assert examples - set(contract.RULE_IDS) == {"EXAMPLE_DUPLICATE_NAME"}  # the loader's own
