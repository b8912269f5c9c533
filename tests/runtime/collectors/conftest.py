"""Fixtures for the collector tests: one real Pub/Sub emulator per session, one moto server per session, and helpers
to read back what the collectors published (a fresh subscription per test, so tests never see each other's events).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
import pytest
import uvicorn
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from datahem.runtime.collectors.http.server import LimitedHttpToolsProtocol
from tests.conftest import EXAMPLE
from tests.emulators import pubsub_emulator

PROJECT = "demo-project"
ROUTING = EXAMPLE / "generated" / "routing"


@dataclass(frozen=True)
class Received:
    data: bytes
    attributes: dict[str, str]

    def json(self):
        return json.loads(self.data)


class PubSub:
    """Admin and read-back helpers against the emulator (explicit plaintext channels, no process-wide state)."""

    def __init__(self, host: str, project: str = PROJECT) -> None:
        self.host = host
        self.project = project
        self.publisher = pubsub_v1.PublisherClient(
            transport=PublisherGrpcTransport(channel=grpc.insecure_channel(host))
        )
        self.subscriber = pubsub_v1.SubscriberClient(
            transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host))
        )

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def subscribe(self, topic: str) -> str:
        """Create the topic if needed and a fresh subscription on it; returns the subscription path."""
        with contextlib.suppress(gexc.AlreadyExists):
            self.publisher.create_topic(name=self.topic_path(topic))
        sub = f"projects/{self.project}/subscriptions/test-{uuid.uuid4().hex[:12]}"
        self.subscriber.create_subscription(name=sub, topic=self.topic_path(topic), ack_deadline_seconds=60)
        return sub

    def pull(self, subscription: str, expected: int, timeout: float = 20.0, settle: float = 0.5) -> list[Received]:
        """Pull and ack until `expected` messages arrived (then keep pulling for `settle` seconds to catch extras)
        or `timeout` passed; returns everything pulled."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < deadline:
            if len(got) >= expected:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
            try:
                with warnings.catch_warnings():  # return_immediately is deprecated but exactly what polling needs
                    warnings.simplefilter("ignore", DeprecationWarning)
                    resp = self.subscriber.pull(
                        subscription=subscription, max_messages=1000, return_immediately=True, timeout=5
                    )
            except gexc.DeadlineExceeded:
                continue
            if resp.received_messages:
                self.subscriber.acknowledge(
                    subscription=subscription, ack_ids=[m.ack_id for m in resp.received_messages]
                )
                got.extend(Received(m.message.data, dict(m.message.attributes)) for m in resp.received_messages)
            else:
                time.sleep(0.05)
        return got


@pytest.fixture(scope="session")
def pubsub() -> Iterator[PubSub]:
    """The real Pub/Sub emulator, started once; a missing emulator fails the tests (never skips them)."""
    with pubsub_emulator() as host, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBSUB_EMULATOR_HOST", host)
        mp.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
        yield PubSub(host)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto in server mode on a free localhost port (Kinesis, SNS, STS), with its dummy credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            mp.setenv(name, "testing")
        mp.delenv("AWS_PROFILE", raising=False)
        yield f"http://{host}:{port}"
    server.stop()


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class UvicornThread:
    """An ASGI app under a real uvicorn server on a free localhost port, in a thread (lifespan included)."""

    def __init__(self, app) -> None:
        self.sock = listening_socket()
        config = uvicorn.Config(
            app,
            http=LimitedHttpToolsProtocol,  # as deployed
            lifespan="on",
            proxy_headers=False,  # as deployed: the collector decides which X-Forwarded-For entry to trust
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 20.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def begin_shutdown(self) -> None:
        """What SIGTERM does: stop accepting, finish the requests in flight, then the lifespan shutdown."""
        self.server.should_exit = True

    def join(self, timeout: float = 20.0) -> None:
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not shut down")


@contextlib.contextmanager
def serve_asgi(app) -> Iterator[str]:
    """Serve an ASGI app for the duration of the block; yields its base URL; shuts down gracefully."""
    runner = UvicornThread(app)
    url = runner.start()
    try:
        yield url
    finally:
        runner.begin_shutdown()
        runner.join()


def emulator_process(host: str) -> psutil.Process:
    """The emulator's JVM: our own child process listening on the emulator's port."""
    port = host.rsplit(":", 1)[1]
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if f"--port={port}" in child.cmdline() and "java" in child.name():
                return child
    raise AssertionError(f"no emulator process of ours listens on {host}")


@contextlib.contextmanager
def frozen(process: psutil.Process):
    """Freeze the emulator (SIGSTOP): it keeps everything it acknowledged but answers nothing until the block ends
    (SIGCONT, also on failure)."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def write_json(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path
