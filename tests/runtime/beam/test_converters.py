"""Contract tests of the generated converters, from every example event shipped with the schemas: valid events
give exactly the expected rows and protobuf messages; each invalid one is rejected at the stage and with the
reason it declares. Golden rows live in tests/golden/converters/ (DATAHEM_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from google.protobuf import json_format

from datahem.compiler.emitters.converters import module_name
from datahem.runtime.beam.convert import Reject
from datahem.runtime.beam.messages import message_class
from tests.conftest import EXAMPLE_REGISTRY, ROOT
from tests.examples import load_examples
from tests.runtime.beam.conftest import ATTRIBUTES, TEST_KEYS

EXAMPLES = load_examples()
GOLDEN = ROOT / "tests" / "golden" / "converters"
UPDATE = os.environ.get("DATAHEM_UPDATE_GOLDEN") == "1"


def _golden_path(example_model, message: str) -> Path:
    return GOLDEN / f"{module_name(example_model.table(message))}.json"


def _as_dict(message: str, data: bytes) -> dict:
    cls = message_class(message, EXAMPLE_REGISTRY)
    return json_format.MessageToDict(cls.FromString(data), preserving_proto_field_name=True)


@pytest.fixture(scope="module")
def golden(example_model):
    if UPDATE:
        out = {}
        for ex in EXAMPLES:
            out.setdefault(ex.message, {})
        yield out
        from tests.runtime.beam.conftest import converter_module  # noqa: F401

        for message, cases in out.items():
            path = _golden_path(example_model, message)
            path.write_text(json.dumps(cases, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return
    yield {t.message: json.loads(_golden_path(example_model, t.message).read_text()) for t in example_model.tables}


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_valid_example(ex, convert, golden):
    row, data = convert(ex.message, ex.payload, ex.attributes)
    got = {"row": row, "proto": _as_dict(ex.message, data)}
    if UPDATE:
        golden[ex.message][ex.name] = got
        return
    assert got == golden[ex.message][ex.name]
    # the bytes are the deterministic serialization (converters of messages without maps do not ask for it)
    cls = message_class(ex.message, EXAMPLE_REGISTRY)
    assert data == cls.FromString(data).SerializeToString(deterministic=True)


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if not e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_invalid_example(ex, convert):
    with pytest.raises(Reject) as err:
        convert(ex.message, ex.payload, ex.attributes)
    assert err.value.stage == ex.stage, str(err.value)
    assert ex.reason in str(err.value)


def _untransformed(columns) -> list:
    """Fields whose proto value is the input as parsed: no option changes it on the way."""
    out = []
    for c in columns:
        if c.transforms.any or c.recursion_cut:
            continue
        if c.fields and _untransformed(c.fields) != list(c.fields):
            continue
        out.append(c)
    return out


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_proto_agrees_with_generic_parser(ex, convert, example_model):
    """Independent check of the protobuf bytes: protobuf's own JSON parser gives the same values for every field
    no option transforms."""
    _, data = convert(ex.message, ex.payload, ex.attributes)
    cls = message_class(ex.message, EXAMPLE_REGISTRY)
    ours = cls.FromString(data)
    table = example_model.table(ex.message)
    # fields no column holds are the converter's `_unknown` (KEEP) or dropped (IGNORE): the parser skips them too
    generic = json_format.Parse(ex.payload, cls(), ignore_unknown_fields=table.unknown_fields != "REJECT")
    fields = _untransformed(table.columns)
    assert fields
    for c in fields:
        assert getattr(ours, c.field_name) == getattr(generic, c.field_name), c.field_name


def test_pseudonymized_columns_are_keyed_hashes(convert):
    payload = json.dumps({"v": "1", "tid": "UA-1-1", "t": "pageview", "cid": "555.1234", "uid": "M-1"})
    row, data = convert("grocer.analytics.v1.UniversalAnalyticsHit", payload)
    key = TEST_KEYS["datahem-pseudonymization-key"]
    assert row["client_id"] == hmac.new(key, b"555.1234", hashlib.sha256).hexdigest()
    assert row["user_id"] == hmac.new(key, b"M-1", hashlib.sha256).hexdigest()
    # the processed stream carries the pseudonym too, never the clear value
    assert b"555.1234" not in data and row["client_id"].encode() in data


def test_from_attribute_and_filter(convert):
    payload = {"v": "1", "tid": "UA-1-1", "t": "pageview"}
    row, _ = convert("grocer.analytics.v1.UniversalAnalyticsHit", json.dumps(payload))
    assert row["hit_id"] == ATTRIBUTES["uuid"]
    assert row["collector_received_at"] == "2026-11-27T07:00:00.123456Z"
    with pytest.raises(Reject) as err:
        convert("grocer.analytics.v1.UniversalAnalyticsHit", json.dumps({**payload, "t": "pagview"}))
    assert err.value.stage == "filter"
    assert "hit_type" not in str(err.value) and err.value.path == "t"


def test_unknown_field_is_reported_not_dropped(convert):
    with pytest.raises(Reject) as err:
        convert("grocer.delivery.v1.CarTemperature", json.dumps({"vin": "X", "surprise": 1}))
    assert str(err.value) == "surprise: unknown field"
    assert err.value.stage == "validate"


def test_int64_as_string_and_enum_by_number(convert, example_model):
    table = example_model.table("grocer.commerce.v1.Order")
    payload = {
        "orderId": "O-1",
        "memberId": "M-1",
        "createdAt": "2024-05-31T18:42:10+02:00",
        "status": 2,
        "loyaltyPointsUsed": "120",
    }
    row, _ = convert(table.message, json.dumps(payload))
    assert row["created_at"] == "2024-05-31T16:42:10Z"
    assert row["status"] == "ORDER_STATUS_CONFIRMED"
    assert row["loyalty_points_used"] == 120


def test_indexed_parameters_become_nested_records(convert):
    """The Measurement Protocol's indexed parameters, nested two deep, with what does not belong to any of them."""
    hit = {
        "v": "1",
        "tid": "UA-1-1",
        "t": "pageview",
        "cd1": "gold",
        "cd5": "five",
        "il2nm": "Second",
        "il1pi2id": "B",
        "il1pi2cd4": "x",
        "il1pi1id": "A",
        "il1pi1pr": "9.50",
        "pr1zz": "an unknown suffix",
        "gtm": "internal",
    }
    row, data = convert("grocer.analytics.v1.UniversalAnalyticsHit", json.dumps(hit))
    assert row["member_tier"] == "gold"
    assert row["custom_dimensions"] == [{"index": 5, "value": "five"}]
    lists = row["impression_lists"]
    assert [(x["index"], x["name"]) for x in lists] == [(1, None), (2, "Second")]
    assert [(p["index"], p["sku"], p["price"]) for p in lists[0]["products"]] == [(1, "A", "9.5"), (2, "B", None)]
    assert lists[0]["products"][1]["custom_dimensions"] == [{"index": 4, "value": "x"}]
    # an unknown suffix is an unknown field of its element, kept by its path like any other
    assert json.loads(row["_unknown"]) == {"products[0].zz": "an unknown suffix", "gtm": "internal"}
    proto = _as_dict("grocer.analytics.v1.UniversalAnalyticsHit", data)
    assert proto["impression_lists"][0]["products"][0] == {"index": 1, "id": "A", "pr": "9.50"}


