"""Compatibility rules, buf style: tests/evolution/cases/<case>/{previous,current}/ are two states of a project.
The previous one is compiled into a baseline (the generated files the comparison reads); the current one is
compared with it. Each case holds the exact expected outcome:

- expected_changes.txt: every change, `classification RULE target path:line:col` (safe ones too);
- expected_diagnostics.txt: the exact build errors (empty when the build succeeds);
- expected/: when the build succeeds, registry/history.json and every migration file it writes.

Run with DATAHEM_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from datahem.compiler.build import Settings, compile_project, load_project, render_all
from datahem.compiler.diagnostics import RULES, Diagnostics, format_text
from datahem.compiler.emitters import infra, migrations, to_json
from datahem.compiler.projection.project import project
from datahem.compiler.validate.evolution import check_evolution
from tests.conftest import ROOT

CASES = ROOT / "tests" / "evolution" / "cases"
ALL = sorted(p.name for p in CASES.iterdir() if (p / "previous").is_dir())
UPDATE = bool(os.environ.get("DATAHEM_UPDATE_GOLDEN"))


def baseline(project: Path) -> dict[str, bytes]:
    """What a build of `project` leaves in generated/ for the comparison: registry, BigQuery, routing, platform.json
    and the migrations emitter's history (no synth: the comparison never reads the stacks)."""
    compiled = compile_project(project)
    files = render_all(compiled, Settings(project, emitters=("registry", "bigquery", "routing", "migrations")))
    files["infra/platform.json"] = to_json(infra.platform(compiled.model, compiled.evolution.retired_tables))
    return files


def evolve_case(case: str) -> tuple[list, str, dict[str, bytes]]:
    base = baseline(CASES / case / "previous")
    model, raw = load_project(CASES / case / "current")
    diags = Diagnostics()
    evolution = check_evolution(model, project(model), raw, base, diags)
    written = {} if diags else {f.path: f.content for f in migrations.emit(model, evolution)}
    return list(evolution.changes), format_text(diags.sorted()), written


def change_lines(changes) -> str:
    return "".join(f"{c.classification:<9} {c.rule} {c.target} {c.loc}\n" for c in changes)


def _check(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual)
    assert actual == path.read_text(), path.name


@pytest.mark.parametrize("case", ALL)
def test_case(case):
    changes, diagnostics, written = evolve_case(case)
    root = CASES / case
    _check(root / "expected_changes.txt", change_lines(changes))
    _check(root / "expected_diagnostics.txt", diagnostics)
    expected_dir = root / "expected"
    if UPDATE:
        if expected_dir.exists():
            for p in sorted(expected_dir.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
        for rel, data in written.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(data)
    expected = {p.relative_to(expected_dir).as_posix(): p.read_bytes() for p in expected_dir.rglob("*") if p.is_file()}
    assert written == expected


def test_every_compatibility_rule_has_a_case():
    seen = set()
    for case in ALL:
        for line in (CASES / case / "expected_changes.txt").read_text().splitlines():
            seen.add(line.split()[1])
    compat = {r.id for r in RULES.values() if r.compatibility}
    assert sorted(compat - seen) == []


@pytest.mark.slow
def test_breaking_changes_block_and_nothing_else_does():
    """A case fails to build exactly when it has an unaccepted breaking change, and every diagnostic names a
    breaking rule at a line of the current project."""
    for case in ALL:
        changes, diagnostics, _ = evolve_case(case)
        blocking = [c for c in changes if c.blocking]
        assert bool(diagnostics) == bool(blocking), case
        for line in diagnostics.splitlines():
            rule = re.search(r"error\[(\w+)\]", line).group(1)
            assert RULES[rule].classification == "breaking", line
            path = line.split(":", 1)[0]
            assert (CASES / case / "current" / path).is_file(), line


@pytest.mark.slow
def test_migration_files_are_idempotent_ddl_and_valid_patches():
    """Every SQL statement a case writes is one of the idempotent forms `datahem migrate` runs, parses as BigQuery
    SQL, and every patch applies to its previous schema twice with the same result."""
    import json

    import sqlglot

    from datahem.deploy.migrate import apply_patch, statements

    forms = (
        r"^ALTER TABLE `[\w.]+` ADD COLUMN IF NOT EXISTS ",
        r"^ALTER TABLE `[\w.]+` ALTER COLUMN `\w+` DROP NOT NULL$",
        r"^ALTER TABLE `[\w.]+` ALTER COLUMN `\w+` SET DATA TYPE (NUMERIC|BIGNUMERIC|FLOAT64)$",
        r"^ALTER TABLE `[\w.]+` ALTER COLUMN `\w+` SET OPTIONS \(description = \".*\"\)$",
        r"^ALTER TABLE `[\w.]+` RENAME COLUMN IF EXISTS `\w+` TO `\w+`$",
    )
    count = 0
    for case in ALL:
        _, _, written = evolve_case(case)
        for path, data in written.items():
            if path.endswith(".sql"):
                for stmt in statements(data.decode()):
                    assert any(re.match(f, stmt, re.S) for f in forms), stmt
                    if "IF EXISTS" not in stmt and "IF NOT EXISTS" not in stmt:
                        sqlglot.parse_one(stmt, read="bigquery")
                    count += 1
            elif path.endswith(".patch.json"):
                patch = json.loads(data)
                previous = baseline(CASES / case / "previous")
                dataset, table = patch["table"].split(".")
                fields = json.loads(previous[f"bigquery/{dataset}/{table}.schema.json"])["fields"]
                tags = {"pii": "tag/pii", "pii_email": "tag/pii_email"}
                once = apply_patch(fields, patch["operations"], tags)
                assert apply_patch(once, patch["operations"], tags) == once
                count += 1
    assert count >= 8


def test_accepted_breaks_are_strict(tmp_path):
    """`rule` must be a compatibility rule that may be accepted, `reason` must say something; both are errors at
    their line in sources.yaml, like every other key."""
    import shutil

    from tests.conftest import invoke_datahem

    project = tmp_path / "p"
    shutil.copytree(CASES / "field_removed_accepted" / "current", project)
    sources = project / "sources.yaml"
    text = sources.read_text()
    sources.write_text(
        text.replace("reason: Model names come from the device catalogue now.", 'reason: " "')
        + "  - rule: FIELD_CARDINALITY_CHANGED\n    target: shop.v1.Click.tags\n    reason: no\n"
        + "  - rule: FIELD_REMOVED\n    target: shop.v1.Click.tags\n    reson: typo\n"
    )
    proc = invoke_datahem("build", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith(
            "sources.yaml:23:11: error[YAML_VALUE]: `accepted_breaks[1].rule` is `FIELD_CARDINALITY_CHANGED`"
        )
        for line in lines
    ), proc.stdout
    assert any(
        "error[YAML_UNKNOWN_KEY]: unknown key `reson` in `accepted_breaks[2]`; did you mean `reason`?" in line
        for line in lines
    )
    assert any(
        "error[YAML_MISSING_KEY]: `accepted_breaks[2]` is missing the required key `reason`" in line for line in lines
    )
    # the blank reason is reported once the file is valid
    sources.write_text(text.replace("reason: Model names come from the device catalogue now.", 'reason: " "'))
    proc = invoke_datahem("build", cwd=project)
    assert (
        "sources.yaml:21:13: error[YAML_VALUE]: accepted break `FIELD_REMOVED` of `shop.v1.Device.model` needs a `reason`"
        in proc.stdout
    )
