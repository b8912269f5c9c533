"""Unit tests of the converter helpers where proto3 JSON and BigQuery are strict in ways easy to get wrong."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

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

    from datahem.compiler.options.indexed import key_pattern

    products = re.compile(key_pattern("pr", "index"))
    d = {"pr2id": "b", "pr10nm": "x", "pr1id": "a", "pr1qt": "2", "pr": "-", "pr3": "no suffix", "pa": "purchase"}
    assert c.gather(d, list(d), products, "index", "") == [
        {"index": 1, "id": "a", "qt": "2"},
        {"index": 2, "id": "b"},
        {"index": 10, "nm": "x"},
    ]
    dims = re.compile(key_pattern("cd", "index", "value"))
    # only the keys given (the converter leaves out the object's own fields, cd1 beside cd<index>); `cd` has no index
    d = {"cd1": "named", "cd3": "x", "cd": "Home", "cd20": "y", "cd1234567890": "too long an index"}
    assert c.gather(d, [k for k in d if k != "cd1"], dims, "index", "value") == [
        {"index": 3, "value": "x"},
        {"index": 20, "value": "y"},
    ]
    assert c.gather({"v": "1"}, ["v"], dims, "index", "value") is None
