"""Rows that every pipeline writes besides the converted columns: transport metadata, dead letters, backups.

Column names and shapes here are those of datahem/compiler/model/resolved.py (METADATA_COLUMNS, BACKUP_COLUMNS,
DEAD_LETTER_COLUMNS); tests check that they agree with the generated schemas.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime


def rfc3339(value: object) -> str | None:
    """RFC 3339 UTC text of a Beam Timestamp, datetime, epoch seconds or an RFC 3339 / epoch-millis attribute."""
    if value is None or value == "":
        return None
    if hasattr(value, "to_utc_datetime"):
        value = value.to_utc_datetime(has_tz=True)
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        if value.isdigit():
            value = datetime.fromtimestamp(int(value) / 1000, UTC)
        else:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def attribute_list(attributes: Mapping[str, str] | None) -> list[dict]:
    return [{"key": k, "value": v} for k, v in sorted((attributes or {}).items())]


def metadata(attributes: Mapping[str, str], source: str, message_id: str | None, publish_time: object) -> dict:
    published = rfc3339(publish_time)
    return {
        "_uuid": attributes.get("uuid") or message_id,
        "_received_at": rfc3339(attributes.get("timestamp")) or published,
        "_source": attributes.get("source") or source,
        "_publish_time": published,
        "_attributes": attribute_list(attributes),
    }


def dead_letter(
    *,
    pipeline: str,
    stage: str,
    error: str,
    payload: bytes | None,
    attributes: Mapping[str, str] | None,
    publish_time: object = None,
    failed_at: datetime | None = None,
) -> dict:
    attributes = attributes or {}
    return {
        "uuid": attributes.get("uuid"),
        "source": attributes.get("source"),
        "message_type": attributes.get("message_type"),
        "pipeline": pipeline,
        "stage": stage,
        "error": error[:100_000],
        "payload": base64.b64encode(payload).decode("ascii") if payload is not None else None,
        "attributes": attribute_list(attributes),
        "publish_time": rfc3339(publish_time),
        "failed_at": rfc3339(failed_at or datetime.now(UTC)),
    }


def backup_row(data: bytes, attributes: Mapping[str, str], message_id: str | None, publish_time: object) -> dict:
    return {
        "message_id": message_id or attributes.get("uuid"),
        "uuid": attributes.get("uuid"),
        "source": attributes.get("source"),
        "message_type": attributes.get("message_type"),
        "payload": base64.b64encode(data).decode("ascii"),
        "attributes": attribute_list(attributes),
        "publish_time": rfc3339(publish_time),
        "received_at": rfc3339(attributes.get("timestamp")),
    }
