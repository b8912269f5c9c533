"""Property: a .proto file of random constructs (proto2, proto3 or editions; scalars, enums, nested messages,
groups, maps, well-known types, labels, presence features; names that are Python keywords, builtins or converter
locals) is built or refused with diagnostics, never an internal error (the CLI's exit 3); when it builds, every
generated converter imports and converts an empty event into a row or a Reject.

Bounded and derandomized (the same examples every run); marked slow (each example runs protoc and the formatter).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datahem.compiler.diagnostics import CompileError
from datahem.runtime.beam.convert import Reject
from tests.compiler.built import Converters, build

NAMES = ("from", "class", "in", "lambda", "def", "global", "import", "pass", "yield", "is", "not", "async")
NAMES += ("list", "dict", "type", "id", "print", "msg", "d", "p", "v", "pv", "rv", "ctx", "root", "out", "key")
SCALARS = ("double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64")
SCALARS += ("sfixed32", "sfixed64", "bool", "string", "bytes")
KEYS = tuple(t for t in SCALARS if t not in ("double", "float", "bytes"))
WELL_KNOWN = ("Any", "Duration", "Empty", "FieldMask", "Struct", "Value", "ListValue", "Timestamp", "Int64Value")
WELL_KNOWN += ("BoolValue", "StringValue", "BytesValue", "UInt64Value")
WKT_FILES = {"Int64Value": "wrappers", "BoolValue": "wrappers", "StringValue": "wrappers", "BytesValue": "wrappers"}
WKT_FILES |= {"UInt64Value": "wrappers", "Value": "struct", "ListValue": "struct", "FieldMask": "field_mask"}

names = st.one_of(st.sampled_from(NAMES), st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
value_types = st.one_of(
    st.sampled_from(SCALARS),
    st.just("Color"),
    st.just("Inner"),
    st.sampled_from([f"google.protobuf.{w}" for w in WELL_KNOWN]),
)


@st.composite
def fields(draw, syntax: str) -> tuple[str, str, str | None]:
    """(declaration without the name, name, option or group body)."""
    kind = draw(st.sampled_from(("plain", "plain", "repeated", "map", "group", "optional", "required", "feature")))
    name = draw(names)
    if kind == "map":
        return f"map<{draw(st.sampled_from(KEYS))}, {draw(value_types)}>", name, None
    if kind == "group" and syntax == "proto2":
        return "optional group", name[:1].upper() + name[1:], f"optional {draw(st.sampled_from(SCALARS))} {draw(names)}"
    label = ""
    if kind == "repeated":
        label = "repeated "
    elif kind == "optional" and syntax != "editions":
        label = "optional "
    elif kind == "required" and syntax == "proto2":
        label = "required "
    elif syntax == "proto2":
        label = "optional "
    decl = f"{label}{draw(value_types)}"
    if kind == "feature" and syntax == "editions":
        feature = draw(st.sampled_from(("field_presence = EXPLICIT", "field_presence = LEGACY_REQUIRED")))
        if "Inner" in decl:
            feature = draw(st.sampled_from((feature, "message_encoding = DELIMITED")))
        return decl, name, f"[features.{feature}]"
    return decl, name, None


@st.composite
def proto_files(draw) -> str:
    syntax = draw(st.sampled_from(("proto2", "proto3", "editions")))
    header = 'edition = "2023";' if syntax == "editions" else f'syntax = "{syntax}";'
    drawn = draw(st.lists(fields(syntax), min_size=1, max_size=8))
    lines, number, wkts, seen = [], 1, set(), set()
    for decl, name, extra in drawn:
        if name.lower() in seen:  # mostly distinct names; a JSON-name collision may remain (refused)
            name = f"{name}_{number}"
        seen.add(name.lower())
        for w in WELL_KNOWN:
            if f"google.protobuf.{w}" in decl and (f".{w} " in decl + " " or f".{w}>" in decl):
                wkts.add(WKT_FILES.get(w, w.lower()))
        if decl == "optional group":
            lines.append(f"  {decl} {name} = {number} {{ {extra} = {number + 1}; }}")
            number += 2
        else:
            lines.append(f"  {decl} {name} = {number}{' ' + extra if extra else ''};")
            number += 1
    imports = "".join(f'import "google/protobuf/{w}.proto";\n' for w in sorted(wkts))
    return (
        f"{header}\npackage gen.v1;\n{imports}"
        "enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }\n"
        f"message Inner {{ {'optional ' if syntax == 'proto2' else ''}int32 x = 1; }}\n"
        "message Event {\n" + "\n".join(lines) + "\n}\n"
    )


SOURCES = """project:
  name: gen
  environments:
    dev:
      gcp_project: gen-project-dev
      region: europe-north1
sources:
  - name: events
    kind: http
    message: gen.v1.Event
    path: /events
"""


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(proto_files())
def test_random_constructs_build_or_are_refused(text):
    tmp = Path(tempfile.mkdtemp(prefix="datahem-constructs-"))
    try:
        (tmp / "schemas" / "gen" / "v1").mkdir(parents=True)
        (tmp / "schemas" / "gen" / "v1" / "event.proto").write_text(text)
        (tmp / "sources.yaml").write_text(SOURCES)
        try:
            model, files = build(tmp)
        except CompileError as exc:  # refused with diagnostics: exit 1
            assert exc.diagnostics
            return
        converters = Converters(model, files, tmp / "out")
        try:
            row, _ = converters.convert("gen.v1.Event", {})
        except Reject:
            return
        assert isinstance(row, dict)
    finally:
        shutil.rmtree(tmp)
