"""The import graph of the datahem package: no cycle anywhere in it, and no import against the layering
(the cloud runtime never imports the compiler or deploy/dev code; the compiler never imports dev, deploy or the
CLI; deploy never imports the compiler or dev). Every import counts, including those inside functions, so a cycle
cannot be hidden by moving an import into a function body."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "datahem"

# Cycles inside datahem/ that exist today and are being removed (issue 10, item 2). Each entry is one
# strongly connected component of the import graph (every module on some cycle with the others). The test fails on a
# component not listed here, and also when a listed one is gone or has changed, so the list cannot outlive the fix:
# delete the entry (then the constant) once the cycle is removed.
KNOWN_CYCLES: list[frozenset[str]] = []  # none: a new cycle fails; list one here only with a plan to remove it

# importer package -> packages it must never import (a module of the package or the package itself)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "datahem.runtime": ("datahem.compiler", "datahem.dev", "datahem.deploy", "datahem.cli"),
    "datahem.compiler": ("datahem.dev", "datahem.deploy", "datahem.cli"),
    "datahem.deploy": ("datahem.compiler", "datahem.dev"),
    "datahem.output": ("datahem.compiler", "datahem.runtime", "datahem.dev", "datahem.deploy", "datahem.cli"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path, name: str) -> set[str]:
    """Every module name imported anywhere in the file (top level, functions, `if TYPE_CHECKING:` blocks)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from pkg import mod` imports the submodule pkg.mod when there is one
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    """datahem module -> the datahem modules its import statements name (`from a.b import c` names a.b, and a.b.c
    when that is a module). Importing a.b.c also runs a/__init__ and a/b/__init__; those implicit edges are left
    out, or every module importing a sibling would look like part of a cycle through its package's __init__."""
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for imported in imported_names(path, name):
            if imported in mods and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    # datahem.cli imports the compiler's build inside its command functions only
    assert "datahem.compiler.build" in edges["datahem.cli"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_no_import_cycle_in_the_package():
    edges = graph()
    found = cycles(edges)
    new = [{m: sorted(edges[m] & c) for m in sorted(c)} for c in found if c not in KNOWN_CYCLES]
    assert new == [], "import cycles in datahem/ (each module -> the modules of its cycle it imports)"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert gone == [], "these cycles are gone: delete them from KNOWN_CYCLES"


def test_no_forbidden_import_direction():
    bad = []
    for importer, targets in sorted(graph().items()):
        for package, forbidden in FORBIDDEN.items():
            if within(importer, package):
                bad += [f"{importer} -> {t}" for t in sorted(targets) if any(within(t, f) for f in forbidden)]
    assert bad == []


def test_the_package_never_imports_the_tests():
    bad = []
    for name, path in modules().items():
        bad += [f"{name} -> {t}" for t in sorted(imported_names(path, name)) if within(t, "tests")]
    assert bad == []
