"""Static analysis of the synthesized stacks with Checkov (an infrastructure-as-code scanner), run offline over each
environment's cdk.tf.json with the repository's .checkov.yaml: the scan must be clean, and every check that config
skips must say why on its line.

Checkov lives in its own virtual environment, .venv-checkov/ (`make .venv-checkov/.installed`, which `make test`
builds): its pins clash with Beam's. A missing venv fails these tests with the command to run; they are never
skipped.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the session's synth plus about 20 s of Checkov per stack

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"
SKIP_LINE = re.compile(r"^\s*-\s*(CKV2?_[A-Z]+_\d+)\s*(?:#\s*(.*))?$")


def skipped_checks() -> dict[str, str]:
    """The checks .checkov.yaml skips, each with the reason written on its line ('' when there is none)."""
    skips: dict[str, str] = {}
    inside = False
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        if re.match(r"^[a-z-]+:", line):
            inside = line.startswith("skip-check:")
            continue
        m = SKIP_LINE.match(line)
        if inside and m:
            skips[m.group(1)] = (m.group(2) or "").strip()
    return skips


def run_checkov(*paths) -> list[dict]:
    if not CHECKOV.exists():
        pytest.fail(f"Checkov is not installed: run `make .venv-checkov/.installed` (expected {CHECKOV})")
    args = [str(CHECKOV), "--config-file", str(CONFIG), "--output", "json", "--quiet"]
    for p in paths:
        args += ["-f", str(p)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if not proc.stdout.strip():
        pytest.fail(f"Checkov wrote no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]  # one report per framework


def scannable(stack: dict) -> dict:
    """The stack without the blocks Checkov 3.3.30's terraform_json parser cannot read (it fails on the whole file):
    the string `terraform.required_version` and the top-level `removed` blocks. Neither holds a resource."""
    out = {k: v for k, v in stack.items() if k not in ("removed", "moved")}
    out["terraform"] = {k: v for k, v in stack.get("terraform", {}).items() if k != "required_version"}
    return out


@pytest.fixture(scope="module")
def scan(synthesized, tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("checkov")
    paths = []
    for name, stack in sorted(synthesized.stacks.items()):
        (folder / name).mkdir()
        paths.append(folder / name / "cdk.tf.json")
        paths[-1].write_text(json.dumps(scannable(stack.data), indent=2))
    return run_checkov(*paths)


def test_only_blocks_without_resources_are_left_out_of_the_scan(stacks):
    for stack in stacks.values():
        kept = scannable(stack.data)
        assert kept["resource"] == stack.data["resource"] and kept.get("data") == stack.data.get("data")
        assert kept["terraform"]["backend"] == stack.data["terraform"]["backend"]


def test_every_skipped_check_has_a_reason():
    skips = skipped_checks()
    assert skips, ".checkov.yaml skips nothing: the parser of this test is out of step with the file"
    missing = sorted(check for check, reason in skips.items() if len(reason) < 20)
    assert not missing, f".checkov.yaml skips {missing} without a one-line reason (`- CHECK_ID # why`)"


def test_checkov_finds_nothing_in_the_stacks(scan):
    failed = [
        f"{r['check_id']} {r['resource']} ({r['check_name']}) in {r['file_path']}"
        for report in scan
        for r in report["results"]["failed_checks"]
    ]
    assert not failed, "Checkov findings (fix them, or skip in .checkov.yaml with a reason):\n" + "\n".join(failed)
    assert sum(report["summary"]["parsing_errors"] for report in scan) == 0
    assert sum(report["summary"]["passed"] for report in scan) > 100, "Checkov scanned (almost) nothing"
