"""Unit tests of the converter helpers where proto3 JSON and BigQuery are strict in ways easy to get wrong."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from datahem.runtime.beam import convert as c


@pytest.mark.parametrize("payload", [b"{", b"[1]", b'"x"', b"{'a': 1}", b'{"a": NaN}', b"\xff\xfe{}", b""])
def test_payloads_that_are_not_json_objects(payload):
    with pytest.raises(c.Reject) as err:
        c.parse_payload(payload)
    assert err.value.stage == "parse"


@pytest.mark.parametrize("number", [b"18446744073709551616", b"-9223372036854775809", b"9223372036854775808.0"])
def test_wide_integers_are_never_rounded_into_range(number):
    """orjson reads an integer beyond 64 bits as a double: it is refused, never stored as the nearest 64-bit value."""
    d = c.parse_payload(b'{"n": ' + number + b"}")
    with pytest.raises(c.Reject) as err:
        c.as_int(d["n"], c.INT64, "a.", "n")
    assert str(err.value).startswith("a.n: integer") and "out of range" in str(err.value)


@pytest.mark.parametrize("value,expected", [(5, 5), ("-7", -7), ("12", 12), (3.0, 3), ("1e3", 1000), ("-2.0E1", -20)])
def test_integers_as_numbers_or_strings(value, expected):
    assert c.as_int(value, c.INT32, "", "x") == expected


@pytest.mark.parametrize(
    "value", [True, "1.5", "1e-3", "1e999999999", " 5", "5 ", "+5", "1_000", "٣", 2.5, None, [1], 2.0**60]
)
def test_integers_rejected(value):
    with pytest.raises(c.Reject):
        c.as_int(value, c.INT64, "", "x")


def test_floats_accept_proto3_words():
    assert c.as_float("Infinity", "", "x") == float("inf")
    assert c.as_float(3, "", "x") == 3.0
    assert c.as_float("-1.5e3", "", "x") == -1500.0
    with pytest.raises(c.Reject):
        c.as_float(True, "", "x")


@pytest.mark.parametrize("value", ["nan", "inf", "-infinity", "1_000", " 1.5", "1.5 ", "+1", ".5", "0x10", "١"])
def test_floats_have_json_number_syntax(value):
    with pytest.raises(c.Reject) as err:
        c.as_float(value, "", "x")
    assert err.value.stage == "validate"


@pytest.mark.parametrize("value,bound", [(3.502823e38, c.FLOAT32_MAX), ("-3.5e38", c.FLOAT32_MAX), (10**400, c.DOUBLE_MAX),
                                         ("1e400", c.DOUBLE_MAX)])  # fmt: skip
def test_floats_beyond_their_range_are_refused(value, bound):
    with pytest.raises(c.Reject) as err:
        c.as_float(value, "", "x", bound)
    assert "out of range" in str(err.value)


def test_numbers_beyond_a_double_are_refused_when_parsed():
    with pytest.raises(c.Reject) as err:
        c.parse_payload(b'{"x": 1.89769e+308}')
    assert err.value.stage == "parse"


@pytest.mark.parametrize("payload", [rb'{"s": "\ud800"}', rb'{"\udc00": 1}', rb'{"a": [{"b": "x\ude01\ud83d"}]}'])
def test_lone_surrogates_are_refused_with_their_path(payload):
    with pytest.raises(c.Reject) as err:
        c.parse_payload(payload)
    assert err.value.stage == "parse" and "surrogate" in str(err.value)


def test_deep_nesting_is_a_parse_error():
    with pytest.raises(c.Reject) as err:
        c.parse_payload(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert err.value.stage == "parse"


def test_struct_nesting_is_bounded_by_protobufs_recursion_limit():
    from google.protobuf import struct_pb2

    def nest(n):
        v = 1
        for _ in range(n):
            v = {"n": v}
        return v

    msg = struct_pb2.Struct()
    c.set_struct(msg, nest(25), "", "s")
    struct_pb2.Struct.FromString(msg.SerializeToString())  # protobuf reads back what was accepted
    for n in (40, 200):
        with pytest.raises(c.Reject):
            c.set_struct(struct_pb2.Struct(), nest(n), "", "s")
    with pytest.raises(c.Reject):
        c.set_struct(struct_pb2.Struct(), {"big": 10**400}, "", "s")


@pytest.mark.parametrize(
    "text,seconds,nanos,row",
    [
        ("2024-05-31T16:42:10Z", 1717173730, 0, "2024-05-31T16:42:10Z"),
        ("2024-05-31T18:42:10.25+02:00", 1717173730, 250_000_000, "2024-05-31T16:42:10.250000Z"),
        ("2024-05-31T16:42:10.123456Z", 1717173730, 123_456_000, "2024-05-31T16:42:10.123456Z"),
        ("1969-12-31T23:59:59.000000001Z", -1, 1, "1969-12-31T23:59:59Z"),
    ],
)
def test_timestamps(text, seconds, nanos, row):
    msg = timestamp_pb2.Timestamp()
    assert c.set_timestamp(msg, text, "", "t") == row
    assert (msg.seconds, msg.nanos) == (seconds, nanos)
    reference = timestamp_pb2.Timestamp()
    reference.FromJsonString(text)
    assert (msg.seconds, msg.nanos) == (reference.seconds, reference.nanos)


@pytest.mark.parametrize(
    "text",
    ["2024-02-30T00:00:00Z", "2024-05-31 16:42:10Z", "2024-05-31T24:00:00Z", "yesterday", "2024-05-31t16:42:10Z",
     "2024-05-31T16:42:10z", "2024-05-31T16:42:10+24:00", "2024-05-31T16:42:10+00:60", "٢٠٢٤-05-31T16:42:10Z",
     "2024-05-31T16:42:10Z\n", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"],
)  # fmt: skip
def test_bad_timestamps(text):
    with pytest.raises(c.Reject) as err:
        c.set_timestamp(timestamp_pb2.Timestamp(), text, "x.", "t")
    assert err.value.path == "x.t"


@pytest.mark.parametrize("text", ["0.1e400s", "1e5s", "315576000001s", "٣s"])
def test_bad_durations(text):
    with pytest.raises(c.Reject) as err:
        c.set_duration(duration_pb2.Duration(), text, "", "d")
    assert err.value.stage == "validate"


def test_durations_become_bigquery_intervals():
    assert c.set_duration(duration_pb2.Duration(), "3600s", "", "d") == "0-0 0 1:0:0"
    assert c.set_duration(duration_pb2.Duration(), "90061.5s", "", "d") == "0-0 0 25:1:1.500000"
    assert c.set_duration(duration_pb2.Duration(), "-1.5s", "", "d") == "0-0 0 -0:0:1.500000"


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long-key-" * 20])
def test_pseudonymize_is_hmac_sha256(key):
    for value in ("555.1234", "", "åäö"):
        assert c.pseudonymize(value, key) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "fmt,value",
    [("%Y-%m-%d %H:%M:%S", "2024-03-31 02:30:00"), ("%d/%m/%Y %H:%M", "31/10/2024 02:30"), ("", "2024-06-02T20:05:13")],
)
def test_local_to_utc_matches_strptime(fmt, value):
    zone = ZoneInfo("Europe/Stockholm")
    local = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
    expected = local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    assert c.local_to_utc(value, zone, fmt, "", "t") == expected


def test_local_to_utc_out_of_range_is_a_reject():
    with pytest.raises(c.Reject) as err:
        c.local_to_utc("0001-01-01 00:30:00", ZoneInfo("Europe/Stockholm"), "%Y-%m-%d %H:%M:%S", "", "t")
    assert err.value.stage == "transform"


def test_local_to_utc_rejects_other_shapes():
    with pytest.raises(c.Reject) as err:
        c.local_to_utc("2024-06-02 20:05", ZoneInfo("Europe/Stockholm"), "%Y-%m-%d %H:%M:%S", "", "started")
    assert err.value.stage == "transform"


@pytest.mark.parametrize(
    "value,bq_type,expected",
    [("1432", "INT64", 1432), ("12.50", "NUMERIC", "12.5"), (2890, "NUMERIC", "2890"), ("true", "BOOL", True),
     ("2024-05-31", "DATE", "2024-05-31"), (1717173730000000, "TIMESTAMP", "2024-05-31T16:42:10Z"),
     ('{"a":1}', "JSON", '{"a":1}')],
)  # fmt: skip
def test_type_overrides(value, bq_type, expected):
    assert c.to_bq(value, bq_type, "", "x") == expected


@pytest.mark.parametrize(
    "value,bq_type",
    [("12x", "INT64"), ("NaN", "NUMERIC"), ("maybe", "BOOL"), ("2024-13-01", "DATE"), ("1e999999999", "NUMERIC"),
     ("1" * 30, "NUMERIC"), ("0.1234567891", "NUMERIC"), ("1" * 39, "BIGNUMERIC"), ("1" * 500, "NUMERIC")],
)  # fmt: skip
def test_bad_type_overrides_are_transform_errors(value, bq_type):
    with pytest.raises(c.Reject) as err:
        c.to_bq(value, bq_type, "", "x")
    assert err.value.stage == "transform"


def test_divide_keeps_money_exact():
    from decimal import Decimal

    assert c.divide(2890, Decimal("100"), "NUMERIC", "", "x") == "28.9"
    assert c.divide(-5, Decimal("100"), "FLOAT64", "", "x") == -0.05
    assert c.divide(1, Decimal("3"), "NUMERIC", "", "x") == "0.333333333"  # NUMERIC's scale
    assert c.to_bq("1" * 29 + ".123456789", "NUMERIC", "", "x") == "1" * 29 + ".123456789"
    with pytest.raises(c.Reject):
        c.divide(10**40, Decimal("1"), "NUMERIC", "", "x")
    with pytest.raises(c.Reject):
        c.divide(10**400, Decimal("1"), "FLOAT64", "", "x")


def test_local_to_utc_reads_ascii_digits_only():
    with pytest.raises(c.Reject) as err:
        c.local_to_utc("٢٠٢٤-06-02 20:05:00", ZoneInfo("Europe/Stockholm"), "%Y-%m-%d %H:%M:%S", "", "t")
    assert err.value.stage == "transform"


@pytest.mark.parametrize("micros", [10**30, -(10**20), 2**62])
def test_timestamp_override_out_of_range_is_a_reject(micros):
    with pytest.raises(c.Reject) as err:
        c.to_bq(micros, "TIMESTAMP", "", "x")
    assert err.value.stage == "transform"


def test_gather_builds_elements_in_index_order():
    import re

    from datahem.compiler.options.indexed import keys_pattern

    rx = re.compile(keys_pattern(["pr", "cd", "promo"]))
    fields = {"pr": ("index", ""), "cd": ("index", "value"), "promo": ("", "")}
    d = {"pr2id": "b", "pr10nm": "x", "pr1id": "a", "pr1qt": "2", "pr": "-", "pr3": "no suffix", "pa": "purchase"}
    assert c.gather(d, frozenset(["pa"]), rx, fields) == (
        {"pr": [{"index": 1, "id": "a", "qt": "2"}, {"index": 2, "id": "b"}, {"index": 10, "nm": "x"}]},
        ["pr", "pr3"],
    )
    # the object's own fields are known (cd1 beside cd<index>); `cd` has no index, ten digits are too many
    d = {"cd1": "named", "cd3": "x", "cd": "Home", "cd20": "y", "cd1234567890": "too long an index", "promo2id": "p"}
    assert c.gather(d, frozenset(["cd1"]), rx, fields) == (
        {"cd": [{"index": 3, "value": "x"}, {"index": 20, "value": "y"}], "promo": [{"id": "p"}]},
        ["cd", "cd1234567890"],
    )
    assert c.gather({"v": "1"}, frozenset(), rx, fields) == ({}, ["v"])


def test_gather_remembers_each_key_for_its_own_pattern_and_fields():
    """What a key was cut into is kept per message (pattern and fields): the same key under the same pattern with
    other fields is cut again, and a full memory, or a key too long to keep, changes no answer."""
    import re

    rx = re.compile("^(cd|cm)([0-9]{1,9})([^0-9].*)?$")
    one = {"cd": ("index", "value"), "cm": ("index", "value")}
    other = {"cd": ("", "v"), "cm": ("n", "")}
    d = {"cd1": "a", "cm2": "b", "cd1x": "c", "q": "d"}
    for _ in range(2):
        assert c.gather(d, frozenset(), rx, one) == (
            {"cd": [{"index": 1, "value": "a", "x": "c"}], "cm": [{"index": 2, "value": "b"}]},
            ["q"],
        )
        assert c.gather(d, frozenset(), rx, other) == ({"cd": [{"v": "a", "x": "c"}]}, ["cm2", "q"])
    long = "cd7" + "x" * (c._GATHER_KEY_LENGTH + 1)  # noqa: SLF001
    many = {f"cd{i}": i for i in range(c._GATHER_KEYS_MAX + 10)}  # noqa: SLF001
    assert c.gather({long: 1}, frozenset(), rx, one) == ({"cd": [{"index": 7, long[3:]: 1}]}, [])
    indexed, unknown = c.gather(many, frozenset(), rx, one)
    assert [e["index"] for e in indexed["cd"]] == list(range(c._GATHER_KEYS_MAX + 10)) and not unknown  # noqa: SLF001
    assert c.gather(d, frozenset(), rx, one)[0]["cd"] == [{"index": 1, "value": "a", "x": "c"}]


_INDEXED = {"pr": ("index", ""), "promo": ("index", ""), "cd": ("index", "value"), "p": ("", "")}
_KEYS = ["pr1id", "promo1id", "p1x", "pr1", "cd1", "cd01", "cd1\n", "pr1id\n", "pr1\n", "prx1id", "p12", "cd1a"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_KEYS) | st.text(alphabet="prcdomx1209_é\n", max_size=14), max_size=12, unique=True))
def test_gather_takes_the_keys_each_prefix_s_own_pattern_takes(keys):
    """One pass for all the prefixes of a message gathers what one pattern per prefix did (the letters before the
    index are the prefix: prefixes are letters only), ten-digit indexes included; a key with a newline in it or
    after it (`pr1id\\n`) is no indexed parameter, but an unknown key."""
    import re

    from datahem.compiler.options.indexed import keys_pattern

    rx = re.compile(keys_pattern(list(_INDEXED)))
    d = {key: i for i, key in enumerate(keys)}
    indexed, unknown = c.gather(d, frozenset(), rx, _INDEXED)
    taken_by_any = set()
    for prefix, (index_field, value_field) in _INDEXED.items():
        own = re.compile(f"^{prefix}([0-9]{{1,9}})([^0-9].*){'?' if value_field else ''}\\Z")
        by_index: dict[int, dict] = {}
        for key in keys:
            m = own.match(key)
            if m is not None:
                taken_by_any.add(key)
                index, suffix = m.groups()
                element = by_index.setdefault(int(index), {index_field: int(index)} if index_field else {})
                element[suffix or value_field] = d[key]
        assert indexed.get(prefix, []) == [by_index[n] for n in sorted(by_index)], prefix
    assert unknown == [key for key in keys if key not in taken_by_any]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=2000, deadline=None)
@given(JSON_VALUES)
def test_json_text_is_what_the_json_module_writes(value):
    """The JSON columns (Struct, Value, unknown fields) are written by orjson where it writes the json module's text:
    the same text for every value, numbers below 1e-4 and integers beyond 64 bits included."""
    assert c.json_text(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("value", [1e-5, -1.234e-5, 1e-7, 5e-324, 1e16, 1e22, 0.0001, 2**64, -(2**63) - 1, "1e-7"])
def test_json_text_of_numbers_orjson_writes_otherwise(value):
    assert c.json_text([value]) == json.dumps([value], separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_struct_is_filled_as_protobufs_own_update(value):
    """set_struct fills the Struct itself (protobuf's Struct.update is several times slower): the same message."""
    ours, theirs = struct_pb2.Struct(), struct_pb2.Struct()
    try:
        theirs.update(value)
    except (ValueError, TypeError, OverflowError) as exc:
        with pytest.raises(c.Reject, match="not a JSON value protobuf can hold"):
            c.set_struct(ours, value, "", "s")
        assert type(exc) is OverflowError
        return
    c.set_struct(ours, value, "", "s")
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


TIMESTAMP_LIKE = st.builds(
    lambda y, mo, d, h, mi, s, frac, end: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{end}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", "."]) | st.text("0123456789", min_size=1, max_size=10).map(lambda f: "." + f),
    st.sampled_from(["Z", "z", "", "+00:00", "-23:59", "+24:00", "Z "]),
)


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (c.Reject, ValueError, ArithmeticError, TypeError) as exc:
        return type(exc), str(exc)


@settings(max_examples=1000, deadline=None)
@given(TIMESTAMP_LIKE)
def test_utc_timestamps_read_as_any_timestamp(text):
    """set_timestamp reads UTC timestamps by a shorter path than set_any_timestamp: the same message, text or Reject."""
    ours, theirs = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    assert _outcome(c.set_timestamp, ours, text, "a.", "t") == _outcome(c.set_any_timestamp, theirs, text, "a.", "t")
    assert ours == theirs


@settings(max_examples=1000, deadline=None)
@given(TIMESTAMP_LIKE)
def test_timestamp_overrides_of_utc_text_as_any_timestamp(text):
    assert _outcome(c._timestamp, text) == _outcome(c._any_timestamp, text)


@settings(max_examples=1000, deadline=None)
@given(
    st.integers(min_value=-(2**64), max_value=2**64) | st.integers(-1000, 1000),
    st.integers(1, 10),
    st.sampled_from(["NUMERIC", "BIGNUMERIC", "FLOAT64"]),
    st.booleans(),
)
def test_integers_over_powers_of_ten_divide_as_any_value(value, k, bq_type, trailing_zero):
    """divide writes an integer over 10^k by its digits: the same text as divide_any, or the same Reject."""
    divisor = Decimal(f"{10**k}.0" if trailing_zero else str(10**k))
    assert _outcome(c.divide, value, divisor, bq_type, "", "x") == _outcome(
        c.divide_any, value, divisor, bq_type, "", "x"
    )


@settings(max_examples=2000, deadline=None)
@given(
    st.from_regex(r"\A-?[0-9]{1,40}(\.[0-9]{0,45})?\Z")
    | st.text(alphabet="-+.0123456789e_ ", max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["NUMERIC", "BIGNUMERIC"]),
)
def test_plain_decimal_text_is_numeric_as_any_value(text, bq_type):
    assert _outcome(c._numeric, text, bq_type) == _outcome(c._numeric_any, text, bq_type)


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(r"\A-?[0-9]{1,13}(\.[0-9]{0,10})?s?\Z") | st.text(alphabet="-.0123456789s ", max_size=8))
def test_whole_seconds_read_as_any_duration(text):
    ours, theirs = duration_pb2.Duration(), duration_pb2.Duration()
    assert _outcome(c.set_duration, ours, text, "", "d") == _outcome(c.set_any_duration, theirs, text, "", "d")
    assert ours == theirs
