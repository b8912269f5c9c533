"""Per-route request authentication for webhooks: none, an API key header, or an HMAC signature header.

An API key may also be accepted from a query parameter (`query_parameter`), as Google's GA4 Measurement Protocol
sends its `api_secret`; the parameter is taken out of the query string before anything else reads it (a GET's
payload is its query string), so the key never reaches an event, an attribute or a log line.

Secrets come from the environment variables the routing table names; they are read once at start-up (a missing
one stops the collector, instead of failing every request) and are compared in constant time, as bytes: the header
value exactly as sent (a non-ASCII key sent as UTF-8 matches the same key in the environment). A missing header is
401 (the sender did not authenticate), a wrong one 403 (it did, and failed). The HMAC covers the raw body as
received (for GET, the raw query string, which is where a GET carries its payload); the header may carry a fixed
prefix such as `sha256=` and the digest in hex (any case) or base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.routing import Auth, HttpRoute

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class AuthFailure:
    status: int
    reason: str


@dataclass(frozen=True)
class Authenticator:
    """The checks of one route, with its secret resolved (kept out of repr so it never reaches a log)."""

    auth: Auth
    secret: bytes = field(default=b"", repr=False)

    @property
    def header(self) -> bytes:
        """The header carrying the credential (ASGI spelling: lower-case bytes); empty when there is none."""
        return self.auth.header.encode("latin-1")

    @property
    def query_parameter(self) -> str:
        """The query parameter that may carry the API key; empty when the key is only taken from the header."""
        return self.auth.query_parameter

    def check(self, presented: bytes | None, signed: bytes, in_query: tuple[bytes, ...] = ()) -> AuthFailure | None:
        """Check the value of the route's auth header, as the bytes sent (None when absent), against the signed
        bytes; `in_query` holds the values of the route's key query parameter (percent-decoded), when it has one.
        An API key may come in the header, the query parameter or both: every one sent must be the key."""
        if self.auth.type == "none":
            return None
        if self.auth.type == "api_key" and self.auth.query_parameter:
            sent = ([presented] if presented is not None else []) + list(in_query)
            if not sent:
                where = f"{self.auth.header} header or {self.auth.query_parameter} query parameter"
                return AuthFailure(401, f"missing {where}")
            # every value is compared, so the time taken does not say which one was wrong
            if not all([_same(value, self.secret) for value in sent]):  # noqa: C419
                return AuthFailure(403, f"wrong {self.auth.header} or {self.auth.query_parameter}")
            return None
        if presented is None:
            return AuthFailure(401, f"missing {self.auth.header} header")
        if self.auth.type == "api_key":
            return None if _same(presented, self.secret) else AuthFailure(403, f"wrong {self.auth.header}")
        return self._check_hmac(presented, signed)

    def _check_hmac(self, presented: bytes, signed: bytes) -> AuthFailure | None:
        bad = AuthFailure(403, f"wrong {self.auth.header} signature")
        prefix = self.auth.prefix.encode("utf-8")
        if prefix and not presented.startswith(prefix):
            return bad
        value = presented[len(prefix) :].strip()
        expected = hmac.new(self.secret, signed, DIGESTS[self.auth.algorithm]).digest()
        try:
            if self.auth.encoding == "hex":
                given = bytes.fromhex(value.decode("ascii"))
            else:
                given = base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
            return bad
        return None if hmac.compare_digest(given, expected) else bad


def take_parameter(query: bytes, name: str) -> tuple[tuple[bytes, ...], bytes]:
    """The values of query parameter `name` (percent- and `+`-decoded, as bytes) and the query string without it.
    The rest of the query string is kept byte for byte."""
    wanted = name.encode("ascii")
    values: list[bytes] = []
    kept: list[bytes] = []
    for pair in query.split(b"&"):
        key, _, value = pair.partition(b"=")
        if unquote_to_bytes(key.replace(b"+", b" ")) == wanted:
            values.append(unquote_to_bytes(value.replace(b"+", b" ")))
        else:
            kept.append(pair)
    return (tuple(values), b"&".join(kept)) if values else ((), query)


def _same(presented: bytes, secret: bytes) -> bool:
    """Constant time whatever the two values, their lengths included: compares their SHA-256 digests."""
    return hmac.compare_digest(hashlib.sha256(presented).digest(), hashlib.sha256(secret).digest())


def secret_bytes(value: str) -> bytes:
    """A secret from the environment as the bytes the process was given (os.environ decodes them as UTF-8 with
    surrogateescape; this undoes that), so a key is compared with exactly the bytes a client sends."""
    return value.encode("utf-8", "surrogateescape")


def authenticators(routes: Mapping[str, HttpRoute], env: Mapping[str, str]) -> dict[str, Authenticator]:
    """One authenticator per route path; raises CollectorConfigError naming every secret variable that is unset."""
    missing = sorted(
        {r.auth.secret_env for r in routes.values() if r.auth.type != "none" and not env.get(r.auth.secret_env)}
    )
    if missing:
        users = {
            name: sorted(p for p, r in routes.items() if r.auth.type != "none" and r.auth.secret_env == name)
            for name in missing
        }
        detail = "; ".join(f"{name} (auth of {', '.join(paths)})" for name, paths in users.items())
        raise CollectorConfigError(f"secret environment variable(s) not set: {detail}")
    return {
        path: Authenticator(r.auth, secret_bytes(env[r.auth.secret_env]) if r.auth.type != "none" else b"")
        for path, r in routes.items()
    }
