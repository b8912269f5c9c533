"""Every construct protoc accepts builds (tests/constructs/: proto2 labels, required, groups and defaults; proto3
optional, oneofs, maps of every key and value type, every well-known type; editions 2023 and 2024 presence and
delimited encoding; field names that are Python keywords, builtins or locals of the generated converter), its DDL
parses, and its converters turn events into rows and protobuf bytes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datahem.runtime.beam.convert import VALIDATE, Reject
from tests.compiler.built import Converters, build, check_ddl
from tests.conftest import ROOT

PROJECT = ROOT / "tests" / "constructs"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    model, files = build(PROJECT)
    return model, files, Converters(model, files, tmp_path_factory.mktemp("constructs"))


def _modes(model, message: str) -> dict[str, str]:
    return {c.name: c.mode for c in model.table(message).columns}


def test_the_ddl_parses(built):
    _, files, _ = built
    check_ddl(files)


def test_proto2(built):
    model, _, converters = built
    assert _modes(model, "legacy.v1.Legacy")["from"] == "REQUIRED"
    event = {
        "from": "a",
        "class": "3",
        "in": "b",
        "lambda": False,
        "None": "KIND_A",
        "True": 1.5,
        "import": ["c"],
        "data": {"def": 4, "pass": "e"},
        "item": [{"yield": "f"}],
        "async": base64.b64encode(b"g").decode(),
        **{k: k for k in ("list", "dict", "msg", "d", "p", "v", "pv", "ctx", "root")},
        "global": 5,
        "secret": {"token": "t"},
        "byName": {"k": {"def": 6}},
    }
    row, data = converters.convert("legacy.v1.Legacy", event)
    msg = converters.message_class("legacy.v1.Legacy").FromString(data)
    assert row["from"] == "a" and row["class"] == 3 and row["None"] == "KIND_A" and row["True"] == 1.5
    assert row["data"] == {"def": 4, "pass": "e"} and row["item"] == [{"yield": "f"}]
    assert row["by_name"] == [{"key": "k", "value": {"def": 6, "pass": None}}]
    assert getattr(msg, "from") == "a" and getattr(msg, "class") == 3
    assert getattr(msg.data, "def") == 4 and getattr(msg, "global") == 5 and msg.secret.token == "t"
    assert "global" not in row and "secret" not in row  # hidden
    row, _ = converters.convert("legacy.v1.Legacy", {"from": "a"})
    assert row["class"] is None  # proto2 defaults are not sent: the column is NULL


@pytest.mark.parametrize(
    "event, path",
    [({}, "from"), ({"from": "a", "data": {}}, "data.def"), ({"from": "a", "byName": {"k": {}}}, "by_name[k].def")],
)
def test_proto2_required_fields_are_checked(built, event, path):
    _, _, converters = built
    with pytest.raises(Reject) as exc:
        converters.convert("legacy.v1.Legacy", event)
    assert (exc.value.stage, exc.value.path, exc.value.reason) == (VALIDATE, path, "required field missing")


def test_proto3(built):
    model, _, converters = built
    keys = {"mInt32": "-1", "mInt64": "-2", "mUint32": "3", "mUint64": "18446744073709551615", "mSint32": "-5"}
    keys |= {"mSint64": "-6", "mFixed32": "7", "mFixed64": "8", "mSfixed32": "-9", "mSfixed64": "-10", "mBool": "true"}
    values = {
        "vDouble": 1.5,
        "vFloat": 2.5,
        "vInt64": "3",
        "vUint64": "4",
        "vBool": True,
        "vBytes": "AQI=",
        "vEnum": "COLOR_RED",
        "vMessage": {"x": 1},
        "vTimestamp": "2026-01-01T00:00:00Z",
        "vDuration": "1.5s",
        "vStruct": {"a": 1},
        "vValue": [1],
        "vList": [1, "a"],
        "vFieldMask": "a.b,cD",
        "vEmpty": {},
        "vWrapper": "7",
    }
    event = {k: {v: "s"} for k, v in keys.items()} | {k: {"k": v} for k, v in values.items()}
    event |= {"maybe": "", "nothing": {}, "empty": {}, "fieldMask": "fooBar", "empties": [{}], "masks": ["a", "b.c"]}
    event |= {"struct": {"a": [1]}, "timestamp": "2026-01-01T00:00:00Z", "int64Value": "5", "nullValue": None}
    row, data = converters.convert("modern.v1.Modern", event)
    msg = converters.message_class("modern.v1.Modern").FromString(data)
    assert row["maybe"] == "" and msg.HasField("maybe")  # proto3 optional has presence
    assert row["nothing"] is True and msg.WhichOneof("choice") == "nothing"
    assert row["m_uint64"] == [{"key": "18446744073709551615", "value": "s"}]
    assert row["m_bool"] == [{"key": True, "value": "s"}] and msg.m_bool[True] == "s"
    assert row["v_empty"] == [{"key": "k", "value": True}] and row["v_field_mask"][0]["value"] == "a.b,cD"
    assert (row["empty"], row["field_mask"], row["empties"], row["masks"]) == (True, "fooBar", [True], ["a", "b.c"])
    assert list(msg.field_mask.paths) == ["foo_bar"] and msg.HasField("empty")
    assert row["v_wrapper"] == [{"key": "k", "value": 7}] and msg.v_wrapper["k"].value == 7
    with pytest.raises(Reject, match="only one"):
        converters.convert("modern.v1.Modern", {"text": "a", "nothing": {}})
    with pytest.raises(Reject, match="expected empty object"):
        converters.convert("modern.v1.Modern", {"empty": {"a": 1}})
    with pytest.raises(Reject, match="expected field mask string"):
        converters.convert("modern.v1.Modern", {"fieldMask": {"paths": ["a"]}})


def test_editions(built):
    model, _, converters = built
    assert (
        _modes(model, "ed.v1.Ed2023")["must"] == "REQUIRED" and _modes(model, "ed.v1.Ed2023")["explicit"] == "NULLABLE"
    )
    assert _modes(model, "ed.v1.Ed2024")["legacy"] == "REQUIRED"
    event = {"implicit": "a", "explicit": "", "must": 1, "delimited": {"lambda": 2}, "delimitedList": [{"lambda": 3}]}
    row, data = converters.convert("ed.v1.Ed2023", event)
    msg = converters.message_class("ed.v1.Ed2023").FromString(data)
    assert row["delimited"] == {"lambda": 2} and row["delimited_list"] == [{"lambda": 3}]
    assert getattr(msg.delimited, "lambda") == 2 and msg.HasField("explicit")
    with pytest.raises(Reject, match="must: required field missing"):
        converters.convert("ed.v1.Ed2023", {"implicit": "a"})
    row, _ = converters.convert("ed.v1.Ed2024", {"from": "x", "legacy": 1, "inner": {"lambda": 4}})
    assert row == {"from": "x", "legacy": 1, "inner": {"lambda": 4}}


# modern.v1.Pick: the fields of the required oneof `by` and of the oneof `free`, each with what a sender may put in it
_BY = {
    "name": st.text(st.characters(exclude_categories=("Cs",)), max_size=5),
    "number": st.integers(-(2**63), 2**63 - 1) | st.integers(-(2**63), 2**63 - 1).map(str),
    "at": st.fixed_dictionaries({}, optional={"x": st.integers(-(2**31), 2**31 - 1)}),
    "none": st.just({}),
    "full_name": st.text(max_size=3).filter(str.isascii),
}
_FREE = {"a": st.text(max_size=3).filter(str.isascii), "b": st.text(max_size=3).filter(str.isascii)}


@st.composite
def picks(draw) -> dict:
    """A Pick event: each field absent, null or set (`full_name` under its JSON or its proto name)."""
    event: dict = {}
    for name, value in (_BY | _FREE).items():
        state = draw(st.sampled_from(("absent", "null", "set")))
        if state == "absent":
            continue
        key = draw(st.sampled_from(("fullName", "full_name"))) if name == "full_name" else name
        event[key] = None if state == "null" else draw(value)
    if draw(st.booleans()):
        event["note"] = draw(st.none() | st.text(max_size=3).filter(str.isascii))
    return event


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(event=picks())
def test_a_required_oneof_takes_exactly_one_field(built, event):
    """`(datahem.oneof) = {required: true}`: none set and two set are `validate` dead letters at the oneof's path;
    exactly one set is a row with that field (a default value such as "" or {} counts as set, null does not); a
    oneof that is not required still takes none; a proto3 `optional` beside them is no oneof of the event's."""
    _, _, converters = built
    chosen = [n for n in _BY if event.get(n) is not None or (n == "full_name" and event.get("fullName") is not None)]
    free = [n for n in _FREE if event.get(n) is not None]
    if len(chosen) != 1 or len(free) > 1:
        with pytest.raises(Reject) as caught:
            converters.convert("modern.v1.Pick", event)
        r = caught.value
        if len(chosen) != 1:
            assert (r.stage, r.path) == (VALIDATE, "by")
            names = "name, number, at, none, full_name"
            assert r.reason == (
                f"one of {names} is required (oneof by)" if not chosen else f"only one of {names} may be set (oneof by)"
            )
        else:
            assert (r.stage, r.path, r.reason) == (VALIDATE, "free", "only one of a, b may be set (oneof free)")
        return
    row, data = converters.convert("modern.v1.Pick", event)
    msg = converters.message_class("modern.v1.Pick").FromString(data)
    assert msg.WhichOneof("by") == chosen[0]
    assert msg.WhichOneof("free") == (free[0] if free else None)
    assert [n for n in _BY if row[n] is not None] == chosen
