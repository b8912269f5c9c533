"""Local stand-ins for what AWS serves to an SNS endpoint, built from scratch with `cryptography`:

- a TLS certificate authority and a server certificate for 127.0.0.1, so the collector fetches over real https;
- a signing key with its self-signed certificate, and a signer that follows AWS's documented string-to-sign
  independently of the collector's code (so a shared mistake cannot make both sides agree);
- `FakeAws`, an https server on 127.0.0.1 that serves signing certificates, records SubscribeURL visits and
  proxies moto's own SNS certificates (moto signs its deliveries with a key whose certificate it serves).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(
    subject_key: rsa.RSAPrivateKey,
    common_name: str,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    ip: str | None = None,
    ca: bool = False,
    valid_days: int = 30,
    starts_days_ago: int = 1,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=starts_days_ago))
        .not_valid_after(now - timedelta(days=starts_days_ago) + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer[1] if issuer else subject_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Signer:
    """Signs SNS messages as AWS documents it (not with the collector's code)."""

    key: rsa.RSAPrivateKey

    def sign(self, message: dict, cert_url: str, version: str = "1") -> dict:
        names = NOTIFICATION_FIELDS if message["Type"] == "Notification" else CONFIRMATION_FIELDS
        text = "".join(f"{name}\n{message[name]}\n" for name in names if name in message)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(text.encode("utf-8"), padding.PKCS1v15(), algorithm)
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": cert_url,
        }


@dataclass
class FakeAws:
    """The https side of AWS SNS on 127.0.0.1: certificates under /certs/*.pem, SubscribeURLs under /confirm."""

    ca_file: Path
    signing_pem: bytes
    expired_pem: bytes
    moto_url: str
    port: int = 0
    visits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def visited(self, prefix: str) -> list[str]:
        return [v for v in list(self.visits) if v.startswith(prefix)]


def _handler(fake: FakeAws):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            fake.visits.append(self.path)
            if self.path.startswith("/certs/expired") and self.path.endswith(".pem"):
                self._send(200, fake.expired_pem)
            elif self.path.startswith("/certs/") and self.path.endswith(".pem"):
                self._send(200, fake.signing_pem)
            elif self.path.startswith("/confirm"):
                self._send(200, b"<ConfirmSubscriptionResponse/>")
            elif self.path.startswith("/moto/"):
                # moto serves the certificates of its SNS signing keys; it picks the service from the SigV4
                # credential scope, so name sns there (moto does not check the signature).
                request = urllib.request.Request(
                    fake.moto_url + "/" + self.path.removeprefix("/moto/"),
                    headers={
                        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/sns/aws4_request"
                    },
                )
                with urllib.request.urlopen(request, timeout=10) as resp:
                    self._send(resp.status, resp.read())
            else:
                self._send(404, b"not found")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextlib.contextmanager
def fake_aws(directory: Path, signing_cert: x509.Certificate, expired_cert: x509.Certificate, moto_url: str):
    """Start FakeAws over TLS (its own CA, written to directory/ca.pem for the collector to trust)."""
    ca_key, server_key = new_key(), new_key()
    ca = certificate(ca_key, "datahem test CA", ca=True)
    server = certificate(server_key, "127.0.0.1", issuer=(ca, ca_key), ip="127.0.0.1")
    (directory / "ca.pem").write_bytes(pem(ca))
    (directory / "server.pem").write_bytes(pem(server))
    (directory / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    fake = FakeAws(directory / "ca.pem", pem(signing_cert), pem(expired_cert), moto_url)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    fake.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def serve_wsgi(app) -> Iterator[str]:
    """A WSGI app on a real localhost port (werkzeug, threaded); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
