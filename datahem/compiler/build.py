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

from datahem.compiler import rules, writer
from datahem.compiler.diagnostics import CompileError, Diagnostics, Loc
from datahem.compiler.emitters import (
    Emitter,
    OutputFile,
    bigquery,
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
from datahem.compiler.loader.protos import compile_protos
from datahem.compiler.loader.yaml_strict import INVALID, Binder, compose
from datahem.compiler.model.raw import RawConfig
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
    """`load_project`, and the index of the descriptors it resolved (the projection reuses it)."""
    diags = Diagnostics()
    raw = load_sources(project_dir, diags)
    compiled = compile_protos(project_dir, diags)
    if diags or raw is None or compiled is None:
        raise CompileError(diags.items)
    fds, data = compiled
    index = ProtoIndex(fds)
    model = Resolver(raw, index, diags).model(project_files(index), data)
    run_checks(model, diags)
    if diags:
        raise CompileError(diags.items)
    return model, raw, index


def load_sources(project_dir: Path, diags: Diagnostics) -> RawConfig | None:
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
    raw = Binder(SOURCES, diags).bind(RawConfig, node, "")
    return None if raw is INVALID else raw


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


def plan(project_dir: Path, against: str | None, emitters: tuple[str, ...] | None = None) -> Plan:
    """`datahem plan`: compare the project with `against` (default: HEAD in a git work tree, else generated/), and
    with generated/ for what `datahem build` would write (`emitters`: only those, and without `infra` no stacks)."""
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
            f"`datahem build` fails against generated/ ({len(err.diagnostics)} error(s)), so the migrations and the "
            "Terraform change are not shown yet."
        )
    if built is None:  # what the plan reads of this build without the synth: registry, tables, routes, platform
        current = Compiled(model, projection, evolution)
        built_or_current = render_all(current, Settings(project_dir, emitters=("registry", "bigquery", "routing")))
        built_or_current["infra/platform.json"] = to_json(infra.platform(model, evolution.retired_tables))
    else:
        built_or_current = built
    return build_plan(
        name or "generated/", baseline, list(evolution.changes), built_or_current, built, problem, accepted
    )
