"""The compile pipeline: load → resolve → validate → project → evolve → emit. Raises CompileError carrying every
diagnostic; returns the rendered files (path under generated/ → bytes) without touching the disk.

Each stage is a typed value handed to the next: the `Model`, its `Projection` (what is deployed and compared), the
`Evolution` against the baseline (changes, history, migrations), together a `Compiled` build the emitters read."""

from __future__ import annotations

import contextlib
import gc
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from datahem.compiler import rules, writer
from datahem.compiler.diagnostics import CompileError, Diagnostics, Loc
from datahem.compiler.emitters import (
    Emitter,
    OutputFile,
    bigquery,
    cost,
    docs,
    infra,
    migrations,
    pipelines,
    registry,
    routing,
    to_json,
)
from datahem.compiler.evolution import tree
from datahem.compiler.evolution.migrations import Evolution, evolve
from datahem.compiler.evolution.plan import Plan, build_plan
from datahem.compiler.loader.protos import compile_protos, compile_without
from datahem.compiler.loader.yaml_strict import INVALID, Binder, child, compose
from datahem.compiler.model.raw import RawCategory, RawConfig
from datahem.compiler.model.resolve import ProtoIndex, Resolver, project_files
from datahem.compiler.model.resolved import Model
from datahem.compiler.projection.project import Projection, project
from datahem.compiler.validate.evolution import accepted_breaks, check_evolution, sources_loc
from datahem.compiler.validate.run import run_checks

SOURCES = "sources.yaml"

# every emitter, in output order
EMITTERS: tuple[tuple[str, Emitter], ...] = (
    ("registry", registry.emit),
    ("bigquery", bigquery.emit),
    ("migrations", migrations.emit),
    ("routing", routing.emit),
    ("docs", docs.emit),
    ("pipelines", pipelines.emit),
    ("infra", infra.emit),
    ("cost", cost.emit),
)


@dataclass(frozen=True)
class Settings:
    """Everything a build depends on besides the project files; travels as one frozen object."""

    project_dir: Path
    emitters: tuple[str, ...] | None = None  # None: all
    against: str | None = None  # the evolution baseline: None = generated/, else a git ref or directory

    @property
    def output_dir(self) -> Path:
        return self.project_dir / "generated"


# Collection thresholds during a build (the defaults are 700, 10, 10). A build allocates millions of objects that live
# until it ends (descriptors, columns, rendered files) and makes few reference cycles, so the cyclic collector's
# passes over them found little and cost a third of a large project's build (500 types x 40 fields: 0.7 of 1.9 s
# CPU); with these thresholds they cost almost nothing, and cyclic garbage is still collected.
BUILD_GC_THRESHOLDS = (50_000, 20, 20)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class Compiled:
    """A validated build: the model, its projection and its evolution against the baseline."""

    model: Model
    projection: Projection
    evolution: Evolution


def compile_project(project_dir: Path, against: str | None = None) -> Compiled:
    """The validated model, compared with the previous build in generated/ (or the baseline `against` names: a git
    ref or a directory); breaking changes are errors; its evolution holds the migrations the build writes."""
    with _fewer_collections():
        return _compile_project(project_dir, against)


def _compile_project(project_dir: Path, against: str | None) -> Compiled:
    model, raw, index = _load(project_dir)
    projection = project(model, index)
    diags = Diagnostics()
    evolution = check_evolution(model, projection, raw, tree.read_baseline(project_dir, against), diags)
    if diags:
        raise CompileError(diags.items)
    return Compiled(model, projection, evolution)


def load_model(project_dir: Path, against: str | None = None) -> Model:
    """The model of `compile_project` (same checks, evolution included)."""
    return compile_project(project_dir, against).model


def load_project(project_dir: Path) -> tuple[Model, RawConfig]:
    """The validated model without the comparison with generated/ (`datahem plan` compares with its own baseline)."""
    model, raw, _ = _load(project_dir)
    return model, raw


