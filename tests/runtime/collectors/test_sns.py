"""The SNS collector end to end: the real functions-framework app (in-process test client, and on a real port for
moto's deliveries), the real Pub/Sub emulator, signatures made with locally generated keys and checked against
certificates fetched over TLS from a localhost stand-in for AWS, and moto's own signed deliveries.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import functions_framework
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datahem.runtime.collectors.publisher import PublisherSettings
from datahem.runtime.collectors.serve import SNS_MAIN
from datahem.runtime.collectors.sns.collector import (
    BATCH_NAMESPACE,
    TEST_ONLY_CA_ENV,
    TEST_ONLY_HOST_ENV,
    SnsCollector,
    SnsSettings,
)
from datahem.runtime.collectors.sns.verify import CertificateStore, CertPolicy, SignatureVerifier, Untrusted
from tests.runtime.collectors.conftest import PROJECT, ROUTING, write_json
from tests.runtime.collectors.sns_fakes import Signer, certificate, fake_aws, new_key, serve_wsgi

pytestmark = pytest.mark.emulator

ORDERS_ARN = "arn:aws:sns:eu-west-1:123456789012:order-events"
ORDERS_TOPIC = "grocer.commerce.v1.Order"
MOTO_TOPIC_NAME = "datahem-moto-orders"
MOTO_ARN = f"arn:aws:sns:eu-west-1:123456789012:{MOTO_TOPIC_NAME}"
MOTO_PUBSUB_TOPIC = "test.collectors.MotoOrder"
LOCALHOST = r"^127\.0\.0\.1$"
MOTO_MAX_AGE = 120


def sns_time(age_s: float = 0.0) -> str:
    """An SNS Timestamp (publish time, UTC, milliseconds) `age_s` seconds ago."""
    return (datetime.now(UTC) - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module")
def keys():
    signing, forger, old = new_key(), new_key(), new_key()
    return {
        "signer": Signer(signing),
        "forger": Signer(forger),
        "cert": certificate(signing, "sns.amazonaws.com"),
        "expired": certificate(old, "sns.amazonaws.com", valid_days=10, starts_days_ago=20),
        "old_signer": Signer(old),
    }


@pytest.fixture(scope="module")
def aws(tmp_path_factory, keys, moto_url):
    with fake_aws(tmp_path_factory.mktemp("tls"), keys["cert"], keys["expired"], moto_url) as fake:
        yield fake


@pytest.fixture(scope="module")
def routing_dir(tmp_path_factory):
    table = json.loads((ROUTING / "sns.json").read_text())
    table["routes"]["moto"] = {
        "message_type": "test.collectors.MotoOrder",
        "source": "moto_orders",
        "topic": MOTO_PUBSUB_TOPIC,
        "topic_arns": [MOTO_ARN],
        "max_age_seconds": MOTO_MAX_AGE,
    }
    out = tmp_path_factory.mktemp("routing")
    write_json(out / "sns.json", table)
    return out


@pytest.fixture(scope="module")
def function(pubsub, aws, routing_dir):
    """The deployable entry point (datahem/runtime/collectors/sns/main.py) loaded by functions-framework, configured
    through the environment exactly as Cloud Functions would, plus the TEST-ONLY certificate policy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATAHEM_ROUTING_DIR", str(routing_dir))
        mp.setenv("DATAHEM_PUBLISH_TIMEOUT_SECONDS", "5")
        mp.setenv(TEST_ONLY_HOST_ENV, LOCALHOST)
        mp.setenv(TEST_ONLY_CA_ENV, str(aws.ca_file))
        for name in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE"):  # set by create_app; restored afterwards
            mp.setenv(name, "")
        app = functions_framework.create_app(target="collect", source=str(SNS_MAIN), signature_type="http")
        collector = sys.modules["main"].COLLECTOR
        yield app
        collector.close()


@pytest.fixture()
def client(function):
    return function.test_client()


def notification(message: str = '{"order_id": "ORD-1"}', topic_arn: str = ORDERS_ARN, **extra) -> dict:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": sns_time(),
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        **extra,
    }


def confirmation(kind: str, subscribe_url: str, topic_arn: str = ORDERS_ARN) -> dict:
    return {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "Token": "tok-" + uuid.uuid4().hex,
        "TopicArn": topic_arn,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": subscribe_url,
        "Timestamp": sns_time(),
    }


