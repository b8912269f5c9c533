"""Diagnostics as data: every user error is a Diagnostic with a position and a stable rule id.

Problems are collected (never raised one by one), then sorted, de-duplicated and reported together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True, slots=True)
class Loc:
    """A position in a project file; `path` is relative to the project directory, line and col 1-based."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


CLASSIFICATIONS = ("safe", "migration", "breaking")


@dataclass(frozen=True)
class Rule:
    """A rule id with its purpose. Compatibility rules (schema evolution, compared with the baseline) also carry the
    classification of every change they find and whether `accepted_breaks` in sources.yaml may accept it."""

    id: str
    purpose: str
    category: str
    classification: str = ""  # "" for validation rules; safe | migration | breaking for compatibility rules
    acceptable: bool = False

    @property
    def compatibility(self) -> bool:
        return bool(self.classification)


@dataclass(frozen=True, order=True)
class Diagnostic:
    loc: Loc
    rule_id: str
    message: str
    severity: str = "error"

    def render(self, base: str = "") -> str:
        path = _join(base, self.loc.path)
        return f"{path}:{self.loc.line}:{self.loc.col}: {self.severity}[{self.rule_id}]: {self.message}"


def _join(base: str, path: str) -> str:
    if not base or base == ".":
        return path
    return f"{base.rstrip('/')}/{path}"


RULES: dict[str, Rule] = {}


def rule(rule_id: str, purpose: str, category: str, classification: str = "", acceptable: bool = False) -> str:
    """Register a rule and return its id (used as a module-level constant)."""
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} registered twice")
    if classification and classification not in CLASSIFICATIONS:
        raise ValueError(f"rule {rule_id}: classification must be one of {CLASSIFICATIONS}")
    if acceptable and classification != "breaking":
        raise ValueError(f"rule {rule_id}: only breaking changes can be accepted")
    RULES[rule_id] = Rule(rule_id, purpose, category, classification, acceptable)
    return rule_id


@dataclass
class Diagnostics:
    """A collector passed through loading, resolving and validation."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: Loc, rule_id: str, message: str) -> None:
        if rule_id not in RULES:
            raise KeyError(f"unregistered rule {rule_id}")
        self.items.append(Diagnostic(loc, rule_id, message))

    def note(self, loc: Loc, rule_id: str, message: str) -> None:
        """Information beside errors (e.g. which checks were skipped); a note alone never fails a build."""
        if rule_id not in RULES:
            raise KeyError(f"unregistered rule {rule_id}")
        self.items.append(Diagnostic(loc, rule_id, message, "note"))

    @property
    def errors(self) -> int:
        return sum(1 for d in self.items if d.severity == "error")

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    def sorted(self) -> list[Diagnostic]:
        return order(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


class CompileError(Exception):
    """Raised once, at the end of a stage, carrying every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = order(diagnostics)
        self.errors = sum(1 for d in self.diagnostics if d.severity == "error")
        super().__init__(f"{self.errors} error(s)")


def order(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, errors before notes at one position; duplicates once."""
    return sorted(set(diags), key=lambda d: (d.loc, d.severity != "error", d.rule_id, d.message))


def format_text(diags: Iterable[Diagnostic], base: str = "") -> str:
    return "".join(d.render(base) + "\n" for d in diags)


def format_json(diags: Iterable[Diagnostic], base: str = "") -> str:
    rows = [
        {
            "path": _join(base, d.loc.path),
            "line": d.loc.line,
            "col": d.loc.col,
            "severity": d.severity,
            "rule": d.rule_id,
            "message": d.message,
        }
        for d in diags
    ]
    return json.dumps(rows, indent=2) + "\n"


def format_github(diags: Iterable[Diagnostic], base: str = "") -> str:
    """GitHub Actions workflow commands, so diagnostics show up as annotations on the pull request."""
    out = []
    for d in diags:
        msg = d.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        command = "notice" if d.severity == "note" else d.severity  # GitHub's word for a note
        out.append(
            f"::{command} file={_join(base, d.loc.path)},line={d.loc.line},col={d.loc.col},title={d.rule_id}::{msg}\n"
        )
    return "".join(out)


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
