"""Fast checks of the collectors' pure parts: routing-table validation, client addresses, payload shapes, auth,
the Kinesis reader's shard lineage and restriction tracker, and credential handling. No emulator needed."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datahem.runtime.collectors import contract, netaddr
from datahem.runtime.collectors.async_publisher import AsyncEventPublisher, _RawResponse
from datahem.runtime.collectors.contract import Clock, Event, event_attributes, rfc3339, uuid4
from datahem.runtime.collectors.errors import CollectorConfigError, RoutingTableError
from datahem.runtime.collectors.http.app import HttpCollector, HttpSettings
from datahem.runtime.collectors.http.auth import Authenticator, authenticators, take_parameter
from datahem.runtime.collectors.http.payloads import MAX_FIELDS, Malformed, form_object, payloads
from datahem.runtime.collectors.kinesis.credentials import AwsSettings, aws_session, secret_version_name
from datahem.runtime.collectors.kinesis.shards import ShardInfo, ShardPosition, StreamCheckpoint
from datahem.runtime.collectors.kinesis.source import CheckpointTracker
from datahem.runtime.collectors.publisher import PublisherSettings
from datahem.runtime.collectors.routing import (
    Auth,
    HttpLimits,
    KinesisStream,
    load_http_routes,
    load_http_table,
    load_kinesis_streams,
    load_sns_table,
)
from tests.conftest import EXAMPLE, ROOT, copy_project
from tests.runtime.collectors.conftest import ROUTING, write_json

# --- routing tables ---------------------------------------------------------------------------------------------


def test_the_generated_tables_load():
    assert set(load_http_routes(ROUTING)) == {"/collect", "/mp/collect", "/webhooks/survey"}
    assert set(load_sns_table(ROUTING).routes) == {"orders", "products", "members"}
    assert len(load_kinesis_streams(ROUTING)) == 1


LIMITS = json.loads((ROUTING / "http.json").read_text())["limits"]


def http_route(**overrides) -> dict:
    route = json.loads((ROUTING / "http.json").read_text())["routes"][0]
    return route | overrides


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([http_route(pathh="/x")], "routes[0]: unknown key `pathh`"),
        ([http_route(auth={"type": "oauth"})], "routes[0].auth.type: `oauth` is not one of none, api_key, hmac"),
        ([http_route(auth={"type": "hmac", "header": "x"})], "routes[0].auth: missing key `secret_env`"),
        ([http_route(), http_route()], "routes[1].path: `/collect` is routed twice"),
        ([http_route(path="/healthz")], "reserved for the collector's health endpoint"),
        ([http_route(topic="goog-x")], "routes[0].topic: `goog-x` is not a valid Pub/Sub topic id"),
        ([http_route(methods=["GET", "PATCH"])], "routes[0].methods[1]: `PATCH` is not one of GET, POST, PUT"),
        ([http_route(max_body_bytes=0)], "routes[0].max_body_bytes: expected an integer in 1..10000000"),
        ([http_route(cors_origins=["www.grocer.example"])], "is not an origin"),
        ([http_route(ip_anonymization="hash")], "`hash` is not one of none, truncate, drop"),
        (
            [http_route(auth={"type": "api_key", "header": "x", "secret_env": "K", "query_parameter": "a b"})],
            "routes[0].auth.query_parameter: `a b` is not a query parameter name",
        ),
        (
            [
                http_route(
                    auth={
                        "type": "hmac",
                        "header": "x",
                        "secret_env": "K",
                        "algorithm": "sha1",
                        "encoding": "hex",
                        "prefix": "",
                        "query_parameter": "k",
                    }
                )
            ],
            "routes[0].auth: unknown key `query_parameter`",
        ),
    ],
)
def test_malformed_http_table_is_refused_with_the_problem(tmp_path, routes, message):
    write_json(tmp_path / "http.json", {"limits": LIMITS, "routes": routes})
    with pytest.raises(RoutingTableError) as err:
        load_http_routes(tmp_path)
    assert message in str(err.value)
    assert "datahem build" in str(err.value)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (None, ": missing key `limits`"),
        (LIMITS | {"max_head_bytes": 100}, "limits.max_head_bytes: expected an integer in 1024..1048576, got 100"),
        (LIMITS | {"max_head_bytes": 2048.5}, "limits.max_head_bytes: expected an integer"),
        (LIMITS | {"head_timeout_seconds": 0}, "limits.head_timeout_seconds: expected a number in 0.1..300.0"),
        (LIMITS | {"body_timeout_seconds": True}, "limits.body_timeout_seconds: expected a number"),
        ({"max_head_bytes": 2048}, "limits: missing key `head_timeout_seconds`"),
    ],
)
def test_malformed_http_limits_are_refused(tmp_path, limits, message):
    doc = {"routes": [http_route()]} | ({} if limits is None else {"limits": limits})
    write_json(tmp_path / "http.json", doc)
    with pytest.raises(RoutingTableError) as err:
        load_http_routes(tmp_path)
    assert message in str(err.value)


def test_http_limits_load():
    table = load_http_table(ROUTING)
    assert table.limits == HttpLimits()
    assert (table.limits.max_head_bytes, table.limits.head_timeout_seconds, table.limits.body_timeout_seconds) == (
        16384,
        10.0,
        30.0,
    )


def test_every_problem_is_listed_at_once(tmp_path):
    write_json(tmp_path / "http.json", {"limits": LIMITS, "routes": [http_route(format="xml", methods=[], topic="x")]})
    with pytest.raises(RoutingTableError) as err:
        load_http_routes(tmp_path)
    text = str(err.value)
    assert "3 problem(s)" in text and "format" in text and "methods" in text and "topic" in text


def test_invalid_json_and_missing_tables(tmp_path):
    (tmp_path / "http.json").write_text('{"routes": [\n  {"path": }\n]}')
    with pytest.raises(RoutingTableError, match=r"http.json:2:\d+: not valid JSON"):
        load_http_routes(tmp_path)
    with pytest.raises(RoutingTableError, match="sns.json: routing table not found; run `datahem build`"):
        load_sns_table(tmp_path)


def test_malformed_sns_and_kinesis_tables(tmp_path):
    write_json(tmp_path / "sns.json", {"query_parameter": "route", "routes": {"a": {"topic": "t1t"}}})
    with pytest.raises(RoutingTableError, match="routes.a: missing key `topic_arns`"):
        load_sns_table(tmp_path)
    write_json(
        tmp_path / "sns.json",
        {
            "query_parameter": "route",
            "routes": {
                "a": {
                    "topic": "abc",
                    "source": "s",
                    "message_type": "m",
                    "topic_arns": ["arn:aws:s3:::b"],
                    "max_age_seconds": 3600,
                }
            },
        },
    )
    with pytest.raises(RoutingTableError, match="is not an SNS topic ARN"):
        load_sns_table(tmp_path)
    entry = {"topic": "abc", "source": "s", "message_type": "m", "topic_arns": ["arn:aws:sns:eu-west-1:123456789012:t"]}
    write_json(tmp_path / "sns.json", {"query_parameter": "route", "routes": {"a": entry | {"max_age_seconds": 59}}})
    with pytest.raises(RoutingTableError, match=r"routes.a.max_age_seconds: expected an integer in 60..86400, got 59"):
        load_sns_table(tmp_path)
    arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/s"
    entry = {"topic": "abc", "source": "s", "message_type": "m", "region": "eu-north-1"}
    write_json(tmp_path / "kinesis.json", {"streams": {arn: entry | {"role_arn": None, "credentials_secret": None}}})
    with pytest.raises(RoutingTableError) as err:
        load_kinesis_streams(tmp_path)
    assert "differs from the stream ARN's region eu-west-1" in str(err.value)
    assert "needs `role_arn` (web identity) or `credentials_secret`" in str(err.value)


def test_missing_secret_stops_the_http_collector():
    settings = HttpSettings(PublisherSettings("demo-project"), ROUTING)
    with pytest.raises(CollectorConfigError) as err:
        HttpCollector.create(settings, {"GA4_API_KEY": "k"})
    assert "SURVEY_WEBHOOK_SECRET (auth of /webhooks/survey)" in str(err.value)
    assert not isinstance(err.value, RoutingTableError)


def test_datahem_serve_refuses_a_malformed_table(tmp_path):
    project = copy_project(EXAMPLE, tmp_path / "project")
    table = project / "generated" / "routing" / "http.json"
    table.write_text(table.read_text().replace('"format": "ua"', '"format": "xml"'))
    env = {"GOOGLE_CLOUD_PROJECT": "demo-project", "PATH": "/usr/bin:/bin"}
    for kind in ("http", "sns"):
        if kind == "sns":
            (project / "generated" / "routing" / "sns.json").write_text("{}")
        proc = subprocess.run(
            [sys.executable, "-m", "datahem.cli", "serve", kind, "--project", str(project), "--port", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert f"datahem serve {kind}: cannot start: malformed routing table" in proc.stderr
    assert (
        "`xml` is not one of json, form, ua, ga4"
        in subprocess.run(
            [sys.executable, "-m", "datahem.cli", "serve", "http", "--project", str(project)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        ).stderr
    )


# --- contract, addresses, payloads, auth -------------------------------------------------------------------------


def test_attributes_and_timestamps():
    moment = datetime(2026, 11, 27, 7, 0, 0, 123456, tzinfo=UTC)
    assert rfc3339(moment) == "2026-11-27T07:00:00.123456Z"
    attrs = event_attributes(
        uuid="u", received_at=moment, source="s", message_type="m", collector="http", extra={"user_agent": "1"}
    )
    assert attrs == {
        "uuid": "u",
        "timestamp": "2026-11-27T07:00:00.123456Z",
        "source": "s",
        "message_type": "m",
        "collector": "http",
        "user_agent": "1",
    }
    with pytest.raises(ValueError, match="declares"):  # an extra the contract does not list (from_attribute reads it)
        event_attributes(uuid="u", received_at=moment, source="s", message_type="m", collector="sns", extra={"x": "1"})
    with pytest.raises(ValueError):
        event_attributes(
            uuid="u", received_at=moment, source="s", message_type="m", collector="http", extra={"uuid": "x"}
        )


def test_clock_writes_the_contract_timestamp(monkeypatch):
    """The HTTP collector's per-second cached clock writes what `rfc3339` writes, across second boundaries."""
    clock = Clock()
    for ns in (
        1_795_762_800_123_456_789,
        1_795_762_800_999_999_999,
        1_795_762_801_000_000_001,
        1_795_762_861_000_500_000,
    ):
        monkeypatch.setattr(contract.time, "time_ns", lambda ns=ns: ns)
        expected = datetime.fromtimestamp(ns // 10**9, UTC).replace(microsecond=ns % 10**9 // 1000)
        assert clock.now() == rfc3339(expected)


def test_uuid4_strings_are_version_4_uuids():
    ids = {uuid4() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


# --- batching ---------------------------------------------------------------------------------------------------


def test_an_idle_topic_publishes_at_once_and_a_busy_one_once_per_window():
    """The window spaces a topic's Publish RPCs; it never delays an event that finds the topic idle."""
    batches: list[list[bytes]] = []

    async def publish_rpc(request, timeout, metadata):
        batches.append([m.data for m in request.messages])
        return _RawResponse(message_ids=[str(i) for i in range(len(request.messages))])

    def events(*names: str) -> list[Event]:
        return [Event("t", name.encode(), {"uuid": name}) for name in names]

    async def settle() -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def scenario() -> None:
        publisher = AsyncEventPublisher(PublisherSettings("p", emulator_host="unused:1", batch_max_latency_s=3600))
        publisher._publish_rpc = publish_rpc  # what _rpc() would open a channel for
        first = asyncio.create_task(publisher.publish(events("a", "b")))
        await settle()
        assert batches == [[b"a", b"b"]] and first.done()  # the topic was idle: no window to wait for
        assert first.result() == ["0", "1"]
        later = [asyncio.create_task(publisher.publish(events(name))) for name in ("c", "d", "e")]
        await settle()
        assert batches == [[b"a", b"b"]] and not any(t.done() for t in later)  # within the window: buffered
        assert await publisher.close(timeout=5) == 0
        assert batches == [[b"a", b"b"], [b"c", b"d", b"e"]]  # one RPC for the three requests
        assert [t.result() for t in later] == [["0"], ["1"], ["2"]]

    asyncio.run(scenario())


def test_a_hung_publish_fails_every_request_of_its_batch_after_the_timeout():
    async def hung_rpc(request, timeout, metadata):  # ignores its deadline, as a stuck call would
        await asyncio.Event().wait()

    async def scenario() -> list:
        publisher = AsyncEventPublisher(PublisherSettings("p", emulator_host="unused:1", timeout_s=0.1))
        publisher._publish_rpc = hung_rpc
        requests = [publisher.publish([Event("t", name.encode(), {"uuid": name})]) for name in "abc"]
        results = await asyncio.gather(*requests, return_exceptions=True)
        assert await publisher.close(timeout=0.1) == 1  # the hung RPC did not finish
        return results

    results = asyncio.run(scenario())
    assert [str(r) for r in results] == ["Pub/Sub did not acknowledge within 0.1s"] * 3


@pytest.mark.parametrize(
    ("address", "none", "truncate"),
    [
        ("203.0.113.77", "203.0.113.77", "203.0.113.0"),
        ("::ffff:203.0.113.77", "203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("010.1.1.1", None, None),
        ("not-an-address", None, None),
        (None, None, None),
    ],
)
def test_ip_anonymization(address, none, truncate):
    assert netaddr.anonymize(address, "none") == none
    assert netaddr.anonymize(address, "truncate") == truncate
    assert netaddr.anonymize(address, "drop") is None


def test_trusted_proxy_hops():
    xff = "198.51.100.1, 203.0.113.9"  # the client may forge the left part; the proxy appended the right part
    assert netaddr.client_address("10.0.0.1", xff, 0) == "10.0.0.1"
    assert netaddr.client_address("10.0.0.1", xff, 1) == "203.0.113.9"
    assert netaddr.client_address("10.0.0.1", xff, 2) == "198.51.100.1"
    assert netaddr.client_address("10.0.0.1", None, 1) is None


def test_payload_shapes():
    assert payloads("ua", "GET", b"v=1&t=pageview&dl=%C3%A5", b"") == [b'{"v":"1","t":"pageview","dl":"\xc3\xa5"}']
    assert payloads("ua", "POST", b"", b"v=1&t=a\r\n\r\nv=1&t=b") == [b'{"v":"1","t":"a"}', b'{"v":"1","t":"b"}']
    assert payloads("form", "POST", b"ignored=1", b"a=1&a=2") == [b'{"a":"2"}']
    body = b'{ "events": [{"name": "x"}], "client_id": "1" }'
    assert payloads("ga4", "POST", b"", body) == [body]
    assert payloads("json", "PUT", b"", b'{"z": 1}') == [b'{"z": 1}']
    for fmt, method, query, raw in [
        ("json", "POST", b"", b'"text"'),
        ("json", "POST", b"", b"{" * 100_000),
        ("ga4", "GET", b"events=1", b""),
        ("ga4", "POST", b"", b'{"events": ["x"]}'),
        ("ua", "GET", b"&&", b""),
        ("form", "POST", b"", b"=1"),
    ]:
        with pytest.raises(Malformed):
            payloads(fmt, method, query, raw)


def _form_object_reference(raw: bytes) -> bytes | None:
    """What form_object returns, by urllib's parser (None where it answers 400)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except ValueError:  # UnicodeDecodeError included
        return None
    fields = {k: v for k, v in pairs if k}
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode() if fields else None


FORM_PIECES = st.sampled_from(
    ["a", "b", "=", "&", "+", "%", "%2", "%41", "%C3%A5", "%C3", "%FF", "%26", "%3D", "å", " "]
)


@given(st.lists(FORM_PIECES, max_size=12).map("".join))
def test_form_parsing_matches_parse_qsl(text):
    raw = text.encode()
    try:
        got = form_object(raw, "the form body")
    except Malformed:
        got = None
    assert got == _form_object_reference(raw)


def test_form_field_limit_matches_parse_qsl():
    for n in (MAX_FIELDS - 1, MAX_FIELDS, MAX_FIELDS + 1):
        raw = "&".join(["a=1"] * n).encode()
        assert (_form_object_reference(raw) is None) == (n > MAX_FIELDS)
        if n > MAX_FIELDS:
            with pytest.raises(Malformed, match="more than"):
                form_object(raw, "x")
        else:
            assert form_object(raw, "x") == b'{"a":"1"}'


def test_hmac_and_api_key_checks():
    body = b'{"a": 1}'
    digest = hmac.new(b"k", body, hashlib.sha512).digest()
    auth = Authenticator(Auth("hmac", "x-sig", "S", "sha512", "base64", "v1="), b"k")
    assert auth.check(b"v1=" + base64.b64encode(digest), body) is None
    assert "s3cret-value" not in repr(Authenticator(Auth("api_key", "x", "S"), b"s3cret-value"))
    assert auth.check(None, body).status == 401
    assert auth.check(b"v1=" + base64.b64encode(digest[:-1]), body).status == 403
    assert auth.check(b"v1=***", body).status == 403
    hexed = Authenticator(Auth("hmac", "x-sig", "S", "sha512", "hex", ""), b"k")
    assert hexed.check(digest.hex().upper().encode(), body) is None
    assert hexed.check(digest.hex().encode()[:-2] + "é".encode(), body).status == 403  # not ASCII: refused
    key = Authenticator(Auth("api_key", "x-api-key", "K"), b"s3cret")
    assert key.check(b"s3cret", b"") is None and key.check(b"s3cre", b"").status == 403
    assert key.check("s3crét".encode(), b"").status == 403
    routes = load_http_routes(ROUTING)
    assert set(authenticators(routes, {"GA4_API_KEY": "a", "SURVEY_WEBHOOK_SECRET": "b"})) == set(routes)


def test_an_api_key_in_the_query_string():
    auth = Authenticator(Auth("api_key", "x-api-key", "K", query_parameter="api_secret"), b"s3cret")
    assert auth.check(None, b"", (b"s3cret",)) is None
    assert auth.check(b"s3cret", b"", ()) is None
    assert auth.check(b"s3cret", b"", (b"s3cret",)) is None
    assert auth.check(None, b"", ()).status == 401
    assert "api_secret" in auth.check(None, b"", ()).reason
    assert auth.check(b"s3cret", b"", (b"other",)).status == 403  # every key sent must be right
    assert auth.check(None, b"", (b"s3cret", b"")).status == 403
    assert "s3cret" not in auth.check(None, b"", (b"x",)).reason
    values, rest = take_parameter(b"measurement_id=G-1&api_secret=s3cret&x=%41+b", "api_secret")
    assert values == (b"s3cret",) and rest == b"measurement_id=G-1&x=%41+b"
    assert take_parameter(b"api%5Fsecret=a+b%2B&api_secret", "api_secret") == ((b"a b+", b""), b"")
    assert take_parameter(b"v=1&t=pageview", "api_secret") == ((), b"v=1&t=pageview")
    assert take_parameter(b"", "api_secret") == ((), b"")


# the bytes an HTTP header value can carry (VCHAR and obs-text; no leading or trailing white space)
HEADER_VALUE = st.lists(st.integers(0x21, 0xFF).filter(lambda b: b != 0x7F), min_size=1, max_size=80).map(bytes)


@given(key=HEADER_VALUE, other=HEADER_VALUE)
def test_an_api_key_matches_exactly_the_bytes_it_was_set_to(key, other):
    # os.environ hands the collector a variable's bytes decoded as UTF-8 with surrogateescape (os.fsdecode)
    [auth] = authenticators({"/k": _key_route()}, {"K": os.fsdecode(key)}).values()
    assert auth.secret == key
    assert auth.check(key, b"") is None
    assert (auth.check(other, b"") is None) == (other == key)


def _key_route():
    route = load_http_routes(ROUTING)["/mp/collect"]
    return dataclasses.replace(route, auth=Auth("api_key", "x-api-key", "K"))


# --- Kinesis: shard lineage, restriction tracker, credentials ------------------------------------------------------


def test_children_wait_for_every_known_parent():
    shards = {
        "p0": ShardInfo("p0", (), "10"),
        "p1": ShardInfo("p1", (), "20"),
        "m": ShardInfo("m", ("p0", "p1")),  # merge of p0 and p1
        "s1": ShardInfo("s1", ("m",)),  # never mind that m is open: s1 waits for it
        "orphan": ShardInfo("orphan", ("trimmed",)),  # its parent is past retention: nothing to wait for
    }
    state = StreamCheckpoint().with_shards(shards.values(), {"p1": "15"})
    assert state.position("p1") == ShardPosition("p1", "15")
    assert state.readable(shards) == ["orphan", "p0", "p1"]
    state = state.finished("p0")
    assert state.readable(shards) == ["orphan", "p1"]
    state = state.finished("p1")
    assert state.readable(shards) == ["m", "orphan"]
    state = state.advanced("m", "7")
    assert state.records == 1 and state.position("m").after == "7"


def test_tracker_checkpoints_and_stops():
    start = StreamCheckpoint().with_shards([ShardInfo("a")])
    tracker = CheckpointTracker(start)
    with pytest.raises(ValueError):
        tracker.check_done()  # returned without a checkpoint or stop: the runner must hear about it
    step = start.advanced("a", "1")
    assert tracker.try_claim(step)
    primary, residual = tracker.try_split(0)
    assert residual == step and primary.deferred and tracker.current_restriction() == primary
    assert not tracker.try_claim(step.advanced("a", "2"))
    tracker.check_done()
    assert tracker.try_split(0.5) is None
    stopped = CheckpointTracker(step)
    assert stopped.try_claim(step.stop()) and not stopped.try_claim(step)
    stopped.check_done()


def test_secret_credentials_never_echo_the_secret():
    stream = KinesisStream("arn:aws:kinesis:eu-west-1:123456789012:stream/s", "s", "m", "abc", "eu-west-1", None, "aws")
    names = []

    def read(name: str) -> bytes:
        names.append(name)
        return b'{"aws_access_key_id": "AKIATEST", "aws_secret_access_key": "very-secret"}'

    session = aws_session(stream, AwsSettings(gcp_project="grocer-data-dev"), read)
    assert session.get_credentials().access_key == "AKIATEST"
    assert names == ["projects/grocer-data-dev/secrets/aws/versions/latest"]
    with pytest.raises(CollectorConfigError) as err:
        aws_session(stream, AwsSettings(gcp_project="p"), lambda _: b'{"aws_secret_access_key": "very-secret"}')
    assert "very-secret" not in str(err.value)
    assert secret_version_name("projects/p/secrets/s/versions/3", None) == "projects/p/secrets/s/versions/3"
    with pytest.raises(CollectorConfigError):
        secret_version_name("aws", None)