def post(client, message: dict, route: str = "orders", headers: dict | None = None):
    return client.post(f"/?route={route}", data=json.dumps(message), headers=headers or {})


def check_attributes(attributes: dict, event_id: str, source: str = "orders", message_type: str = ORDERS_TOPIC):
    assert set(attributes) == {"uuid", "timestamp", "source", "message_type", "collector"}
    assert attributes["uuid"] == event_id
    assert attributes["source"] == source
    assert attributes["message_type"] == message_type
    assert attributes["collector"] == "sns"
    stamp = datetime.strptime(attributes["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_notification_is_published(pubsub, aws, keys, client, version):
    sub = pubsub.subscribe(ORDERS_TOPIC)
    message = keys["signer"].sign(notification(), aws.url(f"/certs/v{version}.pem"), version)
    resp = post(client, message)
    assert resp.status_code == 200, resp.text
    [got] = pubsub.pull(sub, 1)
    assert got.data == message["Message"].encode()
    check_attributes(got.attributes, message["MessageId"])


def test_subject_is_signed_and_header_type_accepted(pubsub, aws, keys, client):
    sub = pubsub.subscribe(ORDERS_TOPIC)
    message = keys["signer"].sign(notification(Subject="Order placed"), aws.url("/certs/subject.pem"), "2")
    resp = post(client, message, headers={"x-amz-sns-message-type": "Notification"})
    assert resp.status_code == 200, resp.text
    [got] = pubsub.pull(sub, 1)
    check_attributes(got.attributes, message["MessageId"])


def test_batch_message_one_event_per_record_with_stable_ids(pubsub, aws, keys, client):
    sub = pubsub.subscribe(ORDERS_TOPIC)
    records = [{"order_id": "ORD-1"}, {"order_id": "ORD-2"}]
    message = keys["signer"].sign(notification(json.dumps(records)), aws.url("/certs/batch.pem"))
    assert post(client, message).status_code == 200
    assert post(client, message).status_code == 200  # SNS redelivers
    got = pubsub.pull(sub, 4)
    expected = {str(uuid.uuid5(BATCH_NAMESPACE, f"{message['MessageId']}/{i}")): r for i, r in enumerate(records)}
    assert sorted(g.attributes["uuid"] for g in got) == sorted(list(expected) * 2)
    for g in got:
        assert g.json() == expected[g.attributes["uuid"]]


def test_certificate_is_fetched_once(aws, keys, client):
    url = aws.url("/certs/cached.pem")
    for _ in range(3):
        assert post(client, keys["signer"].sign(notification(), url)).status_code == 200
    assert aws.visited("/certs/cached.pem") == ["/certs/cached.pem"]


def rejections(aws, keys):
    signer, good = keys["signer"], aws.url("/certs/rejections.pem")
    tampered = signer.sign(notification(), good)
    tampered["Message"] = '{"order_id": "ORD-666"}'
    other_topic = "arn:aws:sns:eu-west-1:123456789012:someone-else"
    wrong_version = signer.sign(notification(), good, "2") | {"SignatureVersion": "3"}
    moto_old = signer.sign(notification(topic_arn=MOTO_ARN, Timestamp=sns_time(MOTO_MAX_AGE + 5)), good)
    naive = sns_time()[:-1]
    return [
        # (id, route, message or raw body, headers, status)
        ("tampered message", "orders", tampered, {}, 403),
        ("signed with another key", "orders", keys["forger"].sign(notification(), good), {}, 403),
        ("certificate from another host", "orders", signer.sign(notification(), "https://localhost:1/c.pem"), {}, 403),
        ("certificate over http", "orders", signer.sign(notification(), good.replace("https", "http")), {}, 403),
        ("certificate not .pem", "orders", signer.sign(notification(), aws.url("/certs/x.pem.txt")), {}, 403),
        (
            "expired certificate",
            "orders",
            keys["old_signer"].sign(notification(), aws.url("/certs/expired.pem")),
            {},
            403,
        ),
        ("TopicArn not allowed", "orders", signer.sign(notification(topic_arn=other_topic), good), {}, 403),
        ("TopicArn of another route", "moto", signer.sign(notification(), good), {}, 403),
        ("unsupported SignatureVersion", "orders", wrong_version, {}, 403),
        ("unknown route", "nope", signer.sign(notification(), good), {}, 404),
        ("no route parameter", "", signer.sign(notification(), good), {}, 400),
        ("not JSON", "orders", b"Message=hi", {}, 400),
        ("unknown Type", "orders", {**signer.sign(notification(), good), "Type": "Other"}, {}, 400),
        (
            "header and Type disagree",
            "orders",
            signer.sign(notification(), good),
            {"x-amz-sns-message-type": "SubscriptionConfirmation"},
            400,
        ),
        (
            "missing MessageId",
            "orders",
            {k: v for k, v in signer.sign(notification(), good).items() if k != "MessageId"},
            {},
            400,
        ),
        ("oversized", "orders", b"{" + b" " * (1024 * 1024 + 10) + b"}", {}, 413),
        ("older than an hour", "orders", signer.sign(notification(Timestamp=sns_time(3601)), good), {}, 403),
        ("older than the route's max_age", "moto", moto_old, {}, 403),
        ("Timestamp not a time", "orders", signer.sign(notification(Timestamp="yesterday"), good), {}, 400),
        ("Timestamp without a zone", "orders", signer.sign(notification(Timestamp=naive), good), {}, 400),
    ]


def test_every_rejection_has_its_status_and_publishes_nothing(pubsub, aws, keys, client):
    subs = [pubsub.subscribe(ORDERS_TOPIC), pubsub.subscribe(MOTO_PUBSUB_TOPIC)]
    for name, route, message, headers, status in rejections(aws, keys):
        body = message if isinstance(message, bytes) else json.dumps(message)
        resp = client.post(f"/?route={route}" if route else "/", data=body, headers=headers)
        assert resp.status_code == status, f"{name}: {resp.status_code} {resp.text}"
    assert client.get("/?route=orders").status_code == 405
    assert not aws.visited("/certs/x.pem.txt")
    time.sleep(1.0)  # nothing was handed to the publisher; give a wrongly published event time to show anyway
    for sub in subs:
        assert pubsub.pull(sub, 0, timeout=1, settle=0.1) == []


def test_unreachable_certificate_is_503_so_sns_retries(aws, keys, client):
    resp = post(client, keys["signer"].sign(notification(), aws.url("/missing/gone.pem")))
    assert resp.status_code == 503 and "Retry-After" in resp.headers


def test_subscription_confirmation_fetches_subscribe_url_after_verification(pubsub, aws, keys, client):
    sub = pubsub.subscribe(ORDERS_TOPIC)
    good = confirmation("SubscriptionConfirmation", aws.url("/confirm?Action=ConfirmSubscription&Token=good"))
    assert post(client, keys["signer"].sign(good, aws.url("/certs/confirm.pem"))).status_code == 200
    assert aws.visited("/confirm?Action=ConfirmSubscription&Token=good") == [
        "/confirm?Action=ConfirmSubscription&Token=good"
    ]
    forged = confirmation("SubscriptionConfirmation", aws.url("/confirm?Token=forged"))
    assert post(client, keys["forger"].sign(forged, aws.url("/certs/confirm.pem"))).status_code == 403
    elsewhere = confirmation("SubscriptionConfirmation", "https://localhost:1/confirm?Token=elsewhere")
    assert post(client, keys["signer"].sign(elsewhere, aws.url("/certs/confirm.pem"))).status_code == 403
    unsubscribed = confirmation("UnsubscribeConfirmation", aws.url("/confirm?Token=unsubscribe"))
    assert post(client, keys["signer"].sign(unsubscribed, aws.url("/certs/confirm.pem"), "2")).status_code == 200
    assert aws.visited("/confirm?Token=") == []  # neither forged nor unsubscribe confirmations are fetched
    assert pubsub.pull(sub, 0, timeout=2, settle=1.0) == []


def test_publish_failure_is_503(aws, keys, routing_dir):
    from tests.emulators import free_port

    dead = PublisherSettings(PROJECT, emulator_host=f"127.0.0.1:{free_port()}", timeout_s=1.0, retry_after_s=9)
    policy = CertPolicy(host_pattern=re.compile(LOCALHOST), ca_file=str(aws.ca_file))
    collector = SnsCollector.create(SnsSettings(dead, routing_dir, policy))
    try:
        message = keys["signer"].sign(notification(), aws.url("/certs/dead.pem"))
        resp = collector.handle("POST", {"route": "orders"}, {}, json.dumps(message).encode())
        assert resp.status == 503
        assert dict(resp.headers)["Retry-After"] == "9"
    finally:
        collector.close(timeout=2)


def test_production_policy_accepts_only_aws_hosts(aws, keys):
    policy = CertPolicy()
    allowed = [
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ]
    refused = [
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com/x.txt",
        "https://user@sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.x.amazonaws.com/x.pem",
        aws.url("/certs/production.pem"),
    ]
    for url in allowed:
        policy.check_url(url, "SigningCertURL", ".pem")
    for url in refused:
        with pytest.raises(Untrusted):
            policy.check_url(url, "SigningCertURL", ".pem")
    verifier = SignatureVerifier(CertificateStore(policy))
    with pytest.raises(Untrusted):
        verifier.verify(keys["signer"].sign(notification(), aws.url("/certs/production.pem")))
    assert aws.visited("/certs/production.pem") == []


class Relay:
    """Stands between moto and the collector: forwards each delivery as moto sent it, then once more with its
    SigningCertURL pointed at FakeAws (which proxies moto's certificate). The URL is not signed, so moto's own
    signature must still verify; the original must be refused, its certificate host not being allowed here."""

    def __init__(self, collector_url: str, aws) -> None:
        self.statuses: list[tuple[str, int]] = []
        self.done = threading.Event()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = json.loads(body)
                pem_name = message["SigningCertURL"].rsplit("/", 1)[1]
                rewritten = {**message, "SigningCertURL": aws.url(f"/moto/{pem_name}")}
                for name, payload in (("original", body), ("rewritten", json.dumps(rewritten).encode())):
                    request = urllib.request.Request(collector_url + self.path, data=payload, method="POST")
                    try:
                        with urllib.request.urlopen(request, timeout=20) as resp:
                            relay.statuses.append((name, resp.status))
                    except urllib.error.HTTPError as err:
                        relay.statuses.append((name, err.code))
                relay.done.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_moto_delivers_to_the_collector_on_a_real_port(pubsub, moto_url, aws, function):
    sub = pubsub.subscribe(MOTO_PUBSUB_TOPIC)
    sns = boto3.client("sns", endpoint_url=moto_url, region_name="eu-west-1")
    arn = sns.create_topic(Name=MOTO_TOPIC_NAME)["TopicArn"]
    assert arn == MOTO_ARN
    with serve_wsgi(function) as collector_url:
        relay = Relay(collector_url, aws)
        try:
            sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"{relay.url}/?route=moto")
            message_id = sns.publish(TopicArn=arn, Message='{"order_id": "ORD-MOTO"}')["MessageId"]
            assert relay.done.wait(30), "moto did not deliver"
        finally:
            relay.close()
    assert relay.statuses == [("original", 403), ("rewritten", 200)]
    [got] = pubsub.pull(sub, 1)
    assert got.data == b'{"order_id": "ORD-MOTO"}'
    check_attributes(got.attributes, message_id, "moto_orders", "test.collectors.MotoOrder")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(age=st.one_of(st.floats(-30, MOTO_MAX_AGE - 5), st.floats(MOTO_MAX_AGE + 5, 30 * 86400)))
def test_a_notification_is_taken_only_within_its_route_max_age(aws, keys, client, age):
    message = notification(topic_arn=MOTO_ARN, Timestamp=sns_time(age))
    resp = post(client, keys["signer"].sign(message, aws.url("/certs/age.pem")), route="moto")
    assert resp.status_code == (200 if age < MOTO_MAX_AGE else 403), resp.text


def test_a_stale_subscription_confirmation_is_not_fetched(aws, keys, client):
    old = confirmation("SubscriptionConfirmation", aws.url("/confirm?Token=stale")) | {"Timestamp": sns_time(3601)}
    assert post(client, keys["signer"].sign(old, aws.url("/certs/confirm.pem"))).status_code == 403
    assert aws.visited("/confirm?Token=stale") == []
