"""The compatibility rules' handlers, by rule id (as buf's breaking-change rules are): each handler looks at one kind
of pair the walker (`compare.py`) hands it and reports under its one rule id through the `Context`.

A rule has one handler per kind of pair it looks at (FIELD_MADE_REQUIRED looks at fields and at columns). Within a
kind, handlers run in the order they are registered (the order of the modules in `handlers/`, then of the functions),
which is the order of the changes; a handler returns True to end the kind's chain for that pair (a column whose type
changed is not also compared on its mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.projection.project import Projection

# the kinds of pairs the walker hands over (see `pairs.py`)
ROOT, LOST_ROOT, NEW_ROOT, SUCCESSOR, RENAMED_ROOT = "root", "lost_root", "new_root", "successor", "renamed_root"
SOURCE, CATEGORY = "source", "category"
FIELD, FIELD_GONE, ONEOF, ENUM_VALUE = "field", "field_gone", "oneof", "enum_value"
COLUMN, COLUMN_ADDED, COLUMN_GONE = "column", "column_added", "column_gone"


class Context(Protocol):
    """What a handler may use: the two projections, locations in the current project, and `add` to report."""

    old: Projection
    new: Projection
    sources_loc: Loc

    def add(self, rule: str, target: str, summary: str, loc: Loc, **extra: Any) -> None: ...

    def message_loc(self, message: str) -> Loc: ...

    def table_loc(self, message: str) -> Loc: ...

    def source_loc(self, source: str) -> Loc: ...

    def category_loc(self, name: str) -> Loc: ...


Check = Callable[[Context, Any], bool | None]


@dataclass
class Handler:
    rule: str
    checks: dict[str, Check] = field(default_factory=dict)  # kind of pair → the check

    @property
    def purpose(self) -> str:
        return RULES[self.rule].purpose


HANDLERS: dict[str, Handler] = {}  # rule id → its handler
_CHAINS: dict[str, list[Check]] = {}  # kind of pair → checks in registration order


def rule(rule_id: str, kind: str) -> Callable[[Check], Check]:
    """Registers the decorated function as `rule_id`'s check of the pairs of `kind`."""

    def register(fn: Check) -> Check:
        handler = HANDLERS.setdefault(rule_id, Handler(rule_id))
        if kind in handler.checks:
            raise ValueError(f"{rule_id} has two checks of {kind} pairs")
        handler.checks[kind] = fn
        _CHAINS.setdefault(kind, []).append(fn)
        return fn

    return register


def run(kind: str, ctx: Context, pair: object) -> None:
    for check in _CHAINS.get(kind, ()):
        if check(ctx, pair):
            return
