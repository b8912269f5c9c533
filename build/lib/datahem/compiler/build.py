"""The compile pipeline: load → resolve → validate → emit. Raises CompileError carrying every diagnostic;
returns the rendered files (path under generated/ → bytes) without touching the disk."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datahem.compiler import rules, writer
from datahem.compiler.diagnostics import CompileError, Diagnostics, Loc
from datahem.compiler.emitters import all_emitters
from datahem.compiler.loader.protos import compile_protos
from datahem.compiler.loader.yaml_strict import INVALID, Binder, compose
from datahem.compiler.model.raw import RawConfig
from datahem.compiler.model.resolve import ProtoIndex, Resolver, project_files
from datahem.compiler.model.resolved import Model
from datahem.compiler.validate.checks import run_checks
from datahem.compiler.validate.evolution import check_evolution

SOURCES = "sources.yaml"


@dataclass(frozen=True)
class Settings:
    """Everything a build depends on besides the project files; travels as one frozen object."""

    project_dir: Path
    emitters: tuple[str, ...] | None = None  # None: all
    against: str | None = None  # the evolution baseline: None = generated/, else a git ref or directory

    @property
    def output_dir(self) -> Path:
        return self.project_dir / "generated"


def load_model(project_dir: Path, against: str | None = None) -> Model:
    """The validated model, compared with the previous build in generated/ (or the baseline `against` names: a git
    ref or a directory); breaking changes are errors; its `evolution` holds the migrations the build writes."""
    from datahem.compiler.evolution.tree import read_baseline

    model, raw = load_project(project_dir)
    diags = Diagnostics()
    model = check_evolution(model, raw, read_baseline(project_dir, against), diags)
    if diags:
        raise CompileError(diags.items)
    return model


def load_project(project_dir: Path) -> tuple[Model, RawConfig]:
    """The validated model without the comparison with generated/ (`datahem plan` compares with its own baseline)."""
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
    return model, raw


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


def _takes_previous(emit: Callable) -> bool:
    return "previous" in inspect.signature(emit).parameters


def render_all(model: Model, settings: Settings) -> dict[str, bytes]:
    """Render every emitter's files in memory. Emitters that accept `previous` also get the current generated/
    tree (path → bytes), read once, to reuse expensive outputs whose inputs did not change (the infra synth)."""
    files: dict[str, bytes] = {}
    previous: dict[str, bytes] | None = None
    for name, emit in all_emitters():
        if settings.emitters is not None and name not in settings.emitters:
            continue
        if _takes_previous(emit):
            if previous is None:
                previous = writer.read_tree(settings.output_dir)
            outputs = emit(model, previous=previous)
        else:
            outputs = emit(model)
        for f in outputs:
            if f.path in files:
                raise RuntimeError(f"two emitters wrote {f.path}")
            files[f.path] = f.content
    return dict(sorted(files.items()))


def build(settings: Settings) -> tuple[Model, dict[str, bytes]]:
    model = load_model(settings.project_dir, settings.against)
    return model, render_all(model, settings)
