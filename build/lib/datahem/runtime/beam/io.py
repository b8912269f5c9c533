"""I/O DoFns around the Google Cloud client libraries, so failed writes come back to the pipeline (and into the
dead-letter table) instead of failing silently, and the same code runs on Dataflow and against local emulators.

- WriteRowsFn: BigQuery streaming inserts (`insert_rows_json`) in batches, with the row's uuid as insertId for
  best-effort de-duplication; rows BigQuery rejects are emitted on the FAILED output with BigQuery's reason.
  Transport errors raise, so the runner retries the bundle: nothing is acknowledged before it is written.
- PublishFn: Pub/Sub publishes that wait for every ack before the bundle completes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue

from datahem.runtime.bigquery import bigquery_client

FAILED = "failed"


class WriteRowsFn(beam.DoFn):
    """Input: (row, context) pairs. Output FAILED: (context, reason) for each row BigQuery rejected."""

    def __init__(self, project: str, table: str, endpoint: str | None = None, batch_size: int = 500):
        self.project = project
        self.table = table
        self.endpoint = endpoint
        self.batch_size = batch_size
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

    def _flush(self, windowed: bool) -> Iterable:
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        rows = [b[0] for b in batch]
        row_ids = [r.get("_uuid") or r.get("uuid") or r.get("message_id") for r in rows]
        errors = self.client.insert_rows_json(self.table_ref, rows, row_ids=row_ids, skip_invalid_rows=True)
        failed = {}
        for err in errors:
            reasons = "; ".join(
                f"{e.get('location') or 'row'}: {e.get('message') or e.get('reason')}" for e in err.get("errors", [])
            )
            failed[err["index"]] = reasons or json.dumps(err)
        self.rows_written.inc(len(rows) - len(failed))
        self.rows_failed.inc(len(failed))
        for i, reason in sorted(failed.items()):
            _, context, window, timestamp = batch[i]
            value = (context, f"BigQuery rejected the row: {reason}")
            if windowed:
                value = WindowedValue(value, timestamp, [window])
            yield TaggedOutput(FAILED, value)


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
