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


def test_wide_integers_are_read_then_rejected_by_field():
    d = c.parse_payload(b'{"n": 18446744073709551616}')
    with pytest.raises(c.Reject) as err:
        c.as_int(d["n"], c.UINT64, "a.", "n")
    assert str(err.value).startswith("a.n: integer 18446744073709551616 out of range")


@pytest.mark.parametrize("value,expected", [(5, 5), ("-7", -7), ("12", 12), (3.0, 3)])
def test_integers_as_numbers_or_strings(value, expected):
    assert c.as_int(value, c.INT32, "", "x") == expected


@pytest.mark.parametrize("value", [True, "1.5", "1e3", " 5", "5 ", "+5", "1_000", "٣", 2.5, None, [1]])
def test_integers_rejected(value):
    with pytest.raises(c.Reject):
        c.as_int(value, c.INT64, "", "x")


def test_floats_accept_proto3_words():
    assert c.as_float("Infinity", "", "x") == float("inf")
    assert c.as_float(3, "", "x") == 3.0
    with pytest.raises(c.Reject):
        c.as_float(True, "", "x")


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


@pytest.mark.parametrize("text", ["2024-02-30T00:00:00Z", "2024-05-31 16:42:10Z", "2024-05-31T24:00:00Z", "yesterday"])
def test_bad_timestamps(text):
    with pytest.raises(c.Reject) as err:
        c.set_timestamp(timestamp_pb2.Timestamp(), text, "x.", "t")
    assert err.value.path == "x.t"


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
    "value,bq_type", [("12x", "INT64"), ("NaN", "NUMERIC"), ("maybe", "BOOL"), ("2024-13-01", "DATE")]
)
def test_bad_type_overrides_are_transform_errors(value, bq_type):
    with pytest.raises(c.Reject) as err:
        c.to_bq(value, bq_type, "", "x")
    assert err.value.stage == "transform"


def test_divide_keeps_money_exact():
    from decimal import Decimal

    assert c.divide(2890, Decimal("100"), "NUMERIC", "", "x") == "28.9"
    assert c.divide(-5, Decimal("100"), "FLOAT64", "", "x") == -0.05
