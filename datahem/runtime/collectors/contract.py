"""The message contract on Pub/Sub, shared by every collector so attribute names can never drift apart.

Data is the JSON payload as received. Attributes: `uuid` (de-duplication key), `timestamp` (RFC 3339 UTC receive
time, microseconds, `Z`), `source`, `message_type`, `collector`. A collector may add a few explicit extra attributes
(never request headers copied wholesale), and it can never overwrite the contract's own names with them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from datahem.runtime.contracts.attributes import (
    COLLECTOR,
    COLLECTORS,
    EXTRA_ATTRIBUTES,
    MESSAGE_TYPE,
    SOURCE,
    TIMESTAMP,
    UUID,
)


def rfc3339(moment: datetime) -> str:
    """`2026-11-27T07:00:00.123456Z`: fixed width, so the strings also sort in time order."""
    if moment.tzinfo is None:
        raise ValueError("receive times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Clock:
    """`rfc3339` of the current time, for a collector that stamps every request: the date and time of day are
    formatted once per second, the microseconds appended (strftime per request was a measurable share of it)."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        second, nanos = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{nanos // 1000:06d}Z"


def uuid4() -> str:
    """`str(uuid.uuid4())`, without building a UUID object: 122 random bits, version 4, RFC 4122 variant."""
    value = int.from_bytes(os.urandom(16)) & ~(0xF000 << 64 | 0xC000 << 48) | (0x4000 << 64 | 0x8000 << 48)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Event:
    """One Pub/Sub message to publish: the topic id (not the full path), the payload bytes and the attributes."""

    topic: str
    data: bytes
    attributes: Mapping[str, str]


def event_attributes(
    *,
    uuid: str,
    received_at: datetime,
    source: str,
    message_type: str,
    collector: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The attribute map of one event."""
    if collector not in COLLECTORS:
        raise ValueError(f"unknown collector {collector!r}")
    attributes = {
        UUID: uuid,
        TIMESTAMP: rfc3339(received_at),
        SOURCE: source,
        MESSAGE_TYPE: message_type,
        COLLECTOR: collector,
    }
    for key, value in (extra or {}).items():
        if key in attributes:
            raise ValueError(f"extra attribute {key!r} would overwrite a contract attribute")
        if key not in EXTRA_ATTRIBUTES[collector]:
            raise ValueError(f"extra attribute {key!r} is not one the {collector} collector declares")
        attributes[key] = value
    return attributes
