"""Fixtures of the infrastructure tests: ONE real synth per session (a fresh `datahem build` of the example project
in a temporary copy, which synthesizes in a subprocess), read back as parsed stacks with helpers to follow
Terraform references."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, copy_project, invoke_datahem

REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


@dataclass
class Stack:
    """One synthesized cdk.tf.json with helpers to look resources up and follow `${type.name.attr}` references."""

    name: str
    data: dict
    path: Path

    @property
    def resources(self) -> dict[str, dict]:
        return self.data["resource"]

    def of(self, kind: str) -> dict[str, dict]:
        return self.resources.get(kind, {})

    def ref(self, expr: str) -> tuple[str, str, str]:
        m = REF.match(expr)
        assert m, f"`{expr}` is not a plain Terraform reference"
        return m.group(1), m.group(2), m.group(3)

    def target(self, expr: str) -> dict:
        kind, name, _ = self.ref(expr)
        return self.resources[kind][name]

    def resolve(self, expr: str) -> str:
        """The literal value a reference stands for, when the referenced attribute is set literally."""
        if not expr.startswith("${"):
            return expr
        value = self.target(expr)[self.ref(expr)[2]]
        return self.resolve(value) if isinstance(value, str) else value

    def account_of(self, member: str) -> str:
        """`serviceAccount:${google_service_account.x.email}` → the account id of x."""
        assert member.startswith("serviceAccount:${google_service_account."), member
        return self.target(member.removeprefix("serviceAccount:"))["account_id"]


@dataclass
class Synthesized:
    project: Path
    seconds: float
    stacks: dict[str, Stack]
    platform: dict


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> Synthesized:
    """The example project built from scratch for its infrastructure: the committed generated/ tree minus infra/,
    so the build must synthesize (the only synth of the session)."""
    project = copy_project(EXAMPLE, tmp_path_factory.mktemp("infra") / "project")
    shutil.rmtree(project / "generated" / "infra")
    started = time.perf_counter()
    invoke_datahem("build", cwd=project, check=True)
    seconds = time.perf_counter() - started
    infra = project / "generated" / "infra"
    stacks = {}
    for path in sorted((infra / "cdktf.out" / "stacks").glob("*/cdk.tf.json")):
        stacks[path.parent.name] = Stack(path.parent.name, json.loads(path.read_text()), path)
    return Synthesized(project, seconds, stacks, json.loads((infra / "platform.json").read_text()))


@pytest.fixture(scope="session")
def stacks(synthesized) -> dict[str, Stack]:
    return synthesized.stacks


@pytest.fixture(scope="session")
def dev(stacks) -> Stack:
    return stacks["dev"]
