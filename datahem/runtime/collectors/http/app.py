"""The HTTP collector: an ASGI app (Cloud Run, or `datahem serve http`) that turns requests into Pub/Sub events.

Contract with the client: a 2xx means every event of the request was acknowledged by Pub/Sub; a 503 with
`Retry-After` means none may be relied on and the request should be retried (a retry can duplicate an event that
was in fact published; `uuid` differs then, so duplicates from client retries are not removed downstream, which is
the price of never losing an acknowledged event). Statuses: 404 unknown path, 405 method not routed, 413 body over
the route's limit, 415 a Content-Type the route's format cannot take, 400 malformed payload, 401 missing and 403
wrong credentials, 403 a browser origin the route does not allow, 408 a body not received within the table's
`limits.body_timeout_seconds` (the head's size and time are bounded by `server.LimitedHttpToolsProtocol`). GET answers with a 1x1 transparent GIF (the analytics pixel), POST/PUT with 204.

Run it with `uvicorn --factory --no-proxy-headers --http datahem.runtime.collectors.http.server:LimitedHttpToolsProtocol
datahem.runtime.collectors.http.app:create_app_from_env` (the collector,
not uvicorn, decides which X-Forwarded-For entry to trust: DATAHEM_TRUSTED_PROXY_HOPS). The factory reads the
routing table and the secrets once, and refuses to start (CollectorConfigError) when either is unusable. On shutdown
the server stops accepting, lets requests in flight finish (each waits for its own acks), then the publisher flushes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gc
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from datahem.runtime.collectors import netaddr
from datahem.runtime.collectors.async_publisher import AsyncEventPublisher
from datahem.runtime.collectors.config import env_float, env_int, env_str
from datahem.runtime.collectors.contract import TIMESTAMP, UUID, Clock, Event, event_attributes, uuid4
from datahem.runtime.collectors.http.auth import Authenticator, authenticators, take_parameter
from datahem.runtime.collectors.http.payloads import Malformed, payloads
from datahem.runtime.collectors.publisher import PublishError, PublisherSettings, check_credentials
from datahem.runtime.collectors.routing import (
    CHARSETS,
    CONTENT_TYPES,
    HEALTH_PATH,
    HttpLimits,
    HttpRoute,
    load_http_table,
)
from datahem.runtime.contracts.attributes import CLIENT_IP, USER_AGENT

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
USER_AGENT_MAX = 512
PREFLIGHT_MAX_AGE = "600"
DEFAULT_ROUTING_DIR = "generated/routing"
# The HTTP collector's batching window: a topic's Publish RPCs start at least this far apart (an event finding the
# topic idle leaves at once). Under load, a Publish RPC per 10 ms and topic carries the events of many requests; each
# RPC costs the collector 0.2 to 0.5 ms of CPU (and the emulator 0.5 to 2.5 ms), so more RPCs cost more than they save.
BATCH_MAX_LATENCY_S = 0.010
# Clients come back: remembering an address' anonymised form costs less than checking the address again.
_anonymize = functools.lru_cache(maxsize=4096)(netaddr.anonymize)


@dataclass(frozen=True)
class HttpSettings:
    """Everything the HTTP collector needs besides its routing table and secrets.

    `trusted_proxy_hops`: how many proxies in front of the collector append to X-Forwarded-For (1 on Cloud Run);
    0 uses the socket peer.
    """

    publisher: PublisherSettings
    routing_dir: Path = Path(DEFAULT_ROUTING_DIR)
    trusted_proxy_hops: int = 0
    shutdown_timeout_s: float = 15.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HttpSettings:
        return cls(
            publisher=PublisherSettings.from_env(env, batch_max_latency_s=BATCH_MAX_LATENCY_S),
            routing_dir=Path(env_str(env, "DATAHEM_ROUTING_DIR", DEFAULT_ROUTING_DIR)),
            trusted_proxy_hops=env_int(env, "DATAHEM_TRUSTED_PROXY_HOPS", 0),
            shutdown_timeout_s=env_float(env, "DATAHEM_SHUTDOWN_TIMEOUT_SECONDS", cls.shutdown_timeout_s),
        )


class _Reject(Exception):
    def __init__(self, status: int, reason: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


class _Headers:
    """The request headers by lower-case name (ASGI lower-cases them; a repeated header keeps its last value)."""

    __slots__ = ("_raw",)

    def __init__(self, scope: dict) -> None:
        self._raw = dict(scope["headers"])

    def get(self, name: bytes) -> str | None:
        value = self._raw.get(name)
        return None if value is None else value.decode("latin-1")

    def raw(self, name: bytes) -> bytes | None:
        """The value exactly as sent (for credentials: compared as bytes, never through a text decoding)."""
        return self._raw.get(name)


class HttpCollector:
    """The ASGI application. Immutable after construction but for the publisher it owns."""

    def __init__(
        self,
        settings: HttpSettings,
        routes: Mapping[str, HttpRoute],
        auths: Mapping[str, Authenticator],
        publisher: AsyncEventPublisher,
        limits: HttpLimits | None = None,
    ) -> None:
        self.settings = settings
        # read by the server's protocol (server.LimitedHttpToolsProtocol) for the request head's bounds
        self.limits = limits or HttpLimits()
        self._routes = dict(routes)
        self._auths = dict(auths)
        self.publisher = publisher
        # The attributes of a route's events but for the receive time, the uuid and the extras, made and checked by
        # the contract once per route (its check of the extras' names too), not once per request.
        self._attributes = {
            path: event_attributes(
                uuid="",
                received_at=datetime.now(UTC),
                source=route.source,
                message_type=route.message_type,
                collector="http",
                extra={CLIENT_IP: "", USER_AGENT: ""},
            )
            for path, route in self._routes.items()
        }
        for attributes in self._attributes.values():
            del attributes[CLIENT_IP], attributes[USER_AGENT]
        self._clock = Clock()
        self._body_deadlines = _Deadlines(self.limits.body_timeout_seconds)

    @classmethod
    def create(cls, settings: HttpSettings, env: Mapping[str, str]) -> HttpCollector:
        """Load and check everything up front; raises CollectorConfigError (RoutingTableError) when unusable."""
        table = load_http_table(settings.routing_dir)
        auths = authenticators(table.routes, env)
        check_credentials(settings.publisher)
        return cls(settings, table.routes, auths, AsyncEventPublisher(settings.publisher), table.limits)

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Everything loaded so far (gRPC, protobuf, routing) lives as long as the process: exclude it from
                # garbage collection so each request's short-lived objects are cheap to collect.
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.publisher.close(self.settings.shutdown_timeout_s)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive, send) -> None:
        received_at = self._clock.now()
        path, method = scope["path"], scope["method"]
        if path == HEALTH_PATH:
            if method in ("GET", "HEAD"):
                await _respond(send, 200, b"ok\n")
            else:
                await _respond(send, 405, b"method not allowed\n", ((b"allow", b"GET, HEAD"),))
            return
        route = self._routes.get(path)
        if route is None:
            await _respond(send, 404, b"no route for this path\n")
            return
        headers = _Headers(scope)
        origin = headers.get(b"origin")
        cors = _cors_headers(route, origin)
        body: bytes | None = None
        try:
            if method == "OPTIONS":
                await _respond(send, 204, b"", _preflight(route, headers, origin))
                return
            if method not in route.methods:
                allow = ", ".join((*route.methods, "OPTIONS")).encode()
                raise _Reject(405, f"{method} is not routed here; allowed: {allow.decode()}", ((b"allow", allow),))
            if origin is not None and not cors:
                raise _Reject(403, f"origin {origin} is not allowed on this route")
            if method != "GET":
                _check_content_type(route.format, headers.raw(b"content-type"))
            body = await _read_body(headers, receive, route.max_body_bytes, self._body_deadlines)
            query = scope["query_string"]
            signed = query if method == "GET" else body
            auth = self._auths[path]
            in_query: tuple[bytes, ...] = ()
            if auth.query_parameter:  # the key's parameter is never part of a payload
                in_query, query = take_parameter(query, auth.query_parameter)
            failure = auth.check(headers.raw(auth.header) if auth.header else None, signed, in_query)
            if failure is not None:
                raise _Reject(failure.status, failure.reason)
            try:
                datas = payloads(route.format, method, query, body)
            except Malformed as err:
                raise _Reject(400, str(err)) from None
            events = self._events(path, route, scope, headers, datas, received_at)
            try:
                await self.publisher.publish(events)
            except PublishError as err:
                log.warning("503 on %s: %s", path, err)
                retry_after = str(self.settings.publisher.retry_after_s).encode()
                raise _Reject(503, "events not stored; retry later", ((b"retry-after", retry_after),)) from None
        except _Reject as rej:
            extra = rej.headers + cors
            if body is None and _has_body(headers) and rej.status != 408:
                extra += ((b"connection", b"close"),)  # answered before reading a body: do not wait for the rest
            await _respond(send, rej.status, rej.reason.encode() + b"\n", extra)
            return
        if method == "GET":
            headers = ((b"content-type", b"image/gif"), (b"cache-control", b"no-store"), *cors)
            await _respond(send, 200, PIXEL, headers, content_type=None)
        else:
            await _respond(send, 204, b"", cors)

    def _events(
        self, path: str, route: HttpRoute, scope: dict, headers: _Headers, datas: list[bytes], received_at: str
    ) -> list[Event]:
        """`received_at`: the receive time as the contract writes it (RFC 3339, microseconds, UTC)."""
        # The attributes of the request's events differ only by uuid: built once per request.
        common = {**self._attributes[path], TIMESTAMP: received_at}
        peer = scope["client"][0] if scope.get("client") else None
        address = netaddr.client_address(peer, headers.get(b"x-forwarded-for"), self.settings.trusted_proxy_hops)
        client_ip = _anonymize(address, route.ip_anonymization)
        if client_ip is not None:
            common[CLIENT_IP] = client_ip
        user_agent = headers.get(b"user-agent")
        if user_agent:
            common[USER_AGENT] = user_agent[:USER_AGENT_MAX]
        return [Event(route.topic, data, {**common, UUID: uuid4()}) for data in datas]


def _cors_headers(route: HttpRoute, origin: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """Headers that let a browser on an allowed origin read the response; empty when the origin is not allowed."""
    if origin is None or not (origin in route.cors_origins or "*" in route.cors_origins):
        return ()
    return ((b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"))


def _preflight(route: HttpRoute, headers: _Headers, origin: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """Answer an OPTIONS request: plain (no Origin) lists the methods; a CORS preflight must match the route."""
    methods = ", ".join((*route.methods, "OPTIONS")).encode()
    if origin is None:
        return ((b"allow", methods),)
    allow_origin = _cors_headers(route, origin)
    if not allow_origin:
        raise _Reject(403, f"origin {origin} is not allowed on this route")
    wanted = (headers.get(b"access-control-request-method") or "").upper()
    if wanted and wanted not in route.methods:
        raise _Reject(403, f"{wanted} is not routed here", allow_origin)
    allowed_headers = ["content-type"] + ([route.auth.header] if route.auth.type != "none" else [])
    return (
        *allow_origin,
        (b"access-control-allow-methods", methods),
        (b"access-control-allow-headers", ", ".join(allowed_headers).encode()),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
    )


def _check_content_type(fmt: str, value: bytes | None) -> None:
    """415 unless the body's declared media type is one the route's format takes (CONTENT_TYPES), with a UTF-8
    compatible charset if it names one; a body that declares no type is taken."""
    if value is None:
        return
    media_type, *parameters = value.decode("latin-1").split(";")
    media_type = media_type.strip().lower()
    accepted = CONTENT_TYPES[fmt]
    if media_type not in accepted:
        raise _Reject(
            415, f"Content-Type {media_type or '(empty)'} is not taken here; send one of {', '.join(accepted)}"
        )
    for parameter in parameters:
        name, _, charset = parameter.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in CHARSETS:
            raise _Reject(415, f"charset {charset.strip()} is not taken here; send {' or '.join(CHARSETS)}")


def _has_body(headers: _Headers) -> bool:
    """Whether the message's framing says a body follows (Content-Length over 0, or Transfer-Encoding)."""
    return headers.get(b"content-length") not in (None, "0") or headers.get(b"transfer-encoding") is not None


