"""Publish events to Pub/Sub and report success only once Pub/Sub has acknowledged them.

Every collector answers its sender (an HTTP client, SNS, the Kinesis checkpoint) only after the publish was acked,
so an acknowledged event is never lost. The google-cloud-pubsub client does the batching (many requests share one
Publish RPC) and the flow control; flow control raises instead of blocking, because a blocked event loop would stall
every other request: over the limit the sender gets a retryable error at once. Each publish is bounded by
`timeout_s` (the client's retry deadline, and an outer guard), so a hung Pub/Sub turns into a retryable error
instead of a hung request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import google.auth
import google.auth.exceptions
import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.publisher.exceptions import FlowControlLimitError
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

from datahem.runtime.collectors.config import env_float, env_int, env_required, env_str
from datahem.runtime.collectors.contract import Event
from datahem.runtime.collectors.errors import CollectorConfigError

log = logging.getLogger(__name__)

# The errors worth retrying within the deadline (the client library's own default list).
TRANSIENT_ERRORS = (
    gexc.Aborted,
    gexc.Cancelled,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.Unknown,
)


class PublishError(Exception):
    """Pub/Sub did not acknowledge every event in time; the sender should retry later."""


@dataclass(frozen=True)
class PublisherSettings:
    """How to reach Pub/Sub and how long to wait for it.

    Defaults suit a collector answering interactive clients: a 2 ms batching window (the asyncio publisher starts a
    topic's Publish RPCs at least that far apart; under load the batches fill while the previous one is in flight),
    10 s before giving up (clients, SNS and the Kinesis reader retry), and flow-control limits generous enough to
    bite only when Pub/Sub is down or slow.
    """

    project: str
    emulator_host: str | None = None
    timeout_s: float = 10.0
    retry_after_s: int = 5
    batch_max_messages: int = 100
    batch_max_bytes: int = 1_000_000
    batch_max_latency_s: float = 0.002
    flow_control_messages: int = 20_000
    flow_control_bytes: int = 200_000_000
    max_rpcs_per_topic: int = 1  # the asyncio publisher's Publish RPCs in flight per topic (see async_publisher.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str], batch_max_latency_s: float | None = None) -> PublisherSettings:
        """The settings from the environment; `batch_max_latency_s` is this collector's default batching window."""
        return cls(
            project=env_required(env, "GOOGLE_CLOUD_PROJECT", "it names the project that holds the Pub/Sub topics"),
            emulator_host=env_str(env, "PUBSUB_EMULATOR_HOST"),
            timeout_s=env_float(env, "DATAHEM_PUBLISH_TIMEOUT_SECONDS", cls.timeout_s, minimum=0.1),
            retry_after_s=env_int(env, "DATAHEM_RETRY_AFTER_SECONDS", cls.retry_after_s, minimum=1),
            batch_max_latency_s=env_float(
                env, "DATAHEM_BATCH_MAX_LATENCY_SECONDS", batch_max_latency_s or cls.batch_max_latency_s
            ),
            flow_control_messages=env_int(env, "DATAHEM_FLOW_CONTROL_MESSAGES", cls.flow_control_messages, 1),
            max_rpcs_per_topic=env_int(env, "DATAHEM_MAX_RPCS_PER_TOPIC", cls.max_rpcs_per_topic, 1),
        )

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"


def check_credentials(settings: PublisherSettings) -> None:
    """Fail at start-up, not at the first event, when real Pub/Sub is to be used without credentials."""
    if settings.emulator_host:
        return
    try:
        google.auth.default(scopes=["https://www.googleapis.com/auth/pubsub"])
    except google.auth.exceptions.DefaultCredentialsError:
        raise CollectorConfigError(
            "no Google Application Default Credentials to publish to Pub/Sub with; run "
            "`gcloud auth application-default login`, or set PUBSUB_EMULATOR_HOST to use the emulator"
        ) from None


def make_client(settings: PublisherSettings) -> pubsub_v1.PublisherClient:
    """A publisher client for the settings; the emulator is reached over plaintext gRPC, explicitly (not through
    the process-wide PUBSUB_EMULATOR_HOST), so two collectors in one process can target different endpoints."""
    retry = gretry.Retry(
        predicate=gretry.if_exception_type(*TRANSIENT_ERRORS),
        initial=0.05,
        maximum=1.0,
        multiplier=2.0,
        timeout=settings.timeout_s,
    )
    options = pubsub_v1.types.PublisherOptions(
        flow_control=pubsub_v1.types.PublishFlowControl(
            message_limit=settings.flow_control_messages,
            byte_limit=settings.flow_control_bytes,
            limit_exceeded_behavior=pubsub_v1.types.LimitExceededBehavior.ERROR,
        ),
        retry=retry,
        timeout=settings.timeout_s,
    )
    batching = pubsub_v1.types.BatchSettings(
        max_bytes=settings.batch_max_bytes,
        max_latency=settings.batch_max_latency_s,
        max_messages=settings.batch_max_messages,
    )
    check_credentials(settings)
    kwargs = {}
    if settings.emulator_host:
        kwargs["transport"] = PublisherGrpcTransport(channel=grpc.insecure_channel(settings.emulator_host))
    return pubsub_v1.PublisherClient(batching, options, **kwargs)


class EventPublisher:
    """Publishes events and tracks the ones in flight, so `close()` can wait for them (graceful shutdown)."""

    def __init__(self, settings: PublisherSettings, client: pubsub_v1.PublisherClient | None = None) -> None:
        self.settings = settings
        self._client = client or make_client(settings)
        self._pending: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, event: Event) -> concurrent.futures.Future:
        """Hand one event to the client; raises PublishError at once when flow control or shutdown refuses it."""
        if self._closed:
            raise PublishError("the publisher is shutting down")
        try:
            future = self._client.publish(self.settings.topic_path(event.topic), event.data, **event.attributes)
        except FlowControlLimitError as err:
            raise PublishError(f"publisher flow control: {err}") from None
        except RuntimeError as err:  # the client was stopped concurrently
            raise PublishError(str(err)) from None
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._pending.discard(future)

    async def publish(self, events: Sequence[Event]) -> list[str]:
        """Publish every event; return their message ids once all are acked, else raise PublishError."""
        futures = [asyncio.wrap_future(self.submit(e)) for e in events]
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), self.settings.timeout_s + 1.0))
        except TimeoutError:
            raise PublishError(f"Pub/Sub did not acknowledge within {self.settings.timeout_s}s") from None
        except PublishError:
            raise
        except Exception as err:  # noqa: BLE001  (any client error means "not acknowledged")
            raise PublishError(f"Pub/Sub publish failed: {type(err).__name__}: {err}") from None
        finally:
            for f in futures:
                f.cancel()  # detaches the asyncio wrappers; the client's own futures finish on their own

    def publish_blocking(self, events: Sequence[Event]) -> list[str]:
        """The same for synchronous callers (the SNS function, the Kinesis reader)."""
        futures = [self.submit(e) for e in events]
        try:
            return [f.result(timeout=self.settings.timeout_s + 1.0) for f in futures]
        except concurrent.futures.TimeoutError:
            raise PublishError(f"Pub/Sub did not acknowledge within {self.settings.timeout_s}s") from None
        except Exception as err:  # noqa: BLE001
            raise PublishError(f"Pub/Sub publish failed: {type(err).__name__}: {err}") from None

    def close(self, timeout: float | None = None) -> int:
        """Flush every batch, wait for the publishes in flight, and return how many did not finish in time."""
        if self._closed:
            return 0
        self._closed = True
        self._client.stop()
        with self._lock:
            pending = list(self._pending)
        _, not_done = concurrent.futures.wait(pending, timeout or self.settings.timeout_s + 1.0)
        if not_done:
            log.warning("shutdown: %d publish(es) still unacknowledged", len(not_done))
        self._client.transport.close()
        return len(not_done)
