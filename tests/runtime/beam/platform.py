"""A local platform for pipeline tests: Pub/Sub topics and subscriptions and BigQuery datasets and tables created
from the model, on the real emulators; helpers to publish events and read back rows, dead letters and messages."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from datahem.compiler.model.resolved import Model
from datahem.dev import supervisor
from datahem.dev.layout import Layout
from datahem.runtime.bigquery import bigquery_client

PROJECT = "demo-project"


def publisher():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


def subscriber():
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


def create_topics(model: Model, test_subscriptions: bool = True) -> None:
    """Every message type's topic with its backup and enrichment subscriptions and its processed topic (as
    `datahem dev` creates them); plus a `<processed>.test` subscription to read the processed stream back."""
    supervisor.create_topics(os.environ["PUBSUB_EMULATOR_HOST"], Layout.from_model(model, PROJECT))
    if test_subscriptions:
        pub, sub = publisher(), subscriber()
        for t in model.tables:
            sub.create_subscription(
                name=sub.subscription_path(PROJECT, f"{t.processed_topic}.test"),
                topic=pub.topic_path(PROJECT, t.processed_topic),
            )


def bigquery(endpoint: str):
    return bigquery_client(PROJECT, endpoint)


def create_tables(model: Model, generated: Path, endpoint: str) -> None:
    """Datasets and tables from the generated schema JSON, as `datahem dev` creates them."""
    supervisor.create_tables(endpoint, Layout.from_model(model, PROJECT), generated)


def attributes(source: str, message_type: str, **extra: str) -> dict[str, str]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "uuid": str(uuid.uuid4()),
        "timestamp": now,
        "source": source,
        "message_type": message_type,
        "collector": "http",
        **extra,
    }


def publish(topic: str, data: bytes, attrs: dict[str, str]) -> str:
    pub = publisher()
    return pub.publish(pub.topic_path(PROJECT, topic), data, **attrs).result(timeout=30)


def query(endpoint: str, sql: str) -> list[dict]:
    return [dict(r.items()) for r in bigquery(endpoint).query(sql).result()]


def pull(subscription: str, max_messages: int = 100) -> list:
    sub = subscriber()
    path = sub.subscription_path(PROJECT, subscription)
    response = sub.pull(request={"subscription": path, "max_messages": max_messages}, timeout=10)
    if response.received_messages:
        sub.acknowledge(request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]})
    return [m.message for m in response.received_messages]


def wait_until(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
