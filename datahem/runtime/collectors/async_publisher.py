"""An asyncio Pub/Sub publisher for the HTTP collector: batching, flow control and retries on the event loop.

Why not google-cloud-pubsub's PublisherClient here: it batches on threads (a timer thread and a new thread per
Publish RPC) and builds a proto-plus message per event; measured under 50 concurrent clients, that hand-off cost,
not Pub/Sub, held the collector to a third of a bare endpoint's throughput. The generated asyncio client costs
about half as much again per RPC as a plain gRPC stub (retry wrapper, proto-plus request), so this module calls
`google.pubsub.v1.Publisher/Publish` on a channel made by the library's own transport (same endpoint, same
Application Default Credentials and scopes) and keeps the same guarantees itself:

- Batching with bounded latency: a topic's Publish RPCs start at least `batch_max_latency_s` apart, and one is in
  flight at a time (`max_rpcs_per_topic`). An event that finds its topic idle (no RPC started within that window,
  none in flight) leaves at once, together with whatever the same turn of the event loop enqueued; otherwise it joins
  the pending batch, which leaves when the window since the last RPC's start has passed and the RPC in flight has
  returned, up to `batch_max_messages` / `batch_max_bytes` per RPC (a full batch is sent without waiting). So a
  lightly loaded collector adds no batching delay at all, a loaded one sends at most one RPC per window and topic
  (every RPC saved is CPU saved: 0.2 to 0.5 ms in this process per RPC), and an event waits at most the window plus
  the RPC in flight. (Counting the window from a batch's first event instead made every request of a closed-loop
  client wait the whole window: the load's requests arrive in bursts right after the previous batch's answers.)
- Flow control: more than `flow_control_messages` / `flow_control_bytes` unacknowledged events makes `publish`
  refuse at once (the client gets a 503 and retries) instead of queueing without bound.
- Retries: transient gRPC errors are retried with exponential backoff until `timeout_s` after the first attempt.
- A publish resolves only when Pub/Sub acknowledged its events, and fails (PublishError) after `timeout_s`.
- `close()` flushes what is buffered and waits for every RPC in flight (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence

import grpc
from google.pubsub_v1.services.publisher.transports import PublisherGrpcAsyncIOTransport
from google.pubsub_v1.types import PublishRequest, PublishResponse, PubsubMessage

from datahem.runtime.collectors.contract import Event
from datahem.runtime.collectors.publisher import PublishError, PublisherSettings

log = logging.getLogger(__name__)

_RawMessage = PubsubMessage.pb()
_RawRequest = PublishRequest.pb()
_RawResponse = PublishResponse.pb()
PUBLISH_METHOD = "/google.pubsub.v1.Publisher/Publish"
# Pub/Sub accepts up to 1,000 messages and 10 MB per Publish request.
MAX_RPC_MESSAGES = 1000
# The status codes the client library retries for Publish.
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
    }
)
# The generated transport's channel options (no client-side size limit: Pub/Sub enforces its own; keep-alive).
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 30000),
]
BACKOFF_INITIAL_S = 0.05
BACKOFF_MAX_S = 1.0
# A timer may fire this much before its time (the loop's clock resolution); the batch counts as due then.
TIMER_SLACK_S = 0.0005


class _Waiter:
    """One `publish` call: its future resolves with every event's message id once the last one is acknowledged."""

    __slots__ = ("future", "ids", "remaining")

    def __init__(self, future: asyncio.Future, count: int) -> None:
        self.future = future
        self.ids: list[str] = [""] * count
        self.remaining = count


class _Batch:
    """The messages of one Publish RPC, and for each the waiter and the index of its event in that waiter."""

    __slots__ = ("messages", "owners", "size", "nbytes", "due", "guard")

    def __init__(self) -> None:
        self.guard: asyncio.TimerHandle | None = None  # the outer guard of the batch's requests (see `_expire`)
        self.due = 0.0  # loop time when the batch may leave: batch_max_latency_s after the last RPC's start
        self.messages: list = []
        self.owners: list[tuple[_Waiter, int]] = []
        self.size = 0  # serialized size, for batch_max_bytes
        self.nbytes = 0  # payload bytes, for flow control