def _load(project_dir: Path) -> tuple[Model, RawConfig, ProtoIndex]:
    """`load_project`, and the index of the descriptors it resolved (the projection reuses it).

    Every stage reports what it can find in one run: sources.yaml and the schemas are loaded independently, and the
    checks that need both run on what loaded: entries of sources.yaml with errors are left out, and so are the proto
    files with errors and those importing them (the rest is compiled again without them; the sources of their
    messages are checked without their tables); when that fails too, the checks of sources.yaml alone run; none when
    sources.yaml cannot be bound at all. What was skipped, and why, is a CHECKS_SKIPPED note beside the errors."""
    diags = Diagnostics()
    loaded = load_sources(project_dir, diags)
    before = len(diags.items)
    compiled = compile_protos(project_dir, diags)
    broken_protos = sorted({d.loc.path for d in diags.items[before:] if d.severity == "error"})
    if compiled is None and not broken_protos:  # pragma: no cover - compile_protos reports why it returns None
        broken_protos = ["schemas"]
    if loaded is None:
        why = f"{SOURCES} has errors" + (f" and {_does_not_compile(broken_protos)}" if compiled is None else "")
        diags.note(Loc(SOURCES, 1, 1), rules.CHECKS_SKIPPED, f"checks of sources, tables and columns skipped: {why}")
        raise CompileError(diags.items)
    raw, skipped = loaded
    _stand_in_categories(raw, skipped)
    partial = None
    if compiled is None and broken_protos != ["schemas"]:
        partial = compile_without(project_dir, {p.removeprefix("schemas/") for p in broken_protos})
    if partial is not None:
        diags.note(Loc(SOURCES, 1, 1), rules.CHECKS_SKIPPED, _left_out(broken_protos, partial.left_out))
        index = ProtoIndex(partial.fds)
        model = Resolver(raw, index, diags).model(project_files(index), partial.data, unseen=partial.names)
    elif compiled is None:
        diags.note(
            Loc(SOURCES, 1, 1),
            rules.CHECKS_SKIPPED,
            f"checks of tables and columns skipped: {_does_not_compile(broken_protos)} (the checks of {SOURCES} "
            "alone ran)",
        )
        index = ProtoIndex(descriptor_pb2.FileDescriptorSet())
        model = Resolver(raw, index, diags).model((), b"", schemas=False)
    else:
        fds, data = compiled
        index = ProtoIndex(fds)
        model = Resolver(raw, index, diags).model(project_files(index), data)
    if skipped:
        names = ", ".join(child(where, int(key) if where in _LISTS else key) for where, key, _ in skipped)
        diags.note(
            skipped[0][2],
            rules.CHECKS_SKIPPED,
            f"checks of {names} skipped: {'it has' if len(skipped) == 1 else 'they have'} errors in {SOURCES}",
        )
    run_checks(model, diags)
    if diags.errors:
        raise CompileError(diags.items)
    return model, raw, index


_LISTS = ("sources", "accepted_breaks")  # lists of entries; the other entries are in mappings, named by their key


def _left_out(broken: list[str], left_out: tuple[str, ...]) -> str:
    """`checks of tables and columns in schemas/a.proto skipped: it has errors; also in schemas/b.proto, which
    imports it`."""
    importers = [f"schemas/{f}" for f in left_out if f"schemas/{f}" not in broken]
    text = f"checks of tables and columns in {_files(broken)} skipped: {'it has' if len(broken) == 1 else 'they have'} errors"
    if importers:
        text += (
            f"; also in {_files(importers)}, which import{'s' if len(importers) == 1 else ''} "
            f"{'it' if len(broken) == 1 else 'them'}"
        )
    return text


