"""A pure-Python Beam source for AWS Kinesis (a splittable DoFn on boto3), because Beam's own Kinesis IO is a
cross-language transform whose Java expansion service cannot be fetched in every environment.

One element per stream; its restriction is a StreamCheckpoint (shards.py). Each `process` call lists the shards,
reads every readable shard in turn with GetRecords, claims each record's sequence number before emitting it, marks
shards finished when Kinesis says they end (no NextShardIterator, or caught up at a closed shard's last sequence
number), and hands the rest back to the runner (`defer_remainder`) after `max_call_seconds`, or when every shard is
caught up. The runner checkpoints the restriction at that point, so a restart resumes after the last record
claimed (AFTER_SEQUENCE_NUMBER); records in flight when a bundle fails are read again, with the same `uuid`.

Element timestamps are the records' ApproximateArrivalTimestamp; the watermark is the oldest of the readable
shards' positions (a caught-up shard counts as "now" less `clock_skew_s`), never moving backwards.

Bounded runs (tests, backfills) stop after `stop_after_records` records, or after `stop_after_idle_s` seconds
without a new record; the default is to run forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration, Timestamp

from datahem.runtime.collectors.kinesis.shards import ShardInfo, StreamCheckpoint, is_at_or_after
from datahem.runtime.collectors.routing import KinesisStream

log = logging.getLogger(__name__)

MIN_ROUND_SECONDS = 0.2


@dataclass(frozen=True)
class ReaderSettings:
    """How the reader polls. Kinesis allows 5 GetRecords calls per second per shard; `poll_interval_s` paces the
    reader when it is caught up."""

    start_at: datetime | None = None  # read records that arrived from this time on; None: the oldest record
    start_after: tuple[tuple[str, str], ...] = ()  # (shard id, sequence number): resume right after these
    records_per_call: int = 1000
    max_call_seconds: float = 5.0
    poll_interval_s: float = 1.0
    clock_skew_s: float = 5.0
    stop_after_records: int | None = None
    stop_after_idle_s: float | None = None


@dataclass(frozen=True)
class KinesisRecord:
    stream_arn: str
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime


class CheckpointTracker(RestrictionTracker):
    """Claims are whole successor checkpoints: each step of progress (a record read, a shard finished, new shards
    found) is claimed as the next StreamCheckpoint. A checkpoint split hands the current one to the runner."""

    def __init__(self, restriction: StreamCheckpoint) -> None:
        self._current = restriction
        self._split = False

    def current_restriction(self) -> StreamCheckpoint:
        return self._current

    def try_claim(self, position: StreamCheckpoint) -> bool:
        if self._split or self._current.stopped:
            return False
        self._current = position
        return True

    def try_split(self, fraction_of_remainder):
        if self._split or self._current.stopped or fraction_of_remainder != 0:
            return None  # only checkpoints; shards are not read in parallel (see README: ordering over resharding)
        self._split = True
        primary, residual = replace(self._current, deferred=True), self._current
        self._current = primary
        return primary, residual

    def check_done(self) -> None:
        if not (self._split or self._current.stopped or self._current.deferred):
            raise ValueError("the Kinesis reader returned without a checkpoint or a stop")

    def is_bounded(self) -> bool:
        return self._current.stopped or self._current.deferred

    def current_progress(self) -> RestrictionProgress:
        done = 1.0 if self._current.stopped or self._current.deferred else 0.0
        return RestrictionProgress(completed=done, remaining=1.0 - done)


class CheckpointProvider(RestrictionProvider):
    def initial_restriction(self, element: KinesisStream) -> StreamCheckpoint:
        return StreamCheckpoint()

    def create_tracker(self, restriction: StreamCheckpoint) -> CheckpointTracker:
        return CheckpointTracker(restriction)

    def restriction_size(self, element, restriction) -> int:
        return 1

    def split(self, element, restriction) -> Iterator[StreamCheckpoint]:
        yield restriction

    def truncate(self, element, restriction):
        return None  # draining a streaming job stops reading; the next job resumes from its own start settings


class ReadKinesisFn(beam.DoFn):
    """Reads a stream; `client_factory(stream)` returns a boto3 Kinesis client (credentials.py builds one)."""

    def __init__(self, settings: ReaderSettings, client_factory: Callable[[KinesisStream], object]) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._clients: dict[str, object] = {}

    def _client(self, stream: KinesisStream):
        if stream.stream_arn not in self._clients:
            self._clients[stream.stream_arn] = self._client_factory(stream)
        return self._clients[stream.stream_arn]

    def process(
        self,
        stream: KinesisStream,
        tracker=beam.DoFn.RestrictionParam(CheckpointProvider()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ):
        settings = self._settings
        client = self._client(stream)
        state: StreamCheckpoint = tracker.current_restriction()
        if state.stopped:
            return
        shards = _list_shards(client, stream.stream_arn)
        discovered = _discover(state, shards, settings.start_after if not state.positions else ())
        if discovered != state:
            if not tracker.try_claim(discovered):
                return
            state = discovered
        iterators: dict[str, str] = {}
        shard_marks: dict[str, Timestamp] = {}
        started = time.monotonic()
        while True:
            got_records = False
            round_started = time.monotonic()
            for shard_id in state.readable(shards):
                if shard_id not in shards or state.position(shard_id).finished:
                    continue  # a relisting earlier in this round found it expired
                iterator = iterators.pop(shard_id, None) or _iterator(client, stream, state, shard_id, settings)
                response = client.get_records(
                    StreamARN=stream.stream_arn, ShardIterator=iterator, Limit=settings.records_per_call
                )
                fetched_at = datetime.now(UTC)
                for raw in response.get("Records", []):
                    next_state = state.advanced(shard_id, raw["SequenceNumber"])
                    limit = settings.stop_after_records
                    if limit is not None and next_state.records >= limit:
                        next_state = next_state.stop()
                    if not tracker.try_claim(next_state):
                        return
                    state = next_state
                    got_records = True
                    record = KinesisRecord(
                        stream.stream_arn,
                        shard_id,
                        raw["SequenceNumber"],
                        raw.get("PartitionKey", ""),
                        bytes(raw["Data"]),
                        raw["ApproximateArrivalTimestamp"].astimezone(UTC),
                    )
                    arrival = Timestamp.from_utc_datetime(record.arrival)
                    shard_marks[shard_id] = max(arrival, shard_marks.get(shard_id, Timestamp.of(0)))
                    yield beam.window.TimestampedValue(record, arrival)
                    if state.stopped:
                        log.info("%s: stopping after %d records", stream.stream_name, state.records)
                        return
                caught_up = response.get("MillisBehindLatest", 1) == 0
                if caught_up:
                    live = Timestamp.from_utc_datetime(fetched_at) - Duration(seconds=settings.clock_skew_s)
                    shard_marks[shard_id] = max(live, shard_marks.get(shard_id, Timestamp.of(0)))
                next_iterator = response.get("NextShardIterator")
                if not _ended(shards[shard_id], state, response, caught_up):
                    iterators[shard_id] = next_iterator
                    continue
                if not tracker.try_claim(finished := state.finished(shard_id)):
                    return
                state = finished
                shards = _list_shards(client, stream.stream_arn)
                discovered = _discover(state, shards)
                if discovered != state:
                    if not tracker.try_claim(discovered):
                        return
                    state = discovered
            _advance_watermark(watermark, state, shards, shard_marks)
            if got_records and state.readable(shards) and time.monotonic() - started < settings.max_call_seconds:
                # Kinesis allows 5 GetRecords calls per second per shard.
                time.sleep(max(0.0, MIN_ROUND_SECONDS - (time.monotonic() - round_started)))
                continue
            if got_records:
                tracker.defer_remainder(Duration(seconds=0))
                return
            # Caught up everywhere (or nothing readable): wait for new records, unless a bounded run is idle long enough.
            now = time.time()
            idle_limit = settings.stop_after_idle_s
            next_state = state.idle(now)
            if idle_limit is not None and now - next_state.idle_since >= idle_limit:
                next_state = next_state.stop()
                log.info("%s: stopping after %.1fs without records", stream.stream_name, idle_limit)
            if tracker.try_claim(next_state) and not next_state.stopped:
                tracker.defer_remainder(Duration(seconds=settings.poll_interval_s))
            return


def _ended(info: ShardInfo, state: StreamCheckpoint, response: dict, caught_up: bool) -> bool:
    """A shard ends when Kinesis returns no next iterator, or (closed shards, and services that keep returning
    iterators) when the reader is at or past its ending sequence number, or caught up with nothing left in it."""
    if response.get("NextShardIterator") is None:
        return True
    if info.ending_sequence is None:
        return False
    position = state.position(info.shard_id)
    at_end = position is not None and is_at_or_after(position.after, info.ending_sequence)
    return at_end or (caught_up and not response.get("Records"))


def _list_shards(client, stream_arn: str) -> dict[str, ShardInfo]:
    shards: dict[str, ShardInfo] = {}
    kwargs = {"StreamARN": stream_arn}
    while True:
        response = client.list_shards(**kwargs)
        for shard in response.get("Shards", []):
            info = ShardInfo.from_api(shard)
            shards[info.shard_id] = info
        token = response.get("NextToken")
        if not token:
            return shards
        kwargs = {"NextToken": token}


def _discover(
    state: StreamCheckpoint, shards: dict[str, ShardInfo], start_after: tuple[tuple[str, str], ...] = ()
) -> StreamCheckpoint:
    """Add new shards (at `start_after` positions when given, on the first listing); a known unfinished shard
    that is no longer listed expired (retention): finish it so its children are not blocked forever."""
    state = state.with_shards(shards.values(), dict(start_after))
    for position in state.positions:
        if not position.finished and position.shard_id not in shards:
            log.warning(
                "shard %s is no longer listed (past retention); continuing with its children", position.shard_id
            )
            state = state.finished(position.shard_id)
    return state


def _iterator(client, stream: KinesisStream, state: StreamCheckpoint, shard_id: str, settings: ReaderSettings) -> str:
    position = state.position(shard_id)
    kwargs = {"StreamARN": stream.stream_arn, "ShardId": shard_id}
    if position is not None and position.after is not None:
        kwargs |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": position.after}
    elif settings.start_at is not None:
        kwargs |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": settings.start_at}
    else:
        kwargs |= {"ShardIteratorType": "TRIM_HORIZON"}
    return client.get_shard_iterator(**kwargs)["ShardIterator"]


def _advance_watermark(estimator, state: StreamCheckpoint, shards, marks: dict[str, Timestamp]) -> None:
    readable = state.readable(shards)
    if not readable or any(s not in marks for s in readable):
        return  # a shard not read yet in this call could still hold older records
    candidate = min(marks[s] for s in readable)
    current = estimator.current_watermark()
    if current is None or candidate > current:
        estimator.set_watermark(candidate)
