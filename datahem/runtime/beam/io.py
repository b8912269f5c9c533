"""I/O DoFns around the Google Cloud client libraries, so failed writes come back to the pipeline (and into the
dead-letter table) instead of failing silently or stalling, and the same code runs on Dataflow and against local
emulators.

- WriteRowsFn: BigQuery streaming inserts (`insert_rows_json`) in batches, with the row's uuid as insertId for
  best-effort de-duplication. Writes never stall on a bad row (`insert_isolating`):
  - rows BigQuery rejects one by one come back on the FAILED output with BigQuery's reason;
  - a request the API refuses as a whole for its content (400, 413) is split in halves until the refused rows are
    alone, and those come back on FAILED with the API's reason; every other row of the batch is written;
  - transient errors (408, 429, 5xx, quota/rate 403s, connection errors and time-outs) are retried with bounded
    exponential backoff, then raised, so the runner retries the bundle: nothing is acknowledged before it is
    written or dead-lettered. Any other refusal (401, 403, 404: configuration, not data) is raised at once.
- `json_row`: THE rule for values JSON cannot carry. Non-finite floats (NaN, ±infinity, also what `1e400` parses
  to) are sent as the JSON strings "NaN", "Infinity" and "-Infinity", which a FLOAT64 column stores as those
  values; a value that is not JSON at all (bytes, a datetime: a converter bug) makes its row a write dead letter.
  So every request is strict JSON (Python's json would send a bare `NaN` token, and BigQuery refuses the request).
- PublishFn: Pub/Sub publishes that wait for every ack before the bundle completes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import apache_beam as beam
import requests
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue
from google.auth.exceptions import TransportError

from datahem.runtime.bigquery import bigquery_client
from datahem.runtime.storage_write import Backoff

FAILED = "failed"
REJECTED = "BigQuery rejected the row"

NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def json_row(value: object) -> object:
    """A copy of a row (or any value in it) that `json.dumps(..., allow_nan=False)` accepts: non-finite floats as
    "NaN", "Infinity", "-Infinity" (BigQuery's FLOAT64 reads these strings as those values). Raises TypeError for
    a value JSON has no form for."""
    if value is None or value is True or value is False or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else NON_FINITE[value]
    if isinstance(value, dict):
        return {str(k): json_row(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_row(v) for v in value]
    raise TypeError(f"{type(value).__name__} is not a JSON value: {value!r:.200}")


# 403 reasons BigQuery gives for streaming quotas: they pass, unlike a missing permission.
TRANSIENT_403_REASONS = {"rateLimitExceeded", "quotaExceeded", "backendError"}
# What the API says about a request's content: split it to find the rows it is about.
CONTENT_STATUSES = {400, 413}


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth trying again: time-outs, throttling, server errors, and the connection failing."""
    status = _status(exc)
    if status is not None:
        if status == 403:
            reasons = {e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)}
            return bool(reasons & TRANSIENT_403_REASONS)
        return status in (408, 429) or status >= 500
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, TransportError, ConnectionError, TimeoutError))


def refuses_content(exc: BaseException) -> bool:
    return _status(exc) in CONTENT_STATUSES


def _call_with_backoff(call: Callable[..., list[dict]], args: tuple, backoff: Backoff, sleep: Callable[[float], None]):
    for delay in [*backoff.delays(), None]:
        try:
            return call(*args)
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            sleep(delay)
    raise AssertionError("unreachable")


def _row_reason(err: dict) -> str:
    reasons = "; ".join(
        f"{e.get('location') or 'row'}: {e.get('message') or e.get('reason')}" for e in err.get("errors", [])
    )
    return reasons or str(err)


def insert_isolating(
    insert: Callable[[list[dict], list], list[dict]],
    rows: Sequence[dict],
    row_ids: Sequence,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
) -> dict[int, str]:
    """Write `rows` through `insert(rows, row_ids) -> insertErrors` and return {index: reason} of the rows refused.

    A request refused as a whole for its content is split in halves until each refused row is alone (k bad rows in
    n cost about 2·k·log2(n) extra requests; a refused request writes nothing, so splitting never writes a row
    twice). Transient errors are retried with `backoff`, then raised; other errors are raised at once."""
    refused: dict[int, str] = {}
    pending = [(0, len(rows))]
    while pending:
        lo, hi = pending.pop()
        try:
            errors = _call_with_backoff(insert, (list(rows[lo:hi]), list(row_ids[lo:hi])), backoff, sleep)
        except Exception as exc:
            if not refuses_content(exc):
                raise
            if hi - lo == 1:
                refused[lo] = f"the write API refused the request with only this row: {exc}"
            else:
                mid = (lo + hi) // 2
                pending += [(mid, hi), (lo, mid)]
            continue
        for err in errors:
            refused[lo + int(err["index"])] = _row_reason(err)
    return refused


