"""The routing tables of generated/routing/, typed: one definition shared by the compiler (which writes them through
`to_json`) and the collectors (which load them strictly, `datahem.runtime.collectors.routing`).

Also the names derived from a route that both sides compute: the value patterns (ARNs, paths, header names) and the
Dataflow job names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

HTTP_TABLE = "http.json"
SNS_TABLE = "sns.json"
KINESIS_TABLE = "kinesis.json"

HEALTH_PATH = "/healthz"
HTTP_METHODS = ("GET", "POST", "PUT")
HTTP_FORMATS = ("json", "form", "ua", "ga4")
AUTH_TYPES = ("none", "api_key", "hmac")
HMAC_ALGORITHMS = ("sha1", "sha256", "sha512")
HMAC_ENCODINGS = ("hex", "base64")
IP_ANONYMIZATION = ("none", "truncate", "drop")
# the keys each auth type writes to (and requires in) http.json
AUTH_KEYS = {
    "none": ("type",),
    "api_key": ("type", "header", "secret_env"),
    "hmac": ("type", "header", "secret_env", "algorithm", "encoding", "prefix"),
}
# the keys written only when set: an API key may also be accepted from a query parameter (GA4's `api_secret`)
AUTH_OPTIONAL_KEYS = {"none": (), "api_key": ("query_parameter",), "hmac": ()}
QUERY_PARAMETER = re.compile(r"^[A-Za-z0-9._~-]{1,64}\Z")
SNS_QUERY_PARAMETER = "route"

# The media types each HTTP format takes in a POST/PUT body (compared without parameters, case-insensitively). No
# Content-Type at all is taken too (a sender that declares nothing); anything else is 415, before auth or parsing.
# text/plain is what a browser's navigator.sendBeacon declares for a string body, the usual way to send without a
# CORS preflight. A `charset` parameter, when given, must be one of CHARSETS: the payloads are read as UTF-8.
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "json": ("application/json", "text/plain"),
    "ga4": ("application/json", "text/plain"),
    "form": ("application/x-www-form-urlencoded", "text/plain"),
    "ua": ("application/x-www-form-urlencoded", "text/plain"),
}
CHARSETS = ("utf-8", "us-ascii")

# The HTTP collector's connection limits (http.json `limits`): the request head (request line and headers) in bytes
# (431 over it), the time from a request's first byte to the end of its head, and from the end of its head to the end
# of its body (408 when either runs out). The bounds are what the loader accepts.
DEFAULT_MAX_HEAD_BYTES = 16 * 1024
DEFAULT_HEAD_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 30.0
MAX_HEAD_BYTES_RANGE = (1024, 1024 * 1024)
HEAD_TIMEOUT_RANGE = (0.1, 300.0)
BODY_TIMEOUT_RANGE = (0.1, 3600.0)  # Cloud Run's longest request timeout

# How old (by its signed Timestamp) an SNS message may be when it arrives; older ones are refused (403), so a captured
# delivery cannot be replayed later. SNS retries an HTTPS delivery for at most an hour by default.
DEFAULT_SNS_MAX_AGE_SECONDS = 3600
SNS_MAX_AGE_RANGE = (60, 86400)

TOPIC_ID = re.compile(r"^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}\Z")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
ORIGIN = re.compile(r"^(\*|https?://[A-Za-z0-9.-]+(:\d{1,5})?)\Z")
HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*\Z")
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
SNS_ROUTE_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
KINESIS_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128}\Z")
# an enhanced fan-out consumer of a stream: STREAM_ARN/consumer/NAME:CREATION_TIMESTAMP
KINESIS_CONSUMER_ARN = re.compile(
    r"^(arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128})/consumer/[A-Za-z0-9_.-]{1,128}:\d+\Z"
)
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}\Z")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d\Z")


def job_name(source: str) -> str:
    """The Dataflow job of a source's pipeline."""
    return f"datahem-{source.replace('_', '-')}"


def converter_module(message: str) -> str:
    """The module name of a message's generated converter (generated/pipelines/converters/<name>.py)."""
    return re.sub(r"[^a-z0-9]+", "_", message.lower())


def reader_job_name(kind: str, source: str) -> str:
    """The Dataflow job that reads a source's external stream (e.g. the Kinesis reader) into its topic."""
    return job_name(f"{kind}_{source}")


