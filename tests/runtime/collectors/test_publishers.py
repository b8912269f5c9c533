"""Both publishers against the emulator: acknowledged means on the topic, flow control refuses at once instead of
queueing without bound, and close() flushes what is still buffered."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from datahem.runtime.collectors.async_publisher import AsyncEventPublisher
from datahem.runtime.collectors.contract import Event
from datahem.runtime.collectors.publisher import EventPublisher, PublishError, PublisherSettings
from tests.runtime.collectors.conftest import PROJECT, emulator_process, frozen

pytestmark = pytest.mark.emulator

TOPIC = "test.collectors.Publisher"


def events(n: int) -> list[Event]:
    return [Event(TOPIC, f'{{"n": "{uuid.uuid4().hex}"}}'.encode(), {"uuid": uuid.uuid4().hex}) for _ in range(n)]


def test_async_close_flushes_buffered_events(pubsub):
    sub = pubsub.subscribe(TOPIC)
    settings = PublisherSettings(PROJECT, emulator_host=pubsub.host, batch_max_latency_s=5.0)  # would wait 5 s

    async def scenario() -> list:
        publisher = AsyncEventPublisher(settings)
        batch = events(50)
        tasks = [asyncio.create_task(publisher.publish([e])) for e in batch]
        await asyncio.sleep(0)  # the first is sent, the other 49 buffered: RPCs start 5 s apart
        started = time.monotonic()
        assert await publisher.close(timeout=10) == 0
        assert time.monotonic() - started < 4
        return [await t for t in tasks], batch

    ids, batch = asyncio.run(scenario())
    assert all(len(i) == 1 for i in ids)
    assert sorted(g.data for g in pubsub.pull(sub, 50)) == sorted(e.data for e in batch)


def test_async_flow_control_refuses_at_once(pubsub):
    settings = PublisherSettings(PROJECT, emulator_host=pubsub.host, timeout_s=5, flow_control_messages=5)

    async def scenario() -> None:
        publisher = AsyncEventPublisher(settings)
        waiting = [asyncio.create_task(publisher.publish([e])) for e in events(5)]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(PublishError, match="flow control"):
            await publisher.publish(events(1))
        assert time.monotonic() - started < 0.5
        await asyncio.gather(*waiting, return_exceptions=True)
        await publisher.close(timeout=5)

    with frozen(emulator_process(pubsub.host)):  # nothing gets acknowledged: the first 5 stay outstanding
        asyncio.run(scenario())


def test_threaded_publisher_acknowledges_or_fails_in_time(pubsub):
    sub = pubsub.subscribe(TOPIC)
    publisher = EventPublisher(PublisherSettings(PROJECT, emulator_host=pubsub.host, timeout_s=1.0))
    batch = events(20)
    assert len(publisher.publish_blocking(batch)) == 20
    assert sorted(g.data for g in pubsub.pull(sub, 20)) == sorted(e.data for e in batch)
    with frozen(emulator_process(pubsub.host)):
        started = time.monotonic()
        with pytest.raises(PublishError):
            publisher.publish_blocking(events(1))
        assert time.monotonic() - started < 5
    assert publisher.close(timeout=10) == 0
    with pytest.raises(PublishError, match="shutting down"):
        publisher.submit(events(1)[0])
