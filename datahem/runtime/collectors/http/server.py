"""The HTTP collector's server protocol: uvicorn's httptools protocol with the request head bounded.

What uvicorn bounds natively: an idle keep-alive connection (`--timeout-keep-alive`, 5 s) and, for its h11 protocol
only, the size of an incomplete head (`h11_max_incomplete_event_size`). With httptools (what the collector runs: it
costs half the CPU of h11) a head may be of any size and take any time, and Cloud Run's front end is the only bound.
This subclass adds the two from the routing table's `limits` (http.json):

- a head (request line and headers) over `max_head_bytes`: 431 Request Header Fields Too Large;
- a head not complete `head_timeout_seconds` after its first byte: 408 Request Timeout (a new connection that sends
  nothing at all within that time is closed without an answer, as an idle keep-alive one is).

Both answer with `connection: close`, close the connection and never reach the app. The body's time is bounded by the
app, which knows when it reads (408 after `body_timeout_seconds`). The limits come from the app served
(`HttpCollector.limits`); any other app gets the contract's defaults.

Use it with `uvicorn --http datahem.runtime.collectors.http.server:LimitedHttpToolsProtocol` (or `http=` the class).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from datahem.runtime.contracts.routing import HttpLimits

# what a request line adds to its method and target: the spaces, " HTTP/1.1" and the line ends
_LINE_OVERHEAD = len("  HTTP/1.1\r\n\r\n")


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal itself is in the protocol's `_refusal`."""


def limits_of(app: Any) -> HttpLimits:
    """The limits of the app uvicorn serves, looking through the middlewares uvicorn may wrap it in."""
    for _ in range(8):
        limits = getattr(app, "limits", None)
        if isinstance(limits, HttpLimits):
            return limits
        app = getattr(app, "app", None)
        if app is None:
            break
    return HttpLimits()


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config, server_state, app_state, _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits_of(self.app)
        self._awaiting_head = True  # between messages or inside a head
        self._head_bytes = 0  # bytes received while awaiting a head (an upper bound of the head so far)
        # One timer per connection, re-armed only when it fires (a timer armed and cancelled per request cost as
        # much as a tenth of the collector's CPU per request): it looks at the head in progress, if any.
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_deadline = 0.0  # time.monotonic() by which the head in progress must be complete
        self._fresh = True  # no head complete yet: the first head's time counts from the connection
        self._refusal: tuple[int, str] | None = None

    # connection events

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_started()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._awaiting_head:
            if not self._head_bytes and not self._fresh:  # the first bytes of a keep-alive connection's next head
                self._head_started()
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._awaiting_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse(431, f"request head over {self.limits.max_head_bytes} bytes")

    # parser callbacks

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        self._fresh = False
        size = len(self.parser.get_method()) + len(self.url) + _LINE_OVERHEAD
        size += sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_head_bytes:
            self._refusal = (431, f"request head over {self.limits.max_head_bytes} bytes")
            raise _Refused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True  # the next head's time starts with its first byte

    # the bounds

    def _head_started(self) -> None:
        """A head's time starts now: note its deadline, and arm the timer unless it runs already (it then looks at
        this deadline when it fires)."""
        self._head_deadline = time.monotonic() + self.limits.head_timeout_seconds
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._awaiting_head:
            return  # a body or a response is under way: the next head's first byte arms the timer again
        if not self._head_bytes and not self._fresh:
            return  # an idle keep-alive connection (uvicorn's keep-alive timeout closes it): likewise
        left = self._head_deadline - time.monotonic()
        if left > 0:  # a later head than the one the timer was armed for, or the loop's timer fired early (its
            # resolution is a millisecond): never refuse before time
            self._head_timer = self.loop.call_later(left, self._head_timed_out)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a response is still being made: close once it is sent
        elif self._head_bytes:
            self._refuse(408, f"request head not received within {self.limits.head_timeout_seconds:g} s")
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        self._awaiting_head = False
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        body = reason.encode() + b"\n"
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
