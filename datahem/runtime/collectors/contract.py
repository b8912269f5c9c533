"""The message contract on Pub/Sub, shared by every collector so attribute names can never drift apart.

Data is the JSON payload as received. Attributes: `uuid` (de-duplication key), `timestamp` (RFC 3339 UTC receive
time, microseconds, `Z`), `source`, `message_type`, `collector`. A collector may add a few explicit extra attributes
(never request headers copied wholesale), and it can never overwrite the contract's own names with them.
"""

from __future__ import annotations

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
