"""The Pub/Sub attributes of an event, by the collector that publishes it: the contract's own (every collector sets
them) and each collector's extras. The collectors build attributes from these names
(`datahem.runtime.collectors.contract`); the compiler limits `from_attribute` to them, since a column filled from
an attribute no collector sets would always be NULL."""

from __future__ import annotations

UUID = "uuid"
TIMESTAMP = "timestamp"
SOURCE = "source"
MESSAGE_TYPE = "message_type"
COLLECTOR = "collector"
CONTRACT_ATTRIBUTES = (UUID, TIMESTAMP, SOURCE, MESSAGE_TYPE, COLLECTOR)

CLIENT_IP = "client_ip"  # HTTP: the client's address, after the route's ip_anonymization (absent with `drop`)
USER_AGENT = "user_agent"  # HTTP: the User-Agent header, truncated
KINESIS_SHARD_ID = "kinesis_shard_id"
KINESIS_SEQUENCE_NUMBER = "kinesis_sequence_number"
# the extras each collector may add, by collector (the source kind of the route)
EXTRA_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "http": (CLIENT_IP, USER_AGENT),
    "sns": (),
    "kinesis": (KINESIS_SHARD_ID, KINESIS_SEQUENCE_NUMBER),
}
COLLECTORS = tuple(EXTRA_ATTRIBUTES)


def attributes_of(collector: str) -> tuple[str, ...]:
    """Every attribute an event from this collector may carry."""
    return CONTRACT_ATTRIBUTES + EXTRA_ATTRIBUTES.get(collector, ())