class Route(Protocol):
    """What every routing entry carries: which source it feeds, the message type and the topic it publishes to."""

    @property
    def source(self) -> str: ...
    @property
    def message_type(self) -> str: ...
    @property
    def topic(self) -> str: ...


def _common(route: Route) -> dict[str, Any]:
    return {"source": route.source, "message_type": route.message_type, "topic": route.topic}


@dataclass(frozen=True)
class Auth:
    """How a route authenticates requests; `secret_env` names the environment variable, never the secret."""

    type: str = "none"
    header: str = ""
    secret_env: str = ""
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    query_parameter: str = ""  # api_key: the key is also accepted as this query parameter (GA4's `api_secret`)

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in AUTH_KEYS[self.type]}
        out.update({k: getattr(self, k) for k in AUTH_OPTIONAL_KEYS[self.type] if getattr(self, k)})
        return out


@dataclass(frozen=True)
class HttpLimits:
    """The HTTP collector's limits on every connection, whatever the route (see DEFAULT_MAX_HEAD_BYTES)."""

    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    head_timeout_seconds: float = DEFAULT_HEAD_TIMEOUT_SECONDS
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "max_head_bytes": self.max_head_bytes,
            "head_timeout_seconds": self.head_timeout_seconds,
            "body_timeout_seconds": self.body_timeout_seconds,
        }


@dataclass(frozen=True)
class HttpTable:
    routes: dict[str, HttpRoute] = field(default_factory=dict)  # by path
    limits: HttpLimits = field(default_factory=HttpLimits)


@dataclass(frozen=True)
class HttpRoute:
    path: str
    methods: tuple[str, ...]
    source: str
    message_type: str
    topic: str
    format: str
    auth: Auth
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    ip_anonymization: str

    def to_json(self) -> dict[str, Any]:
        return {
            **_common(self),
            "path": self.path,
            "methods": list(self.methods),
            "format": self.format,
            "auth": self.auth.to_json(),
            "cors_origins": list(self.cors_origins),
            "max_body_bytes": self.max_body_bytes,
            "ip_anonymization": self.ip_anonymization,
        }


@dataclass(frozen=True)
class SnsRoute:
    route: str
    source: str
    message_type: str
    topic: str
    topic_arns: tuple[str, ...]  # sorted
    max_age_seconds: int = DEFAULT_SNS_MAX_AGE_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {**_common(self), "topic_arns": list(self.topic_arns), "max_age_seconds": self.max_age_seconds}


@dataclass(frozen=True)
class SnsTable:
    query_parameter: str
    routes: dict[str, SnsRoute] = field(default_factory=dict)


@dataclass(frozen=True)
class KinesisStream:
    stream_arn: str
    source: str
    message_type: str
    topic: str
    region: str
    role_arn: str | None
    credentials_secret: str | None
    # how the stream reaches its topic when deployed: `reader` (a Dataflow job of its own) or `pubsub_import` (the
    # topic is a Pub/Sub import topic reading the stream through `consumer_arn`, an enhanced fan-out consumer).
    # Not in kinesis.json: `datahem dev` reads every stream with the reader, whichever way it is deployed.
    via: str = "reader"
    consumer_arn: str | None = None

    @property
    def stream_name(self) -> str:
        return self.stream_arn.rsplit("/", 1)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            **_common(self),
            "region": self.region,
            "role_arn": self.role_arn,
            "credentials_secret": self.credentials_secret,
        }


def http_table(routes: list[HttpRoute], comment: str, limits: HttpLimits | None = None) -> dict[str, Any]:
    """http.json: the connection limits and a list of routes sorted by path."""
    return {
        "comment": comment,
        "limits": (limits or HttpLimits()).to_json(),
        "routes": [r.to_json() for r in sorted(routes, key=lambda r: r.path)],
    }


def sns_table(routes: list[SnsRoute], comment: str) -> dict[str, Any]:
    """sns.json: the query parameter and the routes keyed by its value."""
    return {
        "comment": comment,
        "query_parameter": SNS_QUERY_PARAMETER,
        "routes": {r.route: r.to_json() for r in routes},
    }


def kinesis_table(streams: list[KinesisStream], comment: str) -> dict[str, Any]:
    """kinesis.json: the streams keyed by ARN."""
    return {"comment": comment, "streams": {s.stream_arn: s.to_json() for s in streams}}
