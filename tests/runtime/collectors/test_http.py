"""The HTTP collector end to end: real uvicorn on a localhost port, the real Pub/Sub emulator, the project's own
generated routing table (plus a few test routes for the options the example project does not use). Every
accepted request must be on its topic with exactly the contract's attributes; every rejected one must not be.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from datahem.runtime.collectors.http.app import PIXEL, HttpCollector, HttpSettings
from datahem.runtime.collectors.publisher import PublisherSettings
from tests.examples import load_examples
from tests.runtime.collectors.conftest import PROJECT, ROUTING, serve_asgi, write_json

pytestmark = pytest.mark.emulator

UA_TOPIC = "grocer.analytics.v1.UniversalAnalyticsHit"
GA4_TOPIC = "grocer.analytics.v1.Ga4Hit"
SURVEY_TOPIC = "grocer.survey.v1.SurveyResponse"
FORM_TOPIC = "test.collectors.FormEvent"
DROP_TOPIC = "test.collectors.DropEvent"
SIGNED_TOPIC = "test.collectors.SignedEvent"
KEYED_TOPIC = "test.collectors.KeyedEvent"
SECRETS = {"GA4_API_KEY": "ga4-key-123", "SURVEY_WEBHOOK_SECRET": "survey-secret", "TEST_SIG_SECRET": "b64-secret"}
CONTRACT = {"uuid", "timestamp", "source", "message_type", "collector"}
UA = "datahem-tests/1.0"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

EXTRA_ROUTES = [
    {
        "path": "/t/form",
        "methods": ["POST", "PUT"],
        "source": "form_test",
        "message_type": "test.collectors.FormEvent",
        "topic": FORM_TOPIC,
        "format": "form",
        "auth": {"type": "none"},
        "cors_origins": ["*"],
        "max_body_bytes": 64,
        "ip_anonymization": "none",
    },
    {
        "path": "/t/drop",
        "methods": ["GET", "POST"],
        "source": "drop_test",
        "message_type": "test.collectors.DropEvent",
        "topic": DROP_TOPIC,
        "format": "json",
        "auth": {"type": "none"},
        "cors_origins": [],
        "max_body_bytes": 1000,
        "ip_anonymization": "drop",
    },
    {
        "path": "/t/signed",
        "methods": ["POST"],
        "source": "signed_test",
        "message_type": "test.collectors.SignedEvent",
        "topic": SIGNED_TOPIC,
        "format": "json",
        "auth": {
            "type": "hmac",
            "header": "X-Sig",
            "secret_env": "TEST_SIG_SECRET",
            "algorithm": "sha1",
            "encoding": "base64",
            "prefix": "sha1=",
        },
        "cors_origins": [],
        "max_body_bytes": 1000,
        "ip_anonymization": "truncate",
    },
    {
        "path": "/t/keyed",
        "methods": ["GET", "POST"],
        "source": "keyed_test",
        "message_type": "test.collectors.KeyedEvent",
        "topic": KEYED_TOPIC,
        "format": "form",
        "auth": {"type": "api_key", "header": "x-k", "secret_env": "TEST_SIG_SECRET", "query_parameter": "key"},
        "cors_origins": [],
        "max_body_bytes": 1000,
        "ip_anonymization": "drop",
    },
]


def examples(message: str) -> list[str]:
    return [e.payload for e in load_examples() if e.message == message and e.valid]


@pytest.fixture(scope="module")
def routing_dir(tmp_path_factory):
    table = json.loads((ROUTING / "http.json").read_text())
    table["routes"] += EXTRA_ROUTES
    out = tmp_path_factory.mktemp("routing")
    write_json(out / "http.json", table)
    return out


@pytest.fixture(scope="module")
def base_url(pubsub, routing_dir):
    settings = HttpSettings(PublisherSettings(PROJECT, emulator_host=pubsub.host, timeout_s=5), routing_dir)
    with serve_asgi(HttpCollector.create(settings, SECRETS)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=20, headers={"user-agent": UA}) as c:
        yield c


def check_attributes(attributes: dict, source: str, message_type: str, extra: dict, sent_at: datetime) -> None:
    assert set(attributes) == CONTRACT | set(extra), attributes
    assert attributes["source"] == source
    assert attributes["message_type"] == message_type
    assert attributes["collector"] == "http"
    assert uuid.UUID(attributes["uuid"]).version == 4
    assert RFC3339.match(attributes["timestamp"]), attributes["timestamp"]
    stamp = datetime.strptime(attributes["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert sent_at - timedelta(seconds=1) <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    for key, value in extra.items():
        assert attributes[key] == value


def test_health(client):
    assert client.get("/healthz").status_code == 200


def test_get_pixel_per_example_hit(pubsub, client):
    sub = pubsub.subscribe(UA_TOPIC)
    hits = [json.loads(p) for p in examples(UA_TOPIC)]
    sent_at = datetime.now(UTC)
    for hit in hits:
        resp = client.get("/collect?" + urlencode(hit), headers={"user-agent": "Pixel/1.0"})
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "image/gif"
        assert resp.content == PIXEL
    got = pubsub.pull(sub, len(hits))
    assert sorted(json.dumps(g.json(), sort_keys=True) for g in got) == sorted(
        json.dumps(h, sort_keys=True) for h in hits
    )
    for g in got:
        extra = {"client_ip": "127.0.0.0", "user_agent": "Pixel/1.0"}
        check_attributes(g.attributes, "web_ua", UA_TOPIC, extra, sent_at)
    assert len({g.attributes["uuid"] for g in got}) == len(hits)


def test_post_ua_batch_one_event_per_line(pubsub, client):
    sub = pubsub.subscribe(UA_TOPIC)
    hits = [json.loads(p) for p in examples(UA_TOPIC)][:3]
    body = "\n".join(urlencode(h) for h in hits) + "\n"
    sent_at = datetime.now(UTC)
    resp = client.post("/collect", content=body, headers={"content-type": "text/plain"})
    assert resp.status_code == 204
    got = pubsub.pull(sub, 3)
    assert sorted(json.dumps(g.json(), sort_keys=True) for g in got) == sorted(
        json.dumps(h, sort_keys=True) for h in hits
    )
    assert len({g.attributes["uuid"] for g in got}) == 3
    assert len({g.attributes["timestamp"] for g in got}) == 1  # one request, one receive time
    for g in got:
        check_attributes(g.attributes, "web_ua", UA_TOPIC, {"client_ip": "127.0.0.0", "user_agent": UA}, sent_at)


def test_ga4_json_published_as_received(pubsub, client):
    sub = pubsub.subscribe(GA4_TOPIC)
    sent_at = datetime.now(UTC)
    bodies = [p.encode() for p in examples(GA4_TOPIC)]
    key = SECRETS["GA4_API_KEY"]
    for i, body in enumerate(bodies):
        # as Google documents it (the key in the query string), or in the header, or both
        url, headers = [
            (f"/mp/collect?measurement_id=G-1&api_secret={key}", {}),
            ("/mp/collect?firebase_app_id=1:2:android:3", {"x-api-key": key}),
            (f"/mp/collect?api_secret={key}&measurement_id=G-1", {"x-api-key": key}),
        ][i % 3]
        resp = client.post(url, content=body, headers=headers)
        assert resp.status_code == 204, resp.text
    got = pubsub.pull(sub, len(bodies))
    assert sorted(g.data for g in got) == sorted(bodies)
    for g in got:
        check_attributes(g.attributes, "web_ga4", GA4_TOPIC, {"client_ip": "127.0.0.0", "user_agent": UA}, sent_at)
        assert key.encode() not in g.data and key not in json.dumps(g.attributes)


def test_a_key_in_the_query_string_never_reaches_the_event(pubsub, client):
    sub = pubsub.subscribe(KEYED_TOPIC)
    secret = SECRETS["TEST_SIG_SECRET"]
    assert client.get(f"/t/keyed?a=1&key={secret}&b=%C3%A5").status_code == 200
    assert client.get("/t/keyed?a=2&k%65y=b64%2Dsecret").status_code == 200  # percent-encoded name and value
    assert client.get("/t/keyed?a=3", headers={"x-k": secret}).status_code == 200
    assert client.post(f"/t/keyed?key={secret}", data={"a": "4"}).status_code == 204
    assert client.get(f"/t/keyed?key={secret}").status_code == 400  # nothing left: no parameters
    got = sorted((g.json() for g in pubsub.pull(sub, 4)), key=lambda d: d["a"])
    assert got == [{"a": "1", "b": "å"}, {"a": "2"}, {"a": "3"}, {"a": "4"}]


def test_webhook_hmac_hex(pubsub, client):
    sub = pubsub.subscribe(SURVEY_TOPIC)
    body = examples(SURVEY_TOPIC)[0].encode()
    signature = hmac.new(SECRETS["SURVEY_WEBHOOK_SECRET"].encode(), body, hashlib.sha256).hexdigest().upper()
    sent_at = datetime.now(UTC)
    resp = client.post("/webhooks/survey", content=body, headers={"x-survey-signature": signature})
    assert resp.status_code == 204, resp.text
    [got] = pubsub.pull(sub, 1)
    assert got.data == body
    extra = {"client_ip": "127.0.0.0", "user_agent": UA}
    check_attributes(got.attributes, "survey_responses", SURVEY_TOPIC, extra, sent_at)


def test_webhook_hmac_base64_with_prefix(pubsub, client):
    sub = pubsub.subscribe(SIGNED_TOPIC)
    body = b'{"order": 42}'
    digest = base64.b64encode(hmac.new(SECRETS["TEST_SIG_SECRET"].encode(), body, hashlib.sha1).digest()).decode()
    resp = client.post("/t/signed", content=body, headers={"x-sig": f"sha1={digest}"})
    assert resp.status_code == 204, resp.text
    [got] = pubsub.pull(sub, 1)
    assert got.data == body and got.attributes["source"] == "signed_test"


def test_form_put_keeps_full_address_and_drop_removes_it(pubsub, client):
    form_sub, drop_sub = pubsub.subscribe(FORM_TOPIC), pubsub.subscribe(DROP_TOPIC)
    assert client.put("/t/form", data={"a": "1", "b": "å ä"}).status_code == 204
    assert client.get("/t/drop?x=1&x=2&y=").status_code == 200
    [form] = pubsub.pull(form_sub, 1)
    assert form.json() == {"a": "1", "b": "å ä"}
    assert form.attributes["client_ip"] == "127.0.0.1"
    [drop] = pubsub.pull(drop_sub, 1)
    assert drop.json() == {"x": "2", "y": ""}  # GET: flat object of strings, last value wins
    assert "client_ip" not in drop.attributes
    assert set(drop.attributes) == CONTRACT | {"user_agent"}


def test_cors(client):
    origin = "https://www.grocer.example"
    pre = client.options("/collect", headers={"origin": origin, "access-control-request-method": "POST"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    resp = client.get("/collect?v=1&t=pageview", headers={"origin": origin})
    assert resp.status_code == 200 and resp.headers["access-control-allow-origin"] == origin
    star = client.options("/t/form", headers={"origin": "https://anywhere.example"})
    assert star.status_code == 204 and star.headers["access-control-allow-origin"] == "https://anywhere.example"
    plain = client.options("/mp/collect")
    assert plain.status_code == 204 and plain.headers["allow"] == "POST, OPTIONS"


def ga4(events: int) -> bytes:
    return json.dumps({"client_id": "1.2", "events": [{"name": "e"}] * events}).encode()


def sig(body: bytes) -> dict:
    return {"x-survey-signature": hmac.new(b"survey-secret", body, hashlib.sha256).hexdigest()}


KEY = {"x-api-key": SECRETS["GA4_API_KEY"]}
REJECTED = [
    # (id, method, path, headers, body, status)
    ("unknown path", "GET", "/nope?v=1", {}, None, 404),
    ("trailing slash is another path", "GET", "/collect/?v=1", {}, None, 404),
    ("method not routed", "DELETE", "/collect", {}, None, 405),
    ("GET on a POST-only route", "GET", "/mp/collect?v=1", KEY, None, 405),
    ("PUT on a GET/POST route", "PUT", "/collect", {}, b"v=1", 405),
    ("declared body over the limit", "POST", "/t/form", {}, b"a=" + b"x" * 63, 413),
    ("empty UA body", "POST", "/collect", {}, b"\n\n", 400),
    ("UA batch over 20 hits", "POST", "/collect", {}, b"v=1&t=event\n" * 21, 400),
    ("query string not UTF-8", "GET", "/collect?v=1&dl=%ff", {}, None, 400),
    ("no query string", "GET", "/collect", {}, None, 400),
    ("GA4 body not JSON", "POST", "/mp/collect", KEY, b"{events", 400),
    ("GA4 body is an array", "POST", "/mp/collect", KEY, b"[]", 400),
    ("GA4 without events", "POST", "/mp/collect", KEY, b'{"client_id": "1"}', 400),
    ("GA4 with no event", "POST", "/mp/collect", KEY, ga4(0), 400),
    ("GA4 with 26 events", "POST", "/mp/collect", KEY, ga4(26), 400),
    ("JSON route given an array", "POST", "/webhooks/survey", sig(b"[1]"), b"[1]", 400),
    ("JSON with NaN", "POST", "/webhooks/survey", sig(b'{"a": NaN}'), b'{"a": NaN}', 400),
    ("JSON not UTF-8", "POST", "/t/drop", {}, b'{"a": "\xff"}', 400),
    ("API key missing", "POST", "/mp/collect", {}, ga4(1), 401),
    ("API key wrong", "POST", "/mp/collect", {"x-api-key": "ga4-key-124"}, ga4(1), 403),
    ("api_secret wrong", "POST", "/mp/collect?api_secret=ga4-key-124", {}, ga4(1), 403),
    ("api_secret empty", "POST", "/mp/collect?api_secret=", {}, ga4(1), 403),
    ("api_secret right, header wrong", "POST", "/mp/collect?api_secret=ga4-key-123", {"x-api-key": "x"}, ga4(1), 403),
    ("api_secret twice, once wrong", "POST", "/mp/collect?api_secret=ga4-key-123&api_secret=x", {}, ga4(1), 403),
    ("key parameter wrong on GET", "GET", "/t/keyed?a=1&key=nope", {}, None, 403),
    ("key missing on GET", "GET", "/t/keyed?a=1", {}, None, 401),
    ("HMAC missing", "POST", "/webhooks/survey", {}, b"{}", 401),
    ("HMAC of another body", "POST", "/webhooks/survey", sig(b"{ }"), b"{}", 403),
    ("HMAC not hex", "POST", "/webhooks/survey", {"x-survey-signature": "zz"}, b"{}", 403),
    ("HMAC without its prefix", "POST", "/t/signed", {"x-sig": "AAAA"}, b"{}", 403),
    ("CORS origin not allowed", "POST", "/collect", {"origin": "https://evil.example"}, b"v=1", 403),
    ("preflight origin not allowed", "OPTIONS", "/collect", {"origin": "https://evil.example"}, None, 403),
    (
        "preflight method not routed",
        "OPTIONS",
        "/collect",
        {"origin": "https://www.grocer.example", "access-control-request-method": "PUT"},
        None,
        403,
    ),
    ("health endpoint is GET only", "POST", "/healthz", {}, b"", 405),
    ("JSON body on a UA route", "POST", "/collect", {"content-type": "application/json"}, b'{"v": "1"}', 415),
    ("multipart on a UA route", "POST", "/collect", {"content-type": "multipart/form-data; boundary=b"}, b"", 415),
    ("form on a JSON route", "POST", "/t/drop", {"content-type": "application/x-www-form-urlencoded"}, b"a=1", 415),
    ("JSON in latin-1", "POST", "/t/drop", {"content-type": "application/json; charset=latin-1"}, b"{}", 415),
]


def test_every_rejection_has_its_status_and_publishes_nothing(pubsub, client):
    topics = (UA_TOPIC, GA4_TOPIC, SURVEY_TOPIC, FORM_TOPIC, DROP_TOPIC, SIGNED_TOPIC, KEYED_TOPIC)
    subs = [pubsub.subscribe(t) for t in topics]
    for name, method, path, headers, body, status in REJECTED:
        resp = client.request(method, path, headers=headers, content=body)
        assert resp.status_code == status, f"{name}: {resp.status_code} {resp.text}"
        if status == 405:
            assert "allow" in resp.headers, name
    time.sleep(1.0)  # nothing was handed to the publisher; give a wrongly published event time to show anyway
    for sub in subs:
        assert pubsub.pull(sub, 0, timeout=1, settle=0.1) == []


def test_chunked_body_over_the_limit(client):
    def chunks():
        for _ in range(10):
            yield b"a=" + b"x" * 10

    resp = client.post("/t/form", content=chunks())  # no Content-Length: the limit applies while reading
    assert resp.status_code == 413


def test_client_address_behind_a_trusted_proxy(pubsub, client, routing_dir):
    sub = pubsub.subscribe(UA_TOPIC)
    forwarded = {"x-forwarded-for": "198.51.100.7, 203.0.113.99"}  # client-supplied, then what the proxy saw
    assert client.get("/collect?v=1&t=pageview&z=direct", headers=forwarded).status_code == 200
    settings = HttpSettings(PublisherSettings(PROJECT, emulator_host=pubsub.host), routing_dir, trusted_proxy_hops=1)
    with serve_asgi(HttpCollector.create(settings, SECRETS)) as url:
        assert httpx.get(f"{url}/collect?v=1&t=pageview&z=proxied", headers=forwarded).status_code == 200
    by_id = {g.json()["z"]: g.attributes["client_ip"] for g in pubsub.pull(sub, 2)}
    assert by_id == {"direct": "127.0.0.0", "proxied": "203.0.113.0"}  # no proxy trusted: X-Forwarded-For ignored
