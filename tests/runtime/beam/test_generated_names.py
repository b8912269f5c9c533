"""Generated pipeline modules are stable and valid Python: names derive from what they stand for, so adding a field
changes only that field's lines, and every literal is a Python literal (never JSON's `null`)."""

from __future__ import annotations

import difflib
import importlib.util
import re

import pytest

from datahem.compiler.emitters import py_literal
from datahem.compiler.emitters.converters import snake, type_slug
from tests.conftest import EXAMPLE, copy_project, run_datahem

ORDER = "generated/pipelines/converters/grocer_commerce_v1_order.py"


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kinesis_source_with_credentials_secret_builds_an_importable_module(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "project")
    sources = project / "sources.yaml"
    text = sources.read_text()
    role = "    role_arn: arn:aws:iam::123456789012:role/datahem-kinesis-reader\n"
    assert role in text
    sources.write_text(text.replace(role, "    credentials_secret: aws-kinesis-keys\n"))
    run_datahem("build", cwd=project, check=True)
    path = project / "generated" / "pipelines" / "kinesis_car_temperatures.py"
    assert "null" not in path.read_text()
    module = _import(path, "kinesis_without_role_arn")
    assert module.TEMPLATE_PARAMETERS["aws_role_arn"] is None
    assert module.TEMPLATE_PARAMETERS["source"] == "car_temperatures"


def test_adding_a_field_changes_only_that_fields_lines(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "project")
    run_datahem("build", cwd=project, check=True)
    before = (project / ORDER).read_text().splitlines()
    proto = project / "schemas" / "grocer" / "commerce" / "v1" / "order.proto"
    text = proto.read_text()
    anchor = "  string event_id = 26 "
    assert anchor in text
    field = '  int64 tip_cents = 27 [(datahem.column) = {type: "NUMERIC" divide: 100}];\n'
    proto.write_text(text.replace(anchor, field + anchor))
    run_datahem("build", cwd=project, check=True)
    after = (project / ORDER).read_text().splitlines()

    diff = [line for line in difflib.unified_diff(before, after, lineterm="", n=0) if line[:1] in "+-"]
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    assert removed == []  # nothing renumbered, nothing rewritten
    known = [line for line in added if re.fullmatch(r'\s+("tip_cents": )?"(tipCents|tip_cents)",', line)]
    # the known-keys set of Order gains the field's two spellings, its proto names and its renames one line each
    assert len(known) == 4, known
    rest = [line for line in added if line not in known]
    assert rest[0] == '    "tip_cents": None,'  # the field's entry in the row's template (every column NULL)
    assert rest[1] == '_div_order_tip_cents = Decimal("100.0")'
    assert rest[2] == "    # tip_cents: int64 -> NUMERIC NULLABLE"
    block = rest[3:]
    assert block and all(
        "tip" in line
        or line.strip() in {"if v is None:", "if v is not None:", "else:", "pv = v", "pv = int(v)"}
        or "as_int(v, INT64" in line
        or "v.__class__ is" in line
        for line in block
    ), block
    assert block[-1] == '        row["tip_cents"] = divide(pv, _div_order_tip_cents, "NUMERIC", p, "tip_cents")'
    module = _import(project / ORDER, "order_with_tip")
    assert module._known_order >= {"tipCents", "tip_cents"}


def test_names_are_identifiers_that_no_keyword_or_builtin_can_shadow():
    assert snake("OrderStatus") == "order_status"
    assert snake("Ga4Hit") == "ga4_hit"
    assert snake("HTTPRequest") == "http_request"
    assert type_slug("grocer.commerce.v1.Order.Line") == "order_line"
    assert type_slug("lower.case.message") == "message"
    for path in sorted((EXAMPLE / "generated" / "pipelines" / "converters").glob("*.py")):
        for name in re.findall(r"^(\w+) = |^def (\w+)\(", path.read_text(), flags=re.M):
            name = "".join(name)
            assert name.isidentifier()
            assert name in {"MESSAGE_TYPE", "TABLE", "convert"} or re.fullmatch(r"_[a-z][a-z0-9_]*", name), name


def test_colliding_names_are_told_apart_in_key_order():
    from datahem.compiler.emitters.converters import _fill, _Names, _Variant

    names = _Names()
    a, b = _Variant("p.Order", ("order",)), _Variant("p.OrderLine", ("order", "line"))
    names.variants += [a, b]
    first = names.slot("div", b, "total")  # `_div_order_line_total`, written first
    second = names.slot("div", a, "line_total")  # the same name, from message Order field line_total
    resolved = names.resolve()
    assert {_fill(first, resolved), _fill(second, resolved)} == {"_div_order_line_total", "_div_order_line_total_2"}
    assert _fill(second, resolved) == "_div_order_line_total"  # p.Order sorts before p.OrderLine


@pytest.mark.parametrize("value", [None, True, "x'\"", ["a", None], {"k": 1}, 2**70])
def test_py_literal_round_trips(value):
    import ast

    assert ast.literal_eval(py_literal(value)) == value


def test_py_literal_refuses_objects():
    with pytest.raises((TypeError, ValueError, SyntaxError)):
        py_literal(object())
