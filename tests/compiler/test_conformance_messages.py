"""The protobuf project's conformance messages (test_messages_proto{2,3}.proto and their editions goldens) compile,
with only the adaptations DataHem's documented rules require (tests/conformance_messages/README.md), and their
converters turn events into rows and protobuf bytes.

Every top-level message of each file is a table, so proto2 groups, required fields, extensions ranges, message sets,
marker messages, keywords of other languages, editions features and every well-known type are built."""

from __future__ import annotations

import pytest

from datahem.compiler.model.resolved import Column
from datahem.runtime.beam.convert import VALIDATE, Reject
from tests.compiler.built import Converters, build, check_ddl
from tests.conftest import ROOT

PROJECTS = ROOT / "tests" / "conformance_messages"
NAMES = ("proto2", "proto3", "proto2_editions", "proto3_editions")
PACKAGES = {
    "proto2": "protobuf_test_messages.proto2",
    "proto3": "protobuf_test_messages.proto3",
    "proto2_editions": "protobuf_test_messages.editions.proto2",
    "proto3_editions": "protobuf_test_messages.editions.proto3",
}


@pytest.fixture(scope="module", params=NAMES)
def built(request, tmp_path_factory):
    model, files = build(PROJECTS / request.param)
    converters = Converters(model, files, tmp_path_factory.mktemp(request.param))
    return request.param, model, files, converters


def _column(model, message: str, *path: str) -> Column:
    columns = model.table(message).columns
    for name in path:
        column = next(c for c in columns if c.field_name == name)
        columns = column.fields
    return column


def test_every_message_is_a_table_and_the_ddl_parses(built):
    name, model, files, _ = built
    sources = (PROJECTS / name / "sources.yaml").read_text()
    assert len(model.tables) == sources.count("message:")
    check_ddl(files)
    for t in model.tables:  # a test file under schemas/google/protobuf/ is a project file, not a library one
        assert t.proto_files and t.proto_files[0].endswith(".proto")


def test_an_empty_event_converts_unless_a_field_is_required(built):
    _, model, _, converters = built
    for t in model.tables:
        if any(c.required for c in t.columns):
            with pytest.raises(Reject) as exc:
                converters.convert(t.message, {})
            assert exc.value.stage == VALIDATE and "required" in exc.value.reason
        else:
            row, data = converters.convert(t.message, {})
            converters.message_class(t.message).FromString(data)
            assert set(row) == {c.name for c in t.columns if not c.hidden}


def test_all_types(built):
    name, model, _, converters = built
    message = f"{PACKAGES[name]}.TestAllTypesProto{name[5]}"
    event = {
        "optionalInt32": 1,
        "optionalNestedMessage": {"a": 2},
        "mapInt64Int64": {"-3": "4"},
        "mapBoolBool": {"true": False},
        "oneofUint32": 5,
        "FieldName3": 6,  # `_field_name3`, renamed: its JSON name is unchanged
    }
    if name.startswith("proto3"):
        event |= {"optionalEmpty": {}, "repeatedEmpty": [{}, {}], "optionalFieldMask": "foo,barBaz"}
        event |= {"optionalValue": {"a": [1, None]}, "optionalTimestamp": "2026-01-01T00:00:00Z"}
    else:
        event |= {"data": {"groupInt32": 7}}
    row, data = converters.convert(message, event)
    msg = converters.message_class(message).FromString(data)
    assert row["optional_int32"] == 1 and row["optional_nested_message"]["a"] == 2
    assert row["map_int64_int64"] == [{"key": -3, "value": 4}] and msg.map_int64_int64[-3] == 4
    assert row["oneof_uint32"] == 5 and row["field_name3"] == 6 and msg._field_name3 == 6
    if name.startswith("proto3"):
        assert (row["optional_empty"], row["repeated_empty"]) == (True, [True, True])
        assert msg.HasField("optional_empty") and len(msg.repeated_empty) == 2
        assert row["optional_field_mask"] == "foo,barBaz" and list(msg.optional_field_mask.paths) == ["foo", "bar_baz"]
        assert _column(model, message, "optional_empty").bq_type == "BOOL"
        assert _column(model, message, "optional_field_mask").bq_type == "STRING"
    else:
        assert row["data"]["group_int32"] == 7 and msg.data.group_int32 == 7
        assert _column(model, message, "data").bq_type == "STRUCT"  # a group (or delimited message) is a STRUCT


@pytest.mark.parametrize("name", ["proto2", "proto2_editions"])
def test_required_and_markers(name, tmp_path):
    model, files = build(PROJECTS / name)
    converters = Converters(model, files, tmp_path)
    required = f"{PACKAGES[name]}.TestAllRequiredTypesProto2"
    assert _column(model, required, "required_int32").mode == "REQUIRED"
    assert _column(model, required, "optional_recursive_message").mode == "NULLABLE"
    with pytest.raises(Reject, match="required_int64: required field missing"):
        converters.convert(required, {"requiredInt32": 1})
    oneof = f"{PACKAGES[name]}.TestLargeOneof"
    assert _column(model, oneof, "a1").bq_type == "BOOL"  # a message without fields is a marker
    row, data = converters.convert(oneof, {"a1": {}})
    assert row["a1"] is True and converters.message_class(oneof).FromString(data).HasField("a1")
    with pytest.raises(Reject, match="only one"):
        converters.convert(oneof, {"a1": {}, "a2": {}})