async def _read_body(headers: _Headers, receive, limit: int, deadlines: _Deadlines) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Reject(400, "invalid Content-Length")
        if int(declared) > limit:
            raise _Reject(413, f"body over this route's limit of {limit} bytes")
    if not _has_body(headers):
        return await _receive_body(receive, limit)  # no body by the message's framing: nothing to wait for
    task = deadlines.add()
    try:
        return await _receive_body(receive, limit)
    except asyncio.CancelledError:
        if not deadlines.expired(task):
            raise
        # close the connection: the rest of a slow body is not worth reading
        timeout_s = deadlines.timeout_s
        raise _Reject(408, f"body not received within {timeout_s:g} s", ((b"connection", b"close"),)) from None
    finally:
        deadlines.discard(task)


class _Deadlines:
    """The body time limit of every request reading its body, kept by one timer for all of them.

    `asyncio.timeout` per request armed and cancelled an event-loop timer each time (a few microseconds, as much as
    the rest of reading a body that came with its head). Here a request only notes its deadline; the one timer, armed
    when a deadline is noted and none runs, wakes at the earliest deadline noted then, cancels the requests past
    theirs, and is re-armed only while some are left. Deadlines are compared on the monotonic clock, so an early
    timer (the loop's have millisecond resolution) never cuts a body short."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._deadlines: dict[asyncio.Task, float] = {}
        self._expired: set[asyncio.Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self) -> asyncio.Task:
        task = asyncio.current_task()
        assert task is not None
        deadline = time.monotonic() + self.timeout_s
        self._deadlines[task] = deadline
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self._wake)
        return task

    def discard(self, task: asyncio.Task) -> None:
        self._deadlines.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task) -> bool:
        """Whether the cancellation the task got was its deadline's (then it is taken back)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _wake(self) -> None:
        self._timer = None
        now = time.monotonic()
        earliest = None
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._expired.add(task)
                task.cancel()
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._timer = asyncio.get_running_loop().call_later(earliest - now, self._wake)


async def _receive_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Reject(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Reject(413, f"body over this route's limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send,
    status: int,
    body: bytes,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    content_type: bytes | None = b"text/plain; charset=utf-8",
) -> None:
    out = [*headers] if status == 204 else [(b"content-length", str(len(body)).encode()), *headers]
    if content_type is not None and body:
        out.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: HttpSettings, env: Mapping[str, str]) -> HttpCollector:
    return HttpCollector.create(settings, env)


def create_app_from_env() -> HttpCollector:
    """The uvicorn factory for deployments: everything from the process environment."""
    env = dict(os.environ)
    return HttpCollector.create(HttpSettings.from_env(env), env)
