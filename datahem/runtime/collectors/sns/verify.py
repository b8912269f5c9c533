"""Verify that an SNS message really comes from AWS SNS, the way AWS documents it.

Each message is signed with the private key of a certificate that SNS publishes at `SigningCertURL`
(SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over a canonical string of some of its fields. The certificate
is only ever fetched over https from a host matching `^sns\\.[a-zA-Z0-9-]{3,}\\.amazonaws\\.com(\\.cn)?$`, without
following redirects, so a forged message cannot point the collector at a key of the forger's choosing. Fetched
keys are cached (SNS reuses one certificate for many messages) and checked against the certificate's validity
period at every use.

The host pattern and the CA bundle can be replaced, but only through settings named TEST-ONLY: tests serve a
locally generated certificate from localhost over TLS.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import logging
import re
import ssl
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

log = logging.getLogger(__name__)

AWS_SNS_HOST = re.compile(r"^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?\Z")
NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
MESSAGE_TYPES = (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)
# The fields in the string to sign, in order (AWS: "Verifying the signatures of Amazon SNS messages").
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL_SIGNED_FIELDS = frozenset({"Subject"})
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERT_BYTES = 64 * 1024


class Untrusted(Exception):
    """The message is not provably from SNS (403): forged, tampered, or signed with a key from elsewhere."""


class Unavailable(Exception):
    """The certificate could not be fetched right now (503, so SNS retries later)."""


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """`Key\\nValue\\n` for each signed field of the message's type, in AWS's order, skipping absent optional ones."""
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise Untrusted(f"unknown message type {kind!r}")
    lines = []
    for name in SIGNED_FIELDS[kind]:
        if name not in message and name in OPTIONAL_SIGNED_FIELDS:
            continue
        value = message.get(name)
        if not isinstance(value, str):
            raise Untrusted(f"signed field {name} is missing or not a string")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


@dataclass(frozen=True)
class CertPolicy:
    """Where signing certificates (and subscription URLs) may come from.

    `host_pattern` defaults to AWS's SNS hosts. `ca_file` is None in production (the system's CAs); both are
    overridden only by TEST-ONLY settings.
    """

    host_pattern: re.Pattern = AWS_SNS_HOST
    ca_file: str | None = None
    timeout_s: float = 5.0

    def check_url(self, url: str, what: str, suffix: str = "") -> tuple[str, int, str]:
        """(host, port, path-with-query) of an allowed URL, else raise Untrusted saying why."""
        if not isinstance(url, str):
            raise Untrusted(f"{what} is missing")
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise Untrusted(f"{what} is not https")
        host = parts.hostname or ""
        if not self.host_pattern.match(host) or parts.username or parts.password:
            raise Untrusted(f"{what} host {host!r} is not an SNS host")
        if suffix and not parts.path.endswith(suffix):
            raise Untrusted(f"{what} does not end in {suffix}")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return host, parts.port or 443, path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def get(self, url: str, what: str, suffix: str = "", limit: int = MAX_CERT_BYTES) -> bytes:
        """GET an allowed https URL (no redirects, no proxies, bounded size); raise Untrusted or Unavailable."""
        host, port, path = self.check_url(url, what, suffix)
        conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self.ssl_context())
        try:
            conn.request("GET", path, headers={"User-Agent": "datahem-sns-collector"})
            response = conn.getresponse()
            body = response.read(limit + 1)
        except (OSError, http.client.HTTPException) as err:
            raise Unavailable(f"cannot fetch {what} from {host}: {type(err).__name__}: {err}") from None
        finally:
            conn.close()
        if response.status != 200:
            raise Unavailable(f"fetching {what} from {host} answered {response.status}")
        if len(body) > limit:
            raise Untrusted(f"{what} at {host} is larger than {limit} bytes")
        return body


@dataclass
class CertificateStore:
    """Signing certificates by URL, fetched under the policy and kept (a bounded LRU) for later messages."""

    policy: CertPolicy = field(default_factory=CertPolicy)
    max_entries: int = 32
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def certificate(self, url: str) -> x509.Certificate:
        self.policy.check_url(url, "SigningCertURL", ".pem")
        with self._lock:
            cert = self._cache.get(url)
            if cert is not None:
                self._cache.move_to_end(url)
        if cert is None:
            pem = self.policy.get(url, "SigningCertURL", ".pem")
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise Untrusted("SigningCertURL does not hold a PEM certificate") from None
            if not isinstance(cert.public_key(), rsa.RSAPublicKey):
                raise Untrusted("the signing certificate's key is not RSA")
            with self._lock:
                self._cache[url] = cert
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Untrusted("the signing certificate is not valid now")
        return cert


@dataclass
class SignatureVerifier:
    store: CertificateStore = field(default_factory=CertificateStore)

    def verify(self, message: Mapping[str, Any]) -> None:
        """Return if the message is signed by SNS; raise Untrusted (or Unavailable) otherwise."""
        version = message.get("SignatureVersion")
        if version not in SIGNATURE_HASHES:
            raise Untrusted(f"unsupported SignatureVersion {version!r}")
        try:
            signature = base64.b64decode(message.get("Signature") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise Untrusted("Signature is not base64") from None
        if not signature:
            raise Untrusted("Signature is missing")
        signed = string_to_sign(message)
        cert = self.store.certificate(message.get("SigningCertURL"))
        try:
            cert.public_key().verify(signature, signed, padding.PKCS1v15(), SIGNATURE_HASHES[version]())
        except InvalidSignature:
            raise Untrusted("the signature does not match the message") from None