class WriteRowsFn(beam.DoFn):
    """Input: (row, context) pairs. Output FAILED: (context, reason) for each row BigQuery rejected."""

    def __init__(
        self,
        project: str,
        table: str,
        endpoint: str | None = None,
        batch_size: int = 500,
        backoff: Backoff = Backoff(),
        timeout: float = 60.0,
    ):
        self.project = project
        self.table = table
        self.endpoint = endpoint
        self.batch_size = batch_size
        self.backoff = backoff
        self.timeout = timeout
        self.rows_written = beam.metrics.Metrics.counter("datahem", f"rows_written:{table}")
        self.rows_failed = beam.metrics.Metrics.counter("datahem", f"rows_failed:{table}")

    def setup(self):
        self.client = bigquery_client(self.project, self.endpoint)
        self.table_ref = f"{self.project}.{self.table}"

    def start_bundle(self):
        self.buffer: list[tuple[dict, object, object, object]] = []

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        row, context = element
        self.buffer.append((row, context, window, timestamp))
        if len(self.buffer) >= self.batch_size:
            yield from self._flush(windowed=False)

    def finish_bundle(self):
        yield from self._flush(windowed=True)

    def _insert(self, rows: list[dict], row_ids: list) -> list[dict]:
        # retry=None: the only retries are insert_isolating's bounded ones (the client's default retries for 600 s).
        return self.client.insert_rows_json(
            self.table_ref, rows, row_ids=row_ids, skip_invalid_rows=True, retry=None, timeout=self.timeout
        )

    def _write(self, batch_rows: list[dict]) -> dict[int, str]:
        """Write the rows; {index: reason} of those refused."""
        failed: dict[int, str] = {}
        sendable: list[int] = []
        rows: list[dict] = []
        for i, row in enumerate(batch_rows):
            try:
                rows.append(json_row(row))  # type: ignore[arg-type]
                sendable.append(i)
            except TypeError as exc:
                failed[i] = f"the row is not JSON: {exc}"
        row_ids = [r.get("_uuid") or r.get("uuid") or r.get("message_id") for r in rows]
        refused = insert_isolating(self._insert, rows, row_ids, self.backoff)
        failed.update({sendable[j]: reason for j, reason in refused.items()})
        return failed

    def _flush(self, windowed: bool) -> Iterable:
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        failed = self._write([row for row, *_ in batch])
        self.rows_written.inc(len(batch) - len(failed))
        self.rows_failed.inc(len(failed))
        for i, reason in sorted(failed.items()):
            _, context, window, timestamp = batch[i]
            value = (context, f"{REJECTED}: {reason}")
            if windowed:
                value = WindowedValue(value, timestamp, [window])
            yield TaggedOutput(FAILED, value)


class StorageWriteRowsFn(WriteRowsFn):
    """WriteRowsFn through the Storage Write API (datahem/runtime/storage_write.py): the default stream, or with
    mode="committed" one committed stream per worker with offsets (a retried append is not written twice). Rows are
    encoded into the table's generated row message (generated/bigquery/<dataset>/<table>.row.txtpb) from the same
    row dicts; refused rows come back on FAILED with BigQuery's reason, as with insertAll."""

    def __init__(
        self,
        project: str,
        table: str,
        bigquery_dir: str,
        endpoint: str | None = None,
        mode: str = "default",
        batch_size: int = 500,
        backoff: Backoff = Backoff(),
        timeout: float = 60.0,
    ):
        super().__init__(project, table, None, batch_size, backoff, timeout)
        self.bigquery_dir = bigquery_dir
        self.storage_endpoint = endpoint
        self.mode = mode

    def setup(self):
        from datahem.runtime import storage_write
        from datahem.runtime.rowproto import RowEncoder

        encoder = RowEncoder.for_table(Path(self.bigquery_dir), self.table)
        self.writer = storage_write.StorageWriter(
            self.project,
            self.table,
            encoder,
            self.storage_endpoint,
            self.mode,
            backoff=storage_write.Backoff(
                self.backoff.attempts, self.backoff.first, self.backoff.factor, self.backoff.cap
            ),
            timeout=self.timeout,
        )

    def _write(self, batch_rows: list[dict]) -> dict[int, str]:
        return self.writer.write(batch_rows)

    def teardown(self):
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.close()


WRITE_METHODS = ("storage_write", "insert_all")


def write_rows_fn(
    method: str,
    project: str,
    table: str,
    endpoint: str | None,
    storage_endpoint: str | None,
    bigquery_dir: str,
    mode: str = "default",
) -> WriteRowsFn:
    """The row writer of a write method: `storage_write` (the Storage Write API, default) or `insert_all` (legacy
    streaming inserts)."""
    if method == "insert_all":
        return WriteRowsFn(project, table, endpoint)
    if method != "storage_write":
        raise ValueError(f"write method {method!r}: expected one of {', '.join(WRITE_METHODS)}")
    return StorageWriteRowsFn(project, table, bigquery_dir, storage_endpoint, mode)


class PublishFn(beam.DoFn):
    """Input: (topic id, data, attributes). Publishes and waits for every ack at the end of the bundle."""

    def __init__(self, project: str):
        self.project = project
        self.published = beam.metrics.Metrics.counter("datahem", "published")

    def setup(self):
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient()

    def start_bundle(self):
        self.futures = []

    def process(self, element):
        topic, data, attributes = element
        path = self.publisher.topic_path(self.project, topic)
        self.futures.append(self.publisher.publish(path, data, **attributes))

    def finish_bundle(self):
        for future in self.futures:
            future.result(timeout=120)
            self.published.inc()
        self.futures = []


def endpoint_from_env(explicit: str | None) -> str | None:
    """The BigQuery endpoint: an explicit option wins, then BIGQUERY_EMULATOR_HOST (host:port or URL)."""
    value = explicit or os.environ.get("BIGQUERY_EMULATOR_HOST")
    if value and "://" not in value:
        value = f"http://{value}"
    return value or None
