"""The example events are a contract: every root message ships valid and invalid events; valid ones are proto3
JSON of their message; every invalid one says why, at which stage, and really is wrong in that way."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from tests.examples import STAGES, load_examples

EXAMPLES = load_examples()


@pytest.fixture(scope="module")
def message_class(example_model):
    pool = descriptor_pool.DescriptorPool()
    fds = descriptor_pb2.FileDescriptorSet.FromString(example_model.descriptor_set)
    for f in fds.file:
        pool.Add(f)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def test_every_root_message_has_examples(example_model):
    valid = Counter(e.message for e in EXAMPLES if e.valid)
    invalid = Counter(e.message for e in EXAMPLES if not e.valid)
    for table in example_model.tables:
        assert valid[table.message] >= 3, table.message
        assert invalid[table.message] >= 4, table.message
    names = Counter((e.file, e.name) for e in EXAMPLES)
    assert [k for k, n in names.items() if n > 1] == []


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_valid_example_is_proto3_json(ex, message_class, example_model):
    table = example_model.table(ex.message)
    # a table that keeps (or ignores) unknown fields takes payloads carrying fields its message does not define
    lenient = table.unknown_fields != "REJECT"
    msg = json_format.Parse(ex.payload, message_class(ex.message)(), ignore_unknown_fields=lenient)
    for column in table.columns:
        if column.required and not column.transforms.get("from_attribute"):
            assert (
                msg.HasField(column.field_name)
                if column.proto_type == "message"
                else getattr(msg, column.field_name) not in ("", 0, None)
            ), f"{ex.name}: required `{column.field_name}` missing"


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if not e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_invalid_example_is_wrong_as_declared(ex, message_class, example_model):
    assert ex.stage in STAGES and ex.reason and ex.why, ex.name
    if ex.stage == "parse":
        try:
            value = json.loads(ex.payload)
        except json.JSONDecodeError:
            return
        assert not isinstance(value, dict), f"{ex.name}: declared a parse error but is a JSON object"
        return
    data = json.loads(ex.payload)
    assert isinstance(data, dict)
    if ex.stage == "validate":
        try:
            msg = json_format.Parse(ex.payload, message_class(ex.message)())
        except json_format.ParseError:
            return  # wrong type, unknown field or enum value: the generic parser agrees it is invalid
        table = example_model.table(ex.message)
        missing = [
            c.field_name
            for c in table.columns
            if c.required
            and not c.transforms.get("from_attribute")
            and c.json_name not in data
            and c.field_name not in data
        ]
        # a required oneof (`(datahem.oneof) = {required: true}`) with none of its fields set
        required_oneofs = {c.oneof for c in table.columns if c.oneof_required}
        missing += [oneof for oneof in sorted(required_oneofs, key=str) if msg.WhichOneof(oneof) is None]
        assert missing, f"{ex.name}: parses as {ex.message} and has every required field, yet is declared invalid"
        assert msg is not None
