"""Python's `$` also matches before a final newline: `re.match(r"^[a-z]+$", "orders\n")` matches, so a validator
anchored with `$` lets a value through with a newline at its end (`path: "/collect\n"` became a route no request can
reach). DataHem's own patterns end with `\\Z`; RE2 patterns (the users' `filter` and `regex_*` options) are not
Python's and are not concerned."""

from __future__ import annotations

import ast
import importlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

PACKAGE = ROOT / "datahem"
_RE_CALLS = {"compile", "match", "search", "fullmatch"}


def _regex_literals(tree: ast.AST):
    """The patterns given as literals to re.compile / re.match / re.search / re.fullmatch: a string, several strings
    written side by side, or an f-string's last literal part."""
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RE_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
        ):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield node.lineno, arg.value
        elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[-1], ast.Constant):
            yield node.lineno, str(arg.values[-1].value)


def test_no_python_pattern_of_the_package_ends_with_a_dollar():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, pattern in _regex_literals(tree):
            body = pattern.rstrip(")?")
            if body.endswith("$") and not body.endswith("\\$"):
                found.append(f"{path.relative_to(ROOT)}:{line}: {pattern}")
    assert found == [], "end these patterns with \\Z: `$` also matches before a final newline"


def _anchored_patterns() -> list[tuple[str, re.Pattern]]:
    """Every module-level compiled pattern anchored at both ends (a whole value: validators, not prefix tests), of
    the package's modules that compile one."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "re.compile(" not in path.read_text(encoding="utf-8") or "/beam/" in path.as_posix():
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name, value in sorted(vars(module).items()):
            if not (isinstance(value, re.Pattern) and isinstance(value.pattern, str)):
                continue
            if value.pattern.startswith("^") and value.pattern.rstrip(")?").endswith(("$", "\\Z")):
                out.append((f"{module.__name__}.{name}", value))
    return out


ANCHORED = _anchored_patterns()


def test_the_validators_are_found():
    names = {name.rsplit(".", 1)[1] for name, _ in ANCHORED}
    assert {"HTTP_PATH", "COLUMN_NAME", "GCP_PROJECT", "SNS_TOPIC_ARN", "AWS_SNS_HOST", "PREFIX"} <= names


@pytest.mark.parametrize(("name", "pattern"), ANCHORED, ids=[name for name, _ in ANCHORED])
@settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_value_the_pattern_takes_is_refused_with_a_newline_after_it(name, pattern, data):
    value = data.draw(st.from_regex(pattern, fullmatch=True))
    assert pattern.match(value) is not None
    assert pattern.match(value + "\n") is None, f"{name} takes {value!r} + a newline"
