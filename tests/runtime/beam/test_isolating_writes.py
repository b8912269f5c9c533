"""Writes never stall: a request the write API refuses as a whole is split until the refused rows are alone,
transient errors are retried with bounded backoff and then raised, and every row sent is strict JSON (non-finite
floats as "NaN", "Infinity", "-Infinity"). Against a fake insert function; the real write path against the BigQuery
API emulator is in test_write_failures.py."""

from __future__ import annotations

import json
import math

import pytest
import requests
from google.api_core import exceptions as gexc

from datahem.runtime.beam.io import REJECTED, Backoff, WriteRowsFn, insert_isolating, json_row

NO_WAIT = Backoff(attempts=4, first=1.0, factor=2.0, cap=3.0)


class FakeInsert:
    """Refuses any request holding a row whose "bad" key is set (as BigQuery refuses a request that is not JSON);
    rows with "invalid" get a per-row insertError; `transient` failures come first, once per call."""

    def __init__(self, transient: list[Exception] | None = None):
        self.calls: list[list[str]] = []
        self.written: list[str] = []
        self.transient = list(transient or [])

    def __call__(self, rows, row_ids):
        self.calls.append(list(row_ids))
        if self.transient:
            raise self.transient.pop(0)
        if any(r.get("bad") for r in rows):
            raise gexc.BadRequest("POST /insertAll: Invalid JSON payload received. Unexpected token.")
        errors = [
            {"index": i, "errors": [{"reason": "invalid", "message": "no"}]}
            for i, r in enumerate(rows)
            if r.get("invalid")
        ]
        self.written += [i for i, r in zip(row_ids, rows, strict=True) if not r.get("invalid")]
        return errors


def _rows(n: int, bad=(), invalid=()):
    return [{"id": f"r{i}", "bad": i in bad, "invalid": i in invalid} for i in range(n)], [f"r{i}" for i in range(n)]


@pytest.mark.parametrize(("n", "bad"), [(1, {0}), (2, {1}), (7, {3}), (500, {0, 250, 499}), (64, set(range(0, 64, 2)))])
def test_refused_rows_are_isolated_and_the_others_written(n, bad):
    fake = FakeInsert()
    rows, ids = _rows(n, bad=bad)
    refused = insert_isolating(fake, rows, ids, NO_WAIT, sleep=lambda s: None)
    assert set(refused) == bad
    assert all("Invalid JSON payload" in reason for reason in refused.values())
    assert sorted(fake.written) == sorted(f"r{i}" for i in range(n) if i not in bad)
    assert len(fake.written) == len(set(fake.written))  # nothing written twice


def test_one_bad_row_in_500_costs_about_two_log_n_requests():
    fake = FakeInsert()
    rows, ids = _rows(500, bad={123})
    insert_isolating(fake, rows, ids, NO_WAIT, sleep=lambda s: None)
    assert len(fake.calls) <= 2 * math.ceil(math.log2(500)) + 1


def test_per_row_errors_keep_their_index_across_splits():
    fake = FakeInsert()
    rows, ids = _rows(10, bad={2}, invalid={7, 9})
    refused = insert_isolating(fake, rows, ids, NO_WAIT, sleep=lambda s: None)
    assert set(refused) == {2, 7, 9}
    assert refused[7] == "row: no"
    assert sorted(fake.written) == sorted(f"r{i}" for i in (0, 1, 3, 4, 5, 6, 8))


@pytest.mark.parametrize(
    "error",
    [
        gexc.InternalServerError("boom"),
        gexc.ServiceUnavailable("later"),
        gexc.TooManyRequests("slow down"),
        gexc.Forbidden("quota", errors=[{"reason": "quotaExceeded"}]),
        requests.ConnectionError("reset"),
        requests.Timeout("slow"),
    ],
)
def test_transient_errors_retry_with_backoff_then_succeed(error):
    sleeps: list[float] = []
    fake = FakeInsert(transient=[error, error, error])
    rows, ids = _rows(3)
    assert insert_isolating(fake, rows, ids, NO_WAIT, sleep=sleeps.append) == {}
    assert sleeps == [1.0, 2.0, 3.0]  # exponential, capped
    assert sorted(fake.written) == ids


def test_transient_errors_that_persist_are_raised_for_the_runner_to_retry():
    sleeps: list[float] = []
    fake = FakeInsert(transient=[gexc.ServiceUnavailable("down")] * 10)
    rows, ids = _rows(3)
    with pytest.raises(gexc.ServiceUnavailable):
        insert_isolating(fake, rows, ids, NO_WAIT, sleep=sleeps.append)
    assert len(fake.calls) == NO_WAIT.attempts and fake.written == []


@pytest.mark.parametrize(
    "error", [gexc.NotFound("no table"), gexc.Forbidden("denied", errors=[{"reason": "accessDenied"}])]
)
def test_configuration_errors_are_raised_at_once_never_dead_lettered(error):
    fake = FakeInsert(transient=[error])
    rows, ids = _rows(4)
    with pytest.raises(type(error)):
        insert_isolating(fake, rows, ids, NO_WAIT, sleep=lambda s: None)
    assert len(fake.calls) == 1


def test_non_finite_floats_become_the_strings_bigquery_reads_as_float64():
    row = {"a": math.nan, "b": math.inf, "c": -math.inf, "d": float("1e400"), "e": 1.5, "n": {"l": [math.nan, 2]}}
    out = json_row(row)
    assert out == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": "Infinity", "e": 1.5, "n": {"l": ["NaN", 2]}}
    json.dumps(out, allow_nan=False)  # strict JSON
    with pytest.raises(TypeError):
        json_row({"x": b"bytes"})


class FakeClient:
    def __init__(self):
        self.sent: list[str] = []

    def insert_rows_json(self, table, rows, row_ids, skip_invalid_rows, retry, timeout):
        body = json.dumps(rows)  # what google-cloud-bigquery does: a bare NaN token unless the row is strict JSON
        try:
            json.loads(body, parse_constant=lambda token: (_ for _ in ()).throw(ValueError(token)))
        except ValueError as exc:
            raise gexc.BadRequest(f"Invalid JSON payload received. Unexpected token: {exc}") from None
        self.sent += row_ids
        return []


def test_write_fn_sends_strict_json_and_dead_letters_what_is_not_json():
    fn = WriteRowsFn("p", "d.t", batch_size=10)
    fn.client, fn.table_ref = FakeClient(), "p.d.t"
    fn.start_bundle()
    fn.buffer = [
        ({"_uuid": "nan", "x": math.nan}, "c-nan", None, None),
        ({"_uuid": "ok", "x": 1.0}, "c-ok", None, None),
        ({"_uuid": "bytes", "x": b"\x00"}, "c-bytes", None, None),
    ]
    failed = [o.value for o in fn._flush(windowed=False)]
    assert fn.client.sent == ["nan", "ok"]
    assert failed == [("c-bytes", f"{REJECTED}: the row is not JSON: bytes is not a JSON value: b'\\x00'")]
