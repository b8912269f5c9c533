"""The SNS collector: one HTTPS endpoint for every SNS subscription, routed by a query-parameter value.

For each delivery: find the route (`?route=orders` → sns.json), check that the TopicArn is one the route allows,
verify the signature (see verify.py), then act on the message type, taken from the `x-amz-sns-message-type`
header or, when the header is absent, from the JSON `Type` (both must agree when both are present):

- Notification: publish `Message` to the route's topic with `uuid` = the SNS MessageId, so a redelivery by SNS
  is recognisably the same event. A `Message` that is a JSON array is a batch: one event per element, each with a
  uuid derived from the MessageId and its index (uuid5), so redeliveries of a batch de-duplicate as well. Any
  other `Message` is published byte for byte; whether it fits its message type is the pipeline's decision.
  200 only after Pub/Sub acknowledged; 503 otherwise, so SNS retries.
- SubscriptionConfirmation: after verification, GET the SubscribeURL (itself required to be https on an SNS host)
  to confirm; nothing is published.
- UnsubscribeConfirmation: acknowledged and logged; nothing is fetched (that would re-subscribe).

Every type is refused (403, nothing published or fetched) when its signed `Timestamp` is older than the route's
`max_age_seconds` (sns.json; `max_age` in sources.yaml, default one hour), so a captured delivery cannot be replayed.

Statuses: 405 not POST, 400 malformed (no route parameter, not JSON, missing fields), 404 unknown route,
413 oversized, 403 untrusted (wrong TopicArn, certificate host, signature) or too old, 503 AWS or Pub/Sub
unavailable.
The handler is framework-free (method, query, headers, body in; status, body, headers out); main.py adapts it to
functions-framework.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from datahem.runtime.collectors.config import env_float, env_int, env_str
from datahem.runtime.collectors.contract import Event, event_attributes
from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.publisher import EventPublisher, PublishError, PublisherSettings
from datahem.runtime.collectors.routing import SnsRoute, SnsTable, load_sns_table
from datahem.runtime.collectors.sns import verify
from datahem.runtime.collectors.sns.verify import (
    CertificateStore,
    CertPolicy,
    SignatureVerifier,
    Unavailable,
    Untrusted,
)

log = logging.getLogger(__name__)

MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
# SNS messages are at most 256 KB; JSON escaping inside the envelope can roughly double that.
DEFAULT_MAX_BODY = 1024 * 1024
BATCH_NAMESPACE = uuid.UUID("4f0d7a1e-5a3b-5b8e-9c1d-2b6f8e0a7c31")
_CONFIRMATION = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Signature",
    "SigningCertURL",
)
REQUIRED = {
    verify.NOTIFICATION: ("Message", "MessageId", "Timestamp", "TopicArn", "Signature", "SigningCertURL"),
    verify.SUBSCRIPTION_CONFIRMATION: _CONFIRMATION,
    verify.UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION,
}
TEST_ONLY_HOST_ENV = "DATAHEM_SNS_TEST_ONLY_CERT_HOST_PATTERN"
TEST_ONLY_CA_ENV = "DATAHEM_SNS_TEST_ONLY_CA_FILE"


@dataclass(frozen=True)
class SnsSettings:
    publisher: PublisherSettings
    routing_dir: Path = Path("generated/routing")
    cert_policy: CertPolicy = field(default_factory=CertPolicy)
    max_body_bytes: int = DEFAULT_MAX_BODY

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SnsSettings:
        policy = CertPolicy(timeout_s=env_float(env, "DATAHEM_SNS_FETCH_TIMEOUT_SECONDS", 5.0, minimum=0.1))
        host_pattern, ca_file = env_str(env, TEST_ONLY_HOST_ENV), env_str(env, TEST_ONLY_CA_ENV)
        if host_pattern or ca_file:
            try:
                pattern = re.compile(host_pattern) if host_pattern else policy.host_pattern
            except re.error as err:
                raise CollectorConfigError(f"{TEST_ONLY_HOST_ENV} is not a regular expression: {err}") from None
            log.warning(
                "TEST-ONLY SNS certificate policy in force (%s=%s, %s=%s): never set these in production",
                TEST_ONLY_HOST_ENV,
                host_pattern,
                TEST_ONLY_CA_ENV,
                ca_file,
            )
            policy = CertPolicy(host_pattern=pattern, ca_file=ca_file, timeout_s=policy.timeout_s)
        return cls(
            publisher=PublisherSettings.from_env(env),
            routing_dir=Path(env_str(env, "DATAHEM_ROUTING_DIR", "generated/routing")),
            cert_policy=policy,
            max_body_bytes=env_int(env, "DATAHEM_SNS_MAX_BODY_BYTES", DEFAULT_MAX_BODY, minimum=1024),
        )


@dataclass(frozen=True)
class SnsResponse:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def _reply(status: int, body: str, headers: tuple[tuple[str, str], ...] = ()) -> SnsResponse:
    return SnsResponse(status, body + "\n", (("Content-Type", "text/plain; charset=utf-8"), *headers))


def _staleness(timestamp: str, received_at: datetime, max_age_s: int) -> tuple[int, str] | None:
    """Status and reason when a verified message may not be taken by its signed `Timestamp` (SNS's time of
    publishing), or None: 403 older than the route's `max_age_seconds` (a captured delivery replayed later), 400 not
    a UTC timestamp."""
    try:
        published = datetime.fromisoformat(timestamp)
    except ValueError:
        published = None
    if published is None or published.utcoffset() is None:
        return 400, f"Timestamp {timestamp!r} is not an ISO 8601 UTC time"
    age = (received_at - published).total_seconds()
    if age > max_age_s:
        return 403, f"message older than this route's max_age of {max_age_s} s (published {timestamp}); not taken"
    return None


class SnsCollector:
    def __init__(
        self, settings: SnsSettings, table: SnsTable, publisher: EventPublisher, verifier: SignatureVerifier
    ) -> None:
        self.settings = settings
        self.table = table
        self.publisher = publisher
        self.verifier = verifier

    @classmethod
    def create(cls, settings: SnsSettings) -> SnsCollector:
        """Load the routing table (RoutingTableError when unusable) and the clients."""
        table = load_sns_table(settings.routing_dir)
        verifier = SignatureVerifier(CertificateStore(settings.cert_policy))
        return cls(settings, table, EventPublisher(settings.publisher), verifier)

    def close(self, timeout: float | None = None) -> int:
        return self.publisher.close(timeout)

    def handle(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes | None
    ) -> SnsResponse:
        """One delivery; `body` None means it was larger than the limit."""
        received_at = datetime.now(UTC)
        if method != "POST":
            return _reply(405, "SNS deliveries are POSTed", (("Allow", "POST"),))
        name = query.get(self.table.query_parameter)
        if not name:
            return _reply(400, f"missing the `{self.table.query_parameter}` query parameter")
        route = self.table.routes.get(name)
        if route is None:
            return _reply(404, f"no SNS route {name!r}")
        if body is None:
            return _reply(413, f"body over {self.settings.max_body_bytes} bytes")
        try:
            message = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _reply(400, "the body is not JSON")
        if not isinstance(message, dict):
            return _reply(400, "the body is not a JSON object")
        kind = message.get("Type")
        header_kind = headers.get(MESSAGE_TYPE_HEADER)
        if header_kind is not None and header_kind != kind:
            return _reply(400, f"{MESSAGE_TYPE_HEADER} {header_kind!r} differs from Type {kind!r}")
        if kind not in REQUIRED:
            return _reply(400, f"unknown SNS message type {kind!r}")
        missing = [k for k in REQUIRED[kind] if not isinstance(message.get(k), str)]
        if missing:
            return _reply(400, f"{kind} lacks {', '.join(missing)}")
        if message["TopicArn"] not in route.topic_arns:
            log.warning("route %s: rejected a message from topic %s", name, message["TopicArn"])
            return _reply(403, "this topic may not deliver to this route")
        try:
            self.verifier.verify(message)
        except Untrusted as err:
            log.warning("route %s: rejected an unverifiable %s: %s", name, kind, err)
            return _reply(403, f"signature not verified: {err}")
        except Unavailable as err:
            log.warning("route %s: cannot verify now: %s", name, err)
            return self._unavailable("cannot fetch the signing certificate")
        stale = _staleness(message["Timestamp"], received_at, route.max_age_seconds)
        if stale is not None:
            log.warning("route %s: refused %s %s: %s", name, kind, message.get("MessageId"), stale[1])
            return _reply(*stale)
        if kind == verify.NOTIFICATION:
            return self._notification(route, message, received_at)
        if kind == verify.SUBSCRIPTION_CONFIRMATION:
            return self._confirm(route, message)
        log.warning("route %s: topic %s unsubscribed this endpoint", name, message["TopicArn"])
        return _reply(200, "unsubscribe confirmation noted")

    def _unavailable(self, reason: str) -> SnsResponse:
        return _reply(503, reason, (("Retry-After", str(self.settings.publisher.retry_after_s)),))

    def _notification(self, route: SnsRoute, message: dict, received_at: datetime) -> SnsResponse:
        try:
            events = self._events(route, message, received_at)
            self.publisher.publish_blocking(events)
        except PublishError as err:
            log.warning("route %s: publishing message %s failed: %s", route.route, message["MessageId"], err)
            return self._unavailable("not stored; SNS will retry")
        return _reply(200, f"stored {len(events)} event(s)")

    def _events(self, route: SnsRoute, message: dict, received_at: datetime) -> list[Event]:
        text, message_id = message["Message"], message["MessageId"]
        records: list[tuple[str, bytes]] = [(message_id, text.encode("utf-8"))]
        if text.lstrip().startswith("["):
            try:
                batch = json.loads(text)
            except json.JSONDecodeError:
                batch = None
            if isinstance(batch, list) and batch:
                records = [
                    (
                        str(uuid.uuid5(BATCH_NAMESPACE, f"{message_id}/{i}")),
                        json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                    )
                    for i, item in enumerate(batch)
                ]
        return [
            Event(
                route.topic,
                data,
                event_attributes(
                    uuid=event_id,
                    received_at=received_at,
                    source=route.source,
                    message_type=route.message_type,
                    collector="sns",
                ),
            )
            for event_id, data in records
        ]

    def _confirm(self, route: SnsRoute, message: dict) -> SnsResponse:
        try:
            self.settings.cert_policy.get(message["SubscribeURL"], "SubscribeURL")
        except Untrusted as err:
            log.warning("route %s: not confirming: %s", route.route, err)
            return _reply(403, f"not confirming: {err}")
        except Unavailable as err:
            log.warning("route %s: confirming failed: %s", route.route, err)
            return self._unavailable("could not confirm the subscription")
        log.info("route %s: confirmed the subscription of %s", route.route, message["TopicArn"])
        return _reply(200, "subscription confirmed")
