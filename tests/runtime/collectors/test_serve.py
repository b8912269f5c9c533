"""`datahem serve http|sns` as a user runs it: a subprocess on a free port, publishing to the emulator (whose
missing topics it creates), stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import EXAMPLE
from tests.emulators import free_port
from tests.runtime.collectors.conftest import PROJECT

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def serve(kind: str, pubsub, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "PUBSUB_EMULATOR_HOST": pubsub.host,
        "GA4_API_KEY": "k",
        "SURVEY_WEBHOOK_SECRET": "s",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "datahem.cli", "serve", kind, "--port", str(port)],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_up(proc: subprocess.Popen, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"datahem serve exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("datahem serve did not start listening")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return out


def test_serve_http_publishes_to_the_emulator(pubsub):
    port = free_port()
    proc = serve("http", pubsub, port)
    try:
        wait_up(proc, f"http://127.0.0.1:{port}/healthz")
        sub = pubsub.subscribe("grocer.analytics.v1.UniversalAnalyticsHit")
        resp = httpx.get(f"http://127.0.0.1:{port}/collect?v=1&tid=UA-1&t=pageview&z=serve-test")
        assert resp.status_code == 200
    finally:
        out = stop(proc)
    [got] = pubsub.pull(sub, 1)
    assert got.json()["z"] == "serve-test" and got.attributes["collector"] == "http"
    assert "HTTP collector on http://127.0.0.1" in out


def test_serve_sns_answers(pubsub):
    port = free_port()
    proc = serve("sns", pubsub, port)
    try:
        wait_up(proc, f"http://127.0.0.1:{port}/")
        assert httpx.get(f"http://127.0.0.1:{port}/?route=orders").status_code == 405
        assert httpx.post(f"http://127.0.0.1:{port}/?route=nope", content=b"{}").status_code == 404
        unsigned = b'{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:order-events", "Message": "{}", "Timestamp": "t", "Signature": "AAAA", "SigningCertURL": "https://example.com/x.pem"}'
        assert httpx.post(f"http://127.0.0.1:{port}/?route=orders", content=unsigned).status_code == 403
    finally:
        out = stop(proc)
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "SNS collector on http://127.0.0.1" in out
