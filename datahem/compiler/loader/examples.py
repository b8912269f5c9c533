"""The example events shipped next to each table message's proto (`schemas/**/<stem>.examples.yaml`), loaded
strictly like sources.yaml: unknown, missing and duplicate keys and wrong types are diagnostics with their position
(the Binder of yaml_strict.py), never silently ignored. `datahem test` runs them through the converters,
`datahem dev --send-examples` sends them through the collectors, and DataHem's own tests check them.

    message: shop.v1.PageView          # required: the message the events are
    valid:                             # each must become a row
      - name: signed_in                # required, unique in the file
        description: "..."             # optional
        attributes: {k: v}             # optional: Pub/Sub attributes, as the collector adds them
        payload: "..."                 # required: the body exactly as sent
    invalid:                           # each must become a dead letter
      - name: missing_page
        why: "..."                     # required: why it is invalid
        stage: validate                # required: parse, validate or transform
        reason: "..."                  # required: a part of the dead letter's error
        attributes: {}
        payload: "..."
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datahem.compiler import rules
from datahem.compiler.diagnostics import CompileError, Diagnostics, Loc
from datahem.compiler.loader.yaml_strict import INVALID, Binder, compose, spec

STAGES = ("parse", "validate", "transform", "filter")  # filter: removed by a `filter` column option
GLOB = "*.examples.yaml"


@dataclass(frozen=True)
class RawValid:
    loc: Loc
    locs: dict[str, Loc]
    name: str = spec(doc="unique in the file")
    payload: str = spec(doc="the body exactly as sent")
    description: str = spec("")
    attributes: dict[str, str] = spec({})


@dataclass(frozen=True)
class RawInvalid:
    loc: Loc
    locs: dict[str, Loc]
    name: str = spec(doc="unique in the file")
    payload: str = spec(doc="the body exactly as sent")
    why: str = spec(doc="why the event is invalid")
    stage: str = spec(choices=STAGES, doc="where it is rejected: " + ", ".join(STAGES))
    reason: str = spec(doc="a part of the dead letter's error")
    attributes: dict[str, str] = spec({})


@dataclass(frozen=True)
class RawExamples:
    loc: Loc
    locs: dict[str, Loc]
    message: str = spec(doc="full protobuf message name of the events")
    valid: list[RawValid] = spec([])
    invalid: list[RawInvalid] = spec([])


@dataclass(frozen=True)
class Example:
    file: str  # relative to the project
    message: str
    name: str
    valid: bool
    payload: str
    attributes: dict[str, str]
    stage: str | None = None
    reason: str | None = None
    why: str | None = None
    line: int = 0  # of the example's `- name:` entry

    @property
    def loc(self) -> Loc:
        return Loc(self.file, self.line, 1)


def example_files(root: Path) -> list[Path]:
    return sorted((root / "schemas").rglob(GLOB))


def read_examples(root: Path, diags: Diagnostics) -> list[Example]:
    """Every example of the project at root; each problem of a file is a diagnostic, its examples are then left out."""
    out: list[Example] = []
    for path in example_files(root):
        rel = path.relative_to(root).as_posix()
        before = len(diags)
        node = compose(path.read_text(encoding="utf-8"), rel, diags)
        if node is None:
            if len(diags) == before:
                diags.error(Loc(rel, 1, 1), rules.YAML_MISSING_KEY, f"{rel} is empty; it needs `message`")
            continue
        doc = Binder(rel, diags).bind(RawExamples, node, "")
        if doc is INVALID:
            continue
        seen: dict[str, int] = {}
        for item in [*doc.valid, *doc.invalid]:
            if item.name in seen:
                diags.error(
                    Loc(rel, item.loc.line, item.loc.col),
                    rules.EXAMPLE_DUPLICATE_NAME,
                    f"example `{item.name}` is already defined at line {seen[item.name]}; rename one of them",
                )
            seen.setdefault(item.name, item.loc.line)
        if len(diags) > before:
            continue
        for item in doc.valid:
            out.append(
                Example(rel, doc.message, item.name, True, item.payload, dict(item.attributes), line=item.loc.line)
            )
        for item in doc.invalid:
            out.append(
                Example(
                    rel,
                    doc.message,
                    item.name,
                    False,
                    item.payload,
                    dict(item.attributes),
                    item.stage,
                    item.reason,
                    item.why,
                    item.loc.line,
                )
            )
    return out


def load_examples(root: Path) -> list[Example]:
    """Every example of the project at root; CompileError with every diagnostic when a file is malformed."""
    diags = Diagnostics()
    examples = read_examples(root, diags)
    if diags:
        raise CompileError(diags.items)
    return examples
