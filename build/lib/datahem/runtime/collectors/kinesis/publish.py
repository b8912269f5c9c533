"""Publish Kinesis records to Pub/Sub with the attribute contract (collector=kinesis).

`uuid` is a UUIDv5 of stream ARN, shard id and sequence number, so a record read twice (a retried bundle, a
replay from an older checkpoint) has the same id and is de-duplicated downstream. `timestamp` is the record's
ApproximateArrivalTimestamp, the time AWS received it (the same value on every replay). Two extra attributes,
`kinesis_shard_id` and `kinesis_sequence_number`, say where the record came from, which is also what a new reader
needs to resume exactly after it (ReaderSettings has no other external checkpoint).

A bundle succeeds only when Pub/Sub acknowledged every record of it; otherwise it fails and the runner retries it,
so the reader's checkpoint never moves past an unpublished record.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Mapping

import apache_beam as beam

from datahem.runtime.collectors.contract import Event, event_attributes
from datahem.runtime.collectors.kinesis.source import KinesisRecord
from datahem.runtime.collectors.publisher import EventPublisher, PublishError, PublisherSettings
from datahem.runtime.collectors.routing import KinesisStream

RECORD_NAMESPACE = uuid.UUID("0b6f5d0e-7c59-5d0f-8d2e-5a3c1e9b7f44")
MAX_PENDING = 5000


def record_uuid(record: KinesisRecord) -> str:
    return str(uuid.uuid5(RECORD_NAMESPACE, f"{record.stream_arn}/{record.shard_id}/{record.sequence_number}"))


def record_event(record: KinesisRecord, stream: KinesisStream) -> Event:
    return Event(
        stream.topic,
        record.data,
        event_attributes(
            uuid=record_uuid(record),
            received_at=record.arrival,
            source=stream.source,
            message_type=stream.message_type,
            collector="kinesis",
            extra={"kinesis_shard_id": record.shard_id, "kinesis_sequence_number": record.sequence_number},
        ),
    )


class PublishRecordsFn(beam.DoFn):
    def __init__(self, streams: Mapping[str, KinesisStream], settings: PublisherSettings) -> None:
        self._streams = dict(streams)
        self._settings = settings
        self._publisher: EventPublisher | None = None
        self._pending: list[concurrent.futures.Future] = []

    def setup(self) -> None:
        self._publisher = EventPublisher(self._settings)

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, record: KinesisRecord):
        self._pending.append(self._publisher.submit(record_event(record, self._streams[record.stream_arn])))
        if len(self._pending) >= MAX_PENDING:
            self._wait()  # back-pressure instead of tripping the client's flow control
        return []

    def finish_bundle(self) -> None:
        self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        timeout = self._settings.timeout_s + 1.0
        done, not_done = concurrent.futures.wait(pending, timeout=timeout)
        failed = [f for f in done if f.exception() is not None]
        if not_done or failed:
            reason = failed[0].exception() if failed else f"{len(not_done)} not acknowledged in {timeout}s"
            raise PublishError(f"{len(not_done) + len(failed)} of {len(pending)} records not published: {reason}")

    def teardown(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