def _files(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _does_not_compile(files: list[str]) -> str:
    if files == ["schemas"]:
        return "protoc failed on schemas/"
    return f"{_files(files)} {'has' if len(files) == 1 else 'have'} errors"


def _stand_in_categories(raw: RawConfig, skipped: list[tuple[str, str, Loc]]) -> None:
    """A category left out for its errors is still a category: columns and children naming it are not reported."""
    for where, key, loc in skipped:
        if where == "categories" and key not in raw.categories:
            raw.categories[key] = RawCategory(name=key, loc=loc)


def load_sources(project_dir: Path, diags: Diagnostics) -> tuple[RawConfig, list[tuple[str, str, Loc]]] | None:
    """sources.yaml bound onto the raw model, with the entries left out for their errors (see `Binder.skipped`);
    None when it cannot be read at all (missing, not YAML, its top level or `project` invalid)."""
    path = project_dir / SOURCES
    if not path.is_file():
        diags.error(
            Loc(SOURCES, 1, 1),
            rules.YAML_SYNTAX,
            f"{SOURCES} not found in {project_dir}; create it (see the README) or pass --project",
        )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        diags.error(Loc(SOURCES, 1, 1), rules.YAML_SYNTAX, f"{SOURCES} is not UTF-8 text: {exc.reason}")
        return None
    node = compose(text, SOURCES, diags)
    if node is None:
        if not diags:
            diags.error(Loc(SOURCES, 1, 1), rules.YAML_MISSING_KEY, f"{SOURCES} is empty; it needs `project`")
        return None
    binder = Binder(SOURCES, diags)
    raw = binder.bind(RawConfig, node, "")
    return None if raw is INVALID else (raw, binder.skipped)


def _takes(emit: Callable[..., list[OutputFile]], parameter: str) -> bool:
    return parameter in inspect.signature(emit).parameters


def render_all(compiled: Compiled, settings: Settings) -> dict[str, bytes]:
    """Render every emitter's files in memory. Emitters that accept `projection` or `evolution` get the build's; those that accept
    `previous` also get the current generated/ tree (path → bytes), read once, to reuse expensive outputs whose inputs
    did not change (the infra synth)."""
    with _fewer_collections():
        return _render_all(compiled, settings)


def _render_all(compiled: Compiled, settings: Settings) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    previous: dict[str, bytes] | None = None
    for name, emit in EMITTERS:
        if settings.emitters is not None and name not in settings.emitters:
            continue
        extra: dict[str, object] = {}
        if _takes(emit, "projection"):
            extra["projection"] = compiled.projection
        if _takes(emit, "evolution"):
            extra["evolution"] = compiled.evolution
        if _takes(emit, "previous"):
            if previous is None:
                previous = writer.read_tree(settings.output_dir)
            extra["previous"] = previous
        outputs = emit(compiled.model, **extra)
        for f in outputs:
            if f.path in files:
                raise RuntimeError(f"two emitters wrote {f.path}")
            files[f.path] = f.content
    return dict(sorted(files.items()))


def build(settings: Settings) -> tuple[Model, dict[str, bytes]]:
    compiled = compile_project(settings.project_dir, settings.against)
    return compiled.model, render_all(compiled, settings)


def plan(
    project_dir: Path,
    against: str | None,
    emitters: tuple[str, ...] | None = None,
    volumes: dict[str, Any] | None = None,
) -> Plan:
    """`datahem plan`: compare the project with `against` (default: HEAD in a git work tree, else generated/), and
    with generated/ for what `datahem build` would write (`emitters`: only those, and without `infra` no stacks).
    `volumes`: GiB/day per source (`evolution/costs.py`), priced before and after."""
    model, raw, index = _load(project_dir)
    projection = project(model, index)
    name = against if against is not None else tree.default_against(project_dir)
    baseline = tree.read_baseline(project_dir, name)
    accepted = accepted_breaks(raw)
    evolution = evolve(model, projection, baseline, accepted, sources_loc(raw))
    built, problem = None, ""
    try:
        compiled = compile_project(project_dir)
        built = render_all(compiled, Settings(project_dir, emitters=emitters))
        if "infra/platform.json" not in built:
            built["infra/platform.json"] = to_json(infra.platform(model, compiled.evolution.retired_tables))
    except CompileError as err:
        problem = (
            f"`datahem build` fails against generated/ ({err.errors} error(s)), so the migrations and the "
            "Terraform change are not shown yet."
        )
    if built is None:  # what the plan reads of this build without the synth: registry, tables, routes, platform
        current = Compiled(model, projection, evolution)
        built_or_current = render_all(current, Settings(project_dir, emitters=("registry", "bigquery", "routing")))
        built_or_current["infra/platform.json"] = to_json(infra.platform(model, evolution.retired_tables))
    else:
        built_or_current = built
    return build_plan(
        name or "generated/", baseline, list(evolution.changes), built_or_current, built, problem, accepted, volumes
    )
