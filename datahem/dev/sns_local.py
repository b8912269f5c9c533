"""Local SNS signing for `datahem dev`: the SNS collector verifies every notification against a certificate it
fetches over https from an SNS host, so locally something must play AWS's part.

At start, `datahem dev` makes a throw-away CA, a TLS certificate for 127.0.0.1 signed by it, and a signing key with
a self-signed certificate; it serves that certificate over https from 127.0.0.1 (a thread of the supervisor) and
starts the collector with its TEST-ONLY settings (host pattern ^127\\.0\\.0\\.1$, that CA). The keys live in the
state directory (.datahem/dev/), are regenerated at every start and sign nothing but local test notifications.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CERT_PATH = "/certs/datahem-dev.pem"
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key, common_name: str, issuer=None, ip: str | None = None, ca: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@contextlib.contextmanager
def certificate_server(directory: Path) -> Iterator[dict[str, str]]:
    """Write the keys to directory and serve the signing certificate over https on 127.0.0.1.

    Yields the collector's environment additions plus `cert_url` and `signing_key` (a PEM file) for the sender.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, server_key, signing_key = _key(), _key(), _key()
    ca = _certificate(ca_key, "datahem dev CA", ca=True)
    server = _certificate(server_key, "127.0.0.1", issuer=(ca, ca_key), ip="127.0.0.1")
    signing_pem = _pem(_certificate(signing_key, "datahem dev SNS signing"))
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "server.pem").write_bytes(_pem(server))
    (directory / "server.key").write_bytes(_key_pem(server_key))
    (directory / "signing.key").write_bytes(_key_pem(signing_key))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            found = self.path == CERT_PATH
            body = signing_pem if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, name="sns-certificates", daemon=True)
    thread.start()
    try:
        yield {
            "DATAHEM_SNS_TEST_ONLY_CERT_HOST_PATTERN": r"^127\.0\.0\.1\Z",
            "DATAHEM_SNS_TEST_ONLY_CA_FILE": str(directory / "ca.pem"),
            "cert_url": f"https://127.0.0.1:{httpd.server_address[1]}{CERT_PATH}",
            "signing_key": str(directory / "signing.key"),
        }
    finally:
        httpd.shutdown()
        httpd.server_close()


def signed_notification(message: str, topic_arn: str, signing_key: Path, cert_url: str) -> dict:
    """An SNS Notification as AWS delivers it, signed (SignatureVersion 2, SHA256withRSA) with the local key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    note = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    text = "".join(f"{name}\n{note[name]}\n" for name in NOTIFICATION_FIELDS if name in note)
    key = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
    signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return {
        **note,
        "SignatureVersion": "2",
        "Signature": base64.b64encode(signature).decode(),
        "SigningCertURL": cert_url,
    }
