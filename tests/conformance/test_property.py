"""Property: whatever the bytes, a generated converter gives a row or a `Reject` whose stage is not `internal`.

Payloads are written per field from the message's descriptor (scalars, repeated, maps, well-known types, nested
messages, oneofs), with hostile values: integers beyond 64 bits and beyond a double, floats as strings in every
spelling (`"nan"`, `"1_000"`, `" 1.5"`, `"1e400"`), lone surrogates in strings and keys, deep nesting, timestamps
and durations at and past their limits, both names of a field, and values of the wrong JSON type. Accepted events
must give a JSON-serializable row and protobuf bytes protobuf reads back. Run over TestAllTypesProto3 (every field
type) and over the example project's messages (every column option).

CI runs a fixed, derandomized set of examples; DATAHEM_PROPERTY_EXPLORE=<n> runs n fresh random ones.
"""

from __future__ import annotations

import json
import os

import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from datahem.runtime.beam.convert import Context, Reject
from datahem.runtime.beam.messages import message_class
from tests.conftest import EXAMPLE_REGISTRY
from tests.runtime.beam.conftest import ATTRIBUTES, TEST_KEYS, converter_module

_CI = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
_EXPLORE = int(os.environ.get("DATAHEM_PROPERTY_EXPLORE") or 0)
PROFILE = settings(_CI, max_examples=_EXPLORE, derandomize=False) if _EXPLORE else _CI

BIG = "<a JSON number of 5,000 digits>"  # json.dumps cannot write one (Python's int-to-text limit): put in the bytes
HUGE_INTS = [2**31, -(2**31) - 1, 2**32, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, -(2**64), 10**400, -(10**400),
             BIG, "9" * 5000, "-" + "1" * 5000]  # fmt: skip
FLOAT_TEXTS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "1_000", " 1.5", "1.5 ", "1e400", "-1e400",
               "3.502823e+38", "1e5", "0x10", "١", "1e999999999", "-0", "1.0", ""]  # fmt: skip
TIME_TEXTS = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
              "9999-12-31T23:59:59.999999999Z", "2024-05-31t16:42:10z", "2024-05-31T16:42:10+24:00",
              "٢٠٢٤-05-31T16:42:10Z", "2024-05-31T16:42:10Z\n", "2024-02-30T00:00:00Z"]  # fmt: skip
DURATION_TEXTS = ["0.1e400s", "315576000000s", "-315576000001s", "1.000000001s", "1e5s", "s", "-0.5s"]
SURROGATES = ["\ud800", "\udc00", "a\ude01\ud83d", "\ud83d\ude00"]


def _deep(n: int, kind: str) -> object:
    v: object = 1
    for _ in range(n):
        v = [v] if kind == "list" else {"n": v}
    return v


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(FLOAT_TEXTS + TIME_TEXTS + DURATION_TEXTS + SURROGATES),
    st.text(max_size=8),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=10,
)
deep = st.builds(_deep, st.sampled_from([30, 40, 99, 101, 200, 1100]), st.sampled_from(["list", "dict"]))


def _names(field: FieldDescriptor) -> list[str]:
    return sorted({field.json_name, field.name})


def _value(field: FieldDescriptor, level: int) -> st.SearchStrategy:
    """A value for one occurrence of the field: mostly of its type, sometimes anything."""
    if field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry:
        full = field.message_type.full_name
        if full.startswith("google.protobuf."):
            return st.one_of(json_values, deep, st.sampled_from(TIME_TEXTS + DURATION_TEXTS + ["foo,barBaz", "a_b"]))
        if level >= 3:
            return st.one_of(st.just({}), json_values)
        return st.one_of(_message(field.message_type, level + 1), json_values)
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        return st.one_of(st.sampled_from(names), st.integers(-3, 200), scalars)
    return scalars


def _field(field: FieldDescriptor, level: int) -> st.SearchStrategy:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        keys = st.one_of(st.text(max_size=4), st.sampled_from(["1e5", "-1", "true", "99999999999999999999"]))
        return st.one_of(st.dictionaries(keys, _value(value, level), max_size=3), json_values)
    if field.is_repeated:
        return st.one_of(st.lists(_value(field, level), max_size=3), json_values)
    return _value(field, level)


def _message(descriptor, level: int = 0) -> st.SearchStrategy:
    fields = list(descriptor.fields)
    if not fields:
        return st.just({})
    entry = st.sampled_from(fields).flatmap(lambda f: st.tuples(st.sampled_from(_names(f)), _field(f, level)))
    return st.lists(entry, max_size=6 if level == 0 else 3).map(dict)


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True).replace(json.dumps(BIG), "9" * 5000).encode()


def _payload(descriptor) -> st.SearchStrategy:
    """Bytes of a payload: a JSON object built from the fields (with lone surrogates as \\u escapes), rarely
    other JSON or bytes."""
    doc = _message(descriptor).map(_dumps)
    other = st.one_of(
        json_values.map(_dumps),
        st.binary(max_size=20),
        st.just(b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}"),
    )
    return st.one_of(doc, doc, doc, other)


def _check(convert, cls, data: bytes) -> None:
    note(repr(data[:500]))
    try:
        row, proto = convert(data)
    except Reject as r:
        assert r.stage != "internal", str(r)
        assert str(r)
        return
    json.dumps(row)  # a row is JSON (non-finite floats are the writer's to spell)
    cls.FromString(proto)  # protobuf reads back what was accepted


@pytest.mark.slow
def test_conformance_message_never_raises(conformance):
    cls = conformance.cls

    @PROFILE
    @given(_payload(cls.DESCRIPTOR))
    def run(data):
        _check(conformance.convert, cls, data)

    run()


EXAMPLE_MESSAGES = sorted(json.loads(EXAMPLE_REGISTRY.with_name("index.json").read_text())["messages"])


@pytest.mark.slow
@pytest.mark.parametrize("message", EXAMPLE_MESSAGES)
def test_example_messages_never_raise(message, example_model):
    module = converter_module(example_model.table(message))
    cls = message_class(message, EXAMPLE_REGISTRY)
    ctx = Context(ATTRIBUTES, TEST_KEYS)

    @settings(PROFILE, max_examples=max(PROFILE.max_examples // 3, 1))
    @given(_payload(cls.DESCRIPTOR))
    def run(data):
        _check(lambda b: module.convert(b, ctx, cls), cls, data)

    run()