def test_indexes_up_to_nine_digits_are_gathered_longer_ones_kept_as_unknown(convert):
    hit = {"v": "1", "tid": "UA-1-1", "t": "event", "pr999999999id": "x", "pr3000000000nm": "y"}
    row, _ = convert("grocer.analytics.v1.UniversalAnalyticsHit", json.dumps(hit))
    assert [(p["index"], p["sku"]) for p in row["products"]] == [(999999999, "x")]
    assert json.loads(row["_unknown"]) == {"pr3000000000nm": "y"}


def _proto_named(value: object, renames: dict[str, str]) -> object:
    """A JSON value with every key that is a field's JSON name written as the field's proto name."""
    if isinstance(value, dict):
        return {renames.get(k, k): _proto_named(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_proto_named(v, renames) for v in value]
    return value


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e.valid], ids=lambda e: f"{e.message}:{e.name}")
def test_proto_names_convert_as_json_names(ex, convert, example_model):
    """A field is read under its JSON name or its proto name (the converter renames an object sent with proto names
    once, then reads one key per field): the same row and message either way, and both names at once refused."""
    from datahem.compiler.model.resolved import all_columns

    columns = [c for c in all_columns(example_model.table(ex.message).columns) if c.json_name != c.field_name]
    renames = {c.json_name: c.field_name for c in columns}
    payload = json.loads(ex.payload)
    proto_named = _proto_named(payload, renames)
    assert convert(ex.message, json.dumps(proto_named), ex.attributes) == convert(ex.message, ex.payload, ex.attributes)
    top = [c for c in example_model.table(ex.message).columns if c.json_name in payload or c.field_name in payload]
    for c in top:
        if c.json_name != c.field_name:
            value = payload.get(c.json_name, payload.get(c.field_name))
            both = {**payload, c.json_name: value, c.field_name: None}
            with pytest.raises(Reject) as err:
                convert(ex.message, json.dumps(both), ex.attributes)
            assert (err.value.stage, err.value.path) == ("validate", c.field_name)
            assert err.value.reason == f"both {c.json_name} and {c.field_name} are set (the same field)"
