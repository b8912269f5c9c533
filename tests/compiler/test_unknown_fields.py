"""The `unknown_fields` table option (REJECT, IGNORE, KEEP) through DDL, schema JSON and converters, and filters
evaluated before anything else of an event (tests/unknown_fields/)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datahem.runtime.beam.convert import FILTER, VALIDATE, Context, Reject
from tests.compiler.built import ATTRIBUTES, Converters, build, check_ddl
from tests.conftest import ROOT

PROJECT = ROOT / "tests" / "unknown_fields"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    model, files = build(PROJECT)
    return model, files, Converters(model, files, tmp_path_factory.mktemp("unknown_fields"))


def _convert(converters: Converters, message: str, payload: object) -> tuple[dict, Context]:
    ctx = Context(dict(ATTRIBUTES), {})
    data = json.dumps(payload).encode()
    row, _ = converters.modules[message].convert(data, ctx, converters.message_class(message))
    return row, ctx


def test_only_a_keep_table_has_the_unknown_column_last_nullable_json(built):
    model, files, _ = built
    check_ddl(files)
    fields = {
        t.message: json.loads(files[f"bigquery/{t.dataset}/{t.name}.schema.json"])["fields"] for t in model.tables
    }
    last = fields["unk.v1.Kept"][-1]
    assert (last["name"], last["type"], last["mode"]) == ("_unknown", "JSON", "NULLABLE")
    assert "_unknown" in files["bigquery/events/kept.sql"].decode()
    for message in ("unk.v1.Ignored", "unk.v1.Rejected"):
        assert "_unknown" not in {f["name"] for f in fields[message]}


def test_keep_stores_unknown_fields_at_every_depth_by_path(built):
    _, _, converters = built
    event = {
        "t": "pageview",
        "n": "3",
        "dl": "https://shop.example/",
        "_gid": "GA1.2.3",
        "origin": {"page": "/", "screen": {"w": 1}},
        "items": [{"id": "a"}, {"id": "b", "qty": 2}],
        "byId": {"x": {"id": "x", "extra": None}},
    }
    row, ctx = _convert(converters, "unk.v1.Kept", event)
    assert row["n"] == 3 and row["items"] == [{"id": "a"}, {"id": "b"}]
    assert json.loads(row["_unknown"]) == {
        "dl": "https://shop.example/",
        "_gid": "GA1.2.3",
        "origin.screen": {"w": 1},
        "items[1].qty": 2,
        "by_id[x].extra": None,
    }
    assert len(ctx.unknown) == 5  # what the pipeline's `unknown_fields` counter adds
    row, ctx = _convert(converters, "unk.v1.Kept", {"t": "event"})
    assert row["_unknown"] is None and ctx.unknown is None


def test_keep_refuses_what_bigquerys_json_cannot_nest(built):
    _, _, converters = built
    deep: object = 1
    for _ in range(520):
        deep = [deep]
    with pytest.raises(Reject) as exc:
        _convert(converters, "unk.v1.Kept", {"t": "event", "deep": deep})
    assert (exc.value.stage, exc.value.path) == (VALIDATE, "deep")


def test_ignore_drops_and_counts_unknown_fields(built):
    _, _, converters = built
    row, ctx = _convert(converters, "unk.v1.Ignored", {"a": "x", "b": 1, "item": {"id": "i", "c": [2]}})
    assert row == {"a": "x", "item": {"id": "i"}}
    assert ctx.unknown == {"b": 1, "item.c": [2]}


def test_a_reused_context_starts_each_event_without_unknown_fields(built):
    _, _, converters = built
    ctx = Context(dict(ATTRIBUTES), {})
    cls = converters.message_class("unk.v1.Kept")
    converters.modules["unk.v1.Kept"].convert(b'{"t": "event", "x": 1}', ctx, cls)
    row, _ = converters.modules["unk.v1.Kept"].convert(b'{"t": "event"}', ctx, cls)
    assert row["_unknown"] is None


def test_reject_is_the_default(built):
    _, _, converters = built
    with pytest.raises(Reject) as exc:
        _convert(converters, "unk.v1.Rejected", {"a": "x", "b": 1})
    assert (exc.value.stage, exc.value.path, exc.value.reason) == (VALIDATE, "b", "unknown field")


# -- filters first -----------------------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_FILTERED = {"t", "a", "origin", "agentKind", "agent_kind"}  # the keys the filters read, set by the test itself
_KEYS = st.sampled_from(["n", "items", "byId", "by_id", "page", "id"]) | st.text(min_size=1, max_size=8)
# unknown or known keys with any values
_GARBAGE = st.dictionaries(_KEYS.filter(lambda k: k not in _FILTERED), _JSON, max_size=5)
_NOT_KEPT = st.text(max_size=12).filter(lambda s: s not in ("pageview", "event"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    garbage=_GARBAGE,
    origin_garbage=_GARBAGE,
    message=st.sampled_from(["unk.v1.Kept", "unk.v1.Rejected"]),
    hit_type=_NOT_KEPT,
    by_origin=st.booleans(),
    padding=st.text(alphabet=" ", max_size=3),
)
def test_an_event_a_filter_removes_is_a_filter_reject_whatever_else_it_carries(
    built, garbage, origin_garbage, message, hit_type, by_origin, padding
):
    """Filters run on what they need before anything else: unknown fields, wrongly typed values, both names of a
    field, broken nested messages elsewhere in the event never turn a filtered event into another dead letter."""
    _, _, converters = built
    if message == "unk.v1.Rejected":  # regex_replace strips leading blanks before the filter sees the value
        event = {**garbage, "a": padding + "test" + hit_type}
        expected_path = "a"
    elif by_origin:
        event = {**garbage, "origin": {**origin_garbage, "agentKind": "bot"}}
        expected_path = "origin.agent_kind"
    else:
        event = {**garbage, "t": hit_type}
        expected_path = "t"
    with pytest.raises(Reject) as exc:
        _convert(converters, message, event)
    assert (exc.value.stage, exc.value.path) == (FILTER, expected_path), exc.value


def test_a_filter_whose_value_cannot_be_read_leaves_the_reason_to_the_main_pass(built):
    _, _, converters = built
    with pytest.raises(Reject) as exc:
        _convert(converters, "unk.v1.Kept", {"t": 5, "n": "x"})
    assert (exc.value.stage, exc.value.path) == (VALIDATE, "t")