class _Topic:
    """The buffer and the RPC in flight of one topic."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.metadata = (("x-goog-request-params", f"topic={path}"),)
        self.pending = _Batch()
        self.in_flight: set[asyncio.Task] = set()
        self.flush_scheduled = False
        self.last_sent = float("-inf")  # loop time when the last Publish RPC of this topic started


class AsyncEventPublisher:
    """Publishes events from coroutines; use it from one event loop (it opens its channel there, lazily)."""

    def __init__(self, settings: PublisherSettings) -> None:
        self.settings = settings
        self._max_rpcs = settings.max_rpcs_per_topic
        self._channel: grpc.aio.Channel | None = None
        self._publish_rpc = None
        self._topics: dict[str, _Topic] = {}
        self._outstanding_messages = 0
        self._outstanding_bytes = 0
        self._closed = False

    def _rpc(self):
        if self._publish_rpc is None:
            if self.settings.emulator_host:
                self._channel = grpc.aio.insecure_channel(self.settings.emulator_host, options=CHANNEL_OPTIONS)
            else:
                self._channel = PublisherGrpcAsyncIOTransport.create_channel(options=CHANNEL_OPTIONS)
            self._publish_rpc = self._channel.unary_unary(
                PUBLISH_METHOD,
                request_serializer=_RawRequest.SerializeToString,
                response_deserializer=_RawResponse.FromString,
            )
        return self._publish_rpc

    async def publish(self, events: Sequence[Event]) -> list[str]:
        """Publish every event; return their message ids once all are acked, else raise PublishError.

        One future per call, not per event, and no timer of its own: the outer guard is the batch's (see `_expire`),
        so a request costs the same few objects however its events are batched."""
        if self._closed:
            raise PublishError("the publisher is shutting down")
        if not events:
            return []
        s = self.settings
        size = sum(len(e.data) for e in events)
        if (
            self._outstanding_messages + len(events) > s.flow_control_messages
            or self._outstanding_bytes + size > s.flow_control_bytes
        ):
            raise PublishError(
                f"flow control: {self._outstanding_messages} events ({self._outstanding_bytes} bytes) "
                "already wait for Pub/Sub"
            )
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), len(events))
        for index, event in enumerate(events):
            self._enqueue(loop, event, waiter, index)
        return await waiter.future

    def _enqueue(self, loop: asyncio.AbstractEventLoop, event: Event, waiter: _Waiter, index: int) -> None:
        topic = self._topics.get(event.topic)
        if topic is None:
            topic = self._topics[event.topic] = _Topic(self.settings.topic_path(event.topic))
        message = _RawMessage(data=event.data, attributes=event.attributes)
        size = message.ByteSize()
        if topic.pending.messages and (
            len(topic.pending.messages) >= min(self.settings.batch_max_messages, MAX_RPC_MESSAGES)
            or topic.pending.size + size > self.settings.batch_max_bytes
        ):
            self._send(loop, topic)
        pending = topic.pending
        if not pending.messages:
            now = loop.time()
            pending.due = max(now, topic.last_sent + self.settings.batch_max_latency_s)
            pending.guard = loop.call_at(now + self.settings.timeout_s + 1.0, _expire, pending, self.settings.timeout_s)
        pending.messages.append(message)
        pending.owners.append((waiter, index))
        pending.size += size
        pending.nbytes += len(event.data)
        self._outstanding_messages += 1
        self._outstanding_bytes += len(event.data)
        if not topic.flush_scheduled and len(topic.in_flight) < self._max_rpcs:
            topic.flush_scheduled = True
            loop.call_at(pending.due, self._flush, loop, topic)

    def _flush(self, loop: asyncio.AbstractEventLoop, topic: _Topic) -> None:
        topic.flush_scheduled = False
        self._send_when_due(loop, topic)

    def _send_when_due(self, loop: asyncio.AbstractEventLoop, topic: _Topic) -> None:
        """Send the pending batch once it is due (see `_Batch.due`) and an RPC slot is free; when
        not yet due, look again then (with no slot free, `_sent` looks again when an RPC returns)."""
        pending = topic.pending
        if not pending.messages or len(topic.in_flight) >= self._max_rpcs:
            return
        if loop.time() >= pending.due - TIMER_SLACK_S:
            self._send(loop, topic)
        elif not topic.flush_scheduled:
            topic.flush_scheduled = True
            loop.call_at(pending.due, self._flush, loop, topic)

    def _send(self, loop: asyncio.AbstractEventLoop, topic: _Topic) -> None:
        batch, topic.pending = topic.pending, _Batch()
        topic.last_sent = loop.time()
        task = loop.create_task(self._publish_batch(topic, batch))
        topic.in_flight.add(task)
        task.add_done_callback(lambda t: self._sent(loop, topic, t))

    def _sent(self, loop: asyncio.AbstractEventLoop, topic: _Topic, task: asyncio.Task) -> None:
        topic.in_flight.discard(task)
        self._send_when_due(loop, topic)

    async def _publish_batch(self, topic: _Topic, batch: _Batch) -> None:
        try:
            ids = await self._call_with_retry(topic, batch)
        except Exception as err:  # noqa: BLE001  (whatever went wrong, these events are not acknowledged)
            failure = err if isinstance(err, PublishError) else PublishError(f"{type(err).__name__}: {err}")
            log.warning("publish of %d event(s) to %s failed: %s", len(batch.messages), topic.path, failure)
            for waiter, _ in batch.owners:
                if not waiter.future.done():
                    waiter.future.set_exception(failure)
            return
        finally:
            if batch.guard is not None:
                batch.guard.cancel()
            # Flow control counts what Pub/Sub has not answered yet, whether or not its requests still wait.
            self._outstanding_messages -= len(batch.messages)
            self._outstanding_bytes -= batch.nbytes
        for (waiter, index), message_id in zip(batch.owners, ids, strict=True):
            waiter.ids[index] = message_id
            waiter.remaining -= 1
            if not waiter.remaining and not waiter.future.done():  # a request that timed out has answered 503
                waiter.future.set_result(waiter.ids)

    async def _call_with_retry(self, topic: _Topic, batch: _Batch) -> list[str]:
        request = _RawRequest(topic=topic.path, messages=batch.messages)
        deadline = time.monotonic() + self.settings.timeout_s
        delay = BACKOFF_INITIAL_S
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = await self._rpc()(request, timeout=max(remaining, 0.01), metadata=topic.metadata)
            except grpc.aio.AioRpcError as err:
                remaining = deadline - time.monotonic()
                if err.code() not in TRANSIENT_CODES or remaining <= 0:
                    raise PublishError(f"Pub/Sub publish failed: {err.code().name}: {err.details()}") from None
                await asyncio.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            ids = list(response.message_ids)
            if len(ids) != len(batch.messages):
                raise PublishError(f"Pub/Sub returned {len(ids)} ids for {len(batch.messages)} messages")
            return ids

    async def close(self, timeout: float | None = None) -> int:
        """Flush, wait for every RPC in flight, close the channel; returns how many RPCs did not finish."""
        if self._closed:
            return 0
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + (timeout or self.settings.timeout_s + 1.0)
        # Each finished RPC sends what accumulated behind it, so wait until no topic has anything left.
        while time.monotonic() < deadline:
            for topic in self._topics.values():
                if topic.pending.messages and not topic.in_flight:
                    self._send(loop, topic)
            tasks = [t for topic in self._topics.values() for t in topic.in_flight]
            if not tasks:
                break
            await asyncio.wait(tasks, timeout=max(deadline - time.monotonic(), 0))
        left = sum(len(t.in_flight) + bool(t.pending.messages) for t in self._topics.values())
        if left:
            log.warning("shutdown: %d publish RPC(s) to Pub/Sub did not finish in time", left)
        if self._channel is not None:
            await self._channel.close()
        return left


def _expire(batch: _Batch, timeout_s: float) -> None:
    """The outer guard of the requests in one batch, armed when its first event arrived (so never later than any
    request's own deadline would be): a request never waits much longer than the publish timeout, even when its
    events queue behind an RPC that is itself still retrying. One timer per batch, not per request: a timer costs
    the event loop a few microseconds, as much as the rest of a request's publishing."""
    batch.guard = None
    failure = PublishError(f"Pub/Sub did not acknowledge within {timeout_s}s")
    for waiter, _ in batch.owners:
        if not waiter.future.done():
            waiter.future.set_exception(failure)
