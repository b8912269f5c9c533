"""The HTTP collector's own limits, end to end on a real uvicorn server (the deployed protocol class) and the real
Pub/Sub emulator: API keys compared as the bytes sent, Content-Type per format (415), the request head's size (431)
and the head's and body's receive time (408). Nothing refused is published.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datahem.runtime.collectors.http.app import HttpCollector, HttpSettings
from datahem.runtime.collectors.publisher import PublisherSettings
from datahem.runtime.collectors.routing import CHARSETS, CONTENT_TYPES
from tests.runtime.collectors.conftest import PROJECT, ROUTING, serve_asgi, write_json

pytestmark = pytest.mark.emulator

KEY_TOPIC = "test.collectors.KeyEvent"
KEY = "nyckel-åäö-🔑"  # sent by clients as its UTF-8 bytes
HEAD_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
MAX_HEAD = 16 * 1024
ONE_SHOT = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEY_ROUTE = {
    "path": "/t/key",
    "methods": ["POST"],
    "source": "key_test",
    "message_type": "test.collectors.KeyEvent",
    "topic": KEY_TOPIC,
    "format": "json",
    "auth": {"type": "api_key", "header": "x-key", "secret_env": "TEST_UTF8_KEY"},
    "cors_origins": [],
    "max_body_bytes": 1000,
    "ip_anonymization": "drop",
}
SECRETS = {
    "GA4_API_KEY": "ga4-key",
    "SURVEY_WEBHOOK_SECRET": "survey-secret",
    "TEST_UTF8_KEY": os.fsdecode(KEY.encode()),  # as os.environ would hold it
}
# one route per format, with a body that format takes (auth headers where the route needs them)
BY_FORMAT = {
    "ua": ("/collect", b"v=1&t=pageview&tid=UA-1-1&cid=1", {}),
    "ga4": ("/mp/collect", b'{"client_id": "1", "events": [{"name": "e"}]}', {"x-api-key": "ga4-key"}),
    "json": ("/t/key", b'{"a": 1}', {"x-key": KEY.encode()}),
}


@pytest.fixture(scope="module")
def base_url(pubsub, tmp_path_factory):
    table = json.loads((ROUTING / "http.json").read_text())
    table["routes"].append(KEY_ROUTE)
    table["limits"] = {
        "max_head_bytes": MAX_HEAD,
        "head_timeout_seconds": HEAD_TIMEOUT,
        "body_timeout_seconds": BODY_TIMEOUT,
    }
    routing = tmp_path_factory.mktemp("routing")
    write_json(routing / "http.json", table)
    for route in table["routes"]:
        pubsub.subscribe(route["topic"])  # creates the topic (the emulator starts empty)
    settings_ = HttpSettings(PublisherSettings(PROJECT, emulator_host=pubsub.host, timeout_s=5), routing)
    with serve_asgi(HttpCollector.create(settings_, SECRETS)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


# --- API keys ---------------------------------------------------------------------------------------------------


def test_a_non_ascii_api_key_sent_as_utf8_matches(pubsub, client):
    sub = pubsub.subscribe(KEY_TOPIC)
    assert client.post("/t/key", content=b'{"n": 1}', headers={"x-key": KEY.encode()}).status_code == 204
    latin1 = KEY[:-2].encode("latin-1")  # the same letters in another encoding are other bytes
    assert client.post("/t/key", content=b'{"n": 2}', headers={"x-key": latin1}).status_code == 403
    assert [g.json() for g in pubsub.pull(sub, 1)] == [{"n": 1}]


HEADER_VALUE = st.lists(st.integers(0x21, 0xFF).filter(lambda b: b != 0x7F), min_size=1, max_size=40).map(bytes)


@ONE_SHOT
@given(presented=st.one_of(HEADER_VALUE, st.just(KEY.encode()), HEADER_VALUE.map(lambda b: KEY.encode() + b)))
def test_only_the_exact_key_bytes_pass(client, presented):
    resp = client.post("/t/key", content=b'{"k": 1}', headers={"x-key": presented})
    assert resp.status_code == (204 if presented == KEY.encode() else 403), resp.text


# --- Content-Type -----------------------------------------------------------------------------------------------

MEDIA_TYPES = sorted({t for types in CONTENT_TYPES.values() for t in types}) + [
    "multipart/form-data",
    "application/xml",
    "text/html",
    "application/octet-stream",
    "application/jsonx",
    "",
]
PARAMETERS = ["", "; charset=utf-8", '; charset="UTF-8"', "; charset=iso-8859-1", "; boundary=x", ";charset=us-ascii"]


def takes(fmt: str, content_type: str) -> bool:
    """What the contract says: the media type listed for the format, and any charset a UTF-8 one."""
    media_type, *parameters = content_type.split(";")
    charsets = [
        v.strip().strip('"').lower() for k, _, v in (p.partition("=") for p in parameters) if k.strip() == "charset"
    ]
    return media_type.strip().lower() in CONTENT_TYPES[fmt] and all(c in CHARSETS for c in charsets)


@ONE_SHOT
@given(
    fmt=st.sampled_from(sorted(BY_FORMAT)),
    media_type=st.one_of(st.sampled_from(MEDIA_TYPES), st.from_regex(r"\A[a-z]{1,8}/[a-z+.-]{1,12}\Z")),
    upper=st.booleans(),
    parameter=st.sampled_from(PARAMETERS),
)
def test_a_body_is_taken_only_with_a_content_type_of_its_format(client, fmt, media_type, upper, parameter):
    path, body, headers = BY_FORMAT[fmt]
    content_type = (media_type.upper() if upper else media_type) + parameter
    resp = client.post(path, content=body, headers={**headers, "content-type": content_type})
    assert resp.status_code == (204 if takes(fmt, content_type) else 415), (content_type, resp.text)


def test_no_content_type_is_taken_and_get_needs_none(client):
    path, body, headers = BY_FORMAT["json"]
    assert client.post(path, content=body, headers=headers).status_code == 204
    assert client.get("/collect?v=1&t=pageview", headers={"content-type": "application/json"}).status_code == 200


# --- the request head and body on a raw connection --------------------------------------------------------------


def exchange(base_url: str, pieces: list[bytes], pause: float = 0.0, wait: float = 5.0) -> tuple[bytes, float]:
    """Send the pieces (pausing between them) and read until the server closes; the answer and the time it took."""
    parts = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        with contextlib.suppress(OSError):  # the server may close before everything is sent
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(pause)
        got = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                got += chunk
    return got, time.monotonic() - started


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def head(path: str = "/collect?v=1&t=pageview", method: str = "GET", extra: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nhost: collector\r\nconnection: close\r\n".encode() + extra


@ONE_SHOT
@given(
    size=st.one_of(st.integers(0, MAX_HEAD - 1024), st.integers(MAX_HEAD + 1, 4 * MAX_HEAD)),
    cuts=st.lists(st.floats(0, 1), max_size=3),
)
def test_a_head_over_the_limit_is_431_however_it_arrives(base_url, size, cuts):
    message = head(extra=b"x-filler: " + b"f" * size + b"\r\n") + b"\r\n"
    points = sorted({int(c * len(message)) for c in cuts} | {0, len(message)})
    answer, _ = exchange(base_url, [message[a:b] for a, b in zip(points, points[1:], strict=False)])
    assert status(answer) == (431 if size > MAX_HEAD else 200), answer[:200]


def test_a_head_over_the_limit_that_never_ends_is_431(base_url):
    answer, took = exchange(base_url, [head(extra=b"x-filler: " + b"f" * (2 * MAX_HEAD))])
    assert status(answer) == 431 and b"connection: close" in answer
    assert took < HEAD_TIMEOUT  # refused at once, not when the head's time runs out


def test_a_slow_head_is_408_and_a_silent_connection_is_closed(base_url):
    answer, took = exchange(base_url, [head()], wait=10)  # the head's final blank line never comes
    assert status(answer) == 408 and HEAD_TIMEOUT <= took < HEAD_TIMEOUT + 3
    trickled = [bytes([b]) for b in head() + b"\r\n"]
    answer, took = exchange(base_url, trickled, pause=HEAD_TIMEOUT / 8, wait=10)  # a byte now and then
    assert status(answer) == 408 and took < HEAD_TIMEOUT + 3
    answer, took = exchange(base_url, [], wait=10)
    assert answer == b"" and HEAD_TIMEOUT <= took < HEAD_TIMEOUT + 3


def test_a_slow_body_is_408_and_nothing_is_published(pubsub, base_url):
    sub = pubsub.subscribe(KEY_TOPIC)
    start = head("/t/key", "POST", b"x-key: " + KEY.encode() + b"\r\ncontent-length: 10\r\n\r\n")
    answer, took = exchange(base_url, [start + b'{"a": '], wait=10)  # 4 of the 10 bytes never come
    assert status(answer) == 408 and BODY_TIMEOUT <= took < BODY_TIMEOUT + 3
    chunked = head("/t/key", "POST", b"x-key: " + KEY.encode() + b"\r\ntransfer-encoding: chunked\r\n\r\n")
    answer, _ = exchange(base_url, [chunked + b"2\r\n{}\r\n"], wait=10)  # the last chunk never comes
    assert status(answer) == 408
    assert pubsub.pull(sub, 0, timeout=1, settle=0.1) == []


def test_keep_alive_requests_each_get_their_own_head_time(base_url):
    one = b"GET /collect?v=1&t=pageview HTTP/1.1\r\nhost: collector\r\n\r\n"
    answer, _ = exchange(base_url, [one, one, head() + b"\r\n"], pause=HEAD_TIMEOUT * 0.6)
    assert answer.count(b"HTTP/1.1 200 ") == 3
