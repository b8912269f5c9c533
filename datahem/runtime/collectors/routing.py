"""Load the routing tables the compiler writes to generated/routing/ into frozen objects, strictly.

The tables are a contract between the compiler and the collectors, deployed from the same commit. A collector that
meets something it does not understand (an unknown key, an auth type it cannot check, a topic id Pub/Sub would
refuse) must not guess: it refuses to start with a `RoutingTableError` that lists every problem with its JSON path,
so the fix is one `datahem build` (or one compiler bug report) away.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datahem.runtime.collectors.errors import RoutingTableError
from datahem.runtime.contracts.routing import (  # noqa: F401  (re-exported: the collectors import them from here)
    AUTH_KEYS,
    AUTH_OPTIONAL_KEYS,
    AUTH_TYPES,
    BODY_TIMEOUT_RANGE,
    CHARSETS,
    CONTENT_TYPES,
    ENV_NAME,
    HEAD_TIMEOUT_RANGE,
    HEADER_NAME,
    HEALTH_PATH,
    HMAC_ALGORITHMS,
    HMAC_ENCODINGS,
    HTTP_FORMATS,
    HTTP_METHODS,
    HTTP_PATH,
    HTTP_TABLE,
    IP_ANONYMIZATION,
    KINESIS_ARN,
    KINESIS_TABLE,
    MAX_HEAD_BYTES_RANGE,
    ORIGIN,
    QUERY_PARAMETER,
    REGION,
    ROLE_ARN,
    SNS_MAX_AGE_RANGE,
    SNS_TABLE,
    SNS_TOPIC_ARN,
    TOPIC_ID,
    Auth,
    HttpLimits,
    HttpRoute,
    HttpTable,
    KinesisStream,
    SnsRoute,
    SnsTable,
)

# Pub/Sub's own limit on one message is 10 MB; a larger body could never be published.
MAX_BODY_LIMIT = 10_000_000


class _Checker:
    """Collects every problem of one table (JSON path + message) so the error lists them all at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise RoutingTableError(
                f"malformed routing table ({len(self.problems)} problem(s)); regenerate it with `datahem build` "
                "or fix the compiler:\n  " + "\n  ".join(self.problems)
            )

    def keys(self, where: str, value: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> bool:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
            return False
        for key in required:
            if key not in value:
                self.fail(where, f"missing key `{key}`")
        for key in sorted(set(value) - set(required) - set(optional)):
            self.fail(where, f"unknown key `{key}`; allowed: {', '.join(sorted(required + optional))}")
        return all(key in value for key in required)

    def string(self, where: str, value: Any, pattern: re.Pattern | None = None, what: str = "") -> str:
        if not isinstance(value, str) or not value:
            self.fail(where, f"expected a non-empty string, got {value!r}")
            return ""
        if pattern is not None and not pattern.match(value):
            self.fail(where, f"`{value}` is not {what or 'valid'}")
        return value

    def number(self, where: str, value: Any, bounds: tuple[float, float], integer: bool = False) -> Any:
        kinds = (int,) if integer else (int, float)
        if not isinstance(value, kinds) or isinstance(value, bool) or not bounds[0] <= value <= bounds[1]:
            what = "an integer" if integer else "a number"
            self.fail(where, f"expected {what} in {bounds[0]}..{bounds[1]}, got {value!r}")
            return bounds[0]
        return value

    def choice(self, where: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            self.fail(where, f"`{value}` is not one of {', '.join(choices)}")
            return choices[0]
        return value

    def string_list(self, where: str, value: Any, check: Callable[[str, Any], str]) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {type(value).__name__}")
            return ()
        items = tuple(check(f"{where}[{i}]", item) for i, item in enumerate(value))
        if len(set(items)) != len(items):
            self.fail(where, "has duplicate entries")
        return items


def _read(path: Path) -> tuple[_Checker, Any]:
    check = _Checker(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutingTableError(f"{path}: routing table not found; run `datahem build` to generate it") from None
    except OSError as err:
        raise RoutingTableError(f"{path}: cannot read the routing table: {err}") from None
    try:
        return check, json.loads(text)
    except json.JSONDecodeError as err:
        raise RoutingTableError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None


def _common(check: _Checker, where: str, value: dict) -> tuple[str, str, str]:
    source = check.string(f"{where}.source", value.get("source"))
    message_type = check.string(f"{where}.message_type", value.get("message_type"))
    topic = check.string(f"{where}.topic", value.get("topic"), TOPIC_ID, "a valid Pub/Sub topic id")
    return source, message_type, topic


def _auth(check: _Checker, where: str, value: Any) -> Auth:
    if not isinstance(value, dict) or "type" not in value:
        check.fail(where, "expected an object with a `type`")
        return Auth()
    kind = check.choice(f"{where}.type", value["type"], AUTH_TYPES)
    if kind == "none":
        check.keys(where, value, ("type",))
        return Auth()
    if not check.keys(where, value, AUTH_KEYS[kind], AUTH_OPTIONAL_KEYS[kind]):
        return Auth()
    header = check.string(f"{where}.header", value["header"], HEADER_NAME, "an HTTP header name").lower()
    secret_env = check.string(f"{where}.secret_env", value["secret_env"], ENV_NAME, "an environment variable name")
    if kind == "api_key":
        query = value.get("query_parameter")
        if query is not None:
            query = check.string(f"{where}.query_parameter", query, QUERY_PARAMETER, "a query parameter name")
        return Auth(type=kind, header=header, secret_env=secret_env, query_parameter=query or "")
    prefix = value["prefix"]
    if not isinstance(prefix, str):
        check.fail(f"{where}.prefix", f"expected a string, got {prefix!r}")
        prefix = ""
    return Auth(
        type=kind,
        header=header,
        secret_env=secret_env,
        algorithm=check.choice(f"{where}.algorithm", value["algorithm"], HMAC_ALGORITHMS),
        encoding=check.choice(f"{where}.encoding", value["encoding"], HMAC_ENCODINGS),
        prefix=prefix,
    )


HTTP_ROUTE_KEYS = (
    "auth",
    "cors_origins",
    "format",
    "ip_anonymization",
    "max_body_bytes",
    "message_type",
    "methods",
    "path",
    "source",
    "topic",
)


def _http_route(check: _Checker, where: str, value: Any) -> HttpRoute | None:
    if not check.keys(where, value, HTTP_ROUTE_KEYS):
        return None
    source, message_type, topic = _common(check, where, value)
    path = check.string(f"{where}.path", value["path"], HTTP_PATH, "a URL path starting with /")
    if path == HEALTH_PATH:
        check.fail(f"{where}.path", f"`{HEALTH_PATH}` is reserved for the collector's health endpoint")
    methods = check.string_list(f"{where}.methods", value["methods"], lambda w, m: check.choice(w, m, HTTP_METHODS))
    if not methods and isinstance(value["methods"], list):
        check.fail(f"{where}.methods", "must list at least one method")
    max_body = value["max_body_bytes"]
    if not isinstance(max_body, int) or isinstance(max_body, bool) or not 0 < max_body <= MAX_BODY_LIMIT:
        check.fail(f"{where}.max_body_bytes", f"expected an integer in 1..{MAX_BODY_LIMIT}, got {max_body!r}")
        max_body = 1
    return HttpRoute(
        path=path,
        methods=methods,
        source=source,
        message_type=message_type,
        topic=topic,
        format=check.choice(f"{where}.format", value["format"], HTTP_FORMATS),
        auth=_auth(check, f"{where}.auth", value["auth"]),
        cors_origins=check.string_list(
            f"{where}.cors_origins",
            value["cors_origins"],
            lambda w, o: check.string(w, o, ORIGIN, "an origin (scheme://host[:port]) or *"),
        ),
        max_body_bytes=max_body,
        ip_anonymization=check.choice(f"{where}.ip_anonymization", value["ip_anonymization"], IP_ANONYMIZATION),
    )


LIMIT_KEYS = ("body_timeout_seconds", "head_timeout_seconds", "max_head_bytes")


def _limits(check: _Checker, value: Any) -> HttpLimits:
    if not check.keys("limits", value, LIMIT_KEYS):
        return HttpLimits()
    return HttpLimits(
        max_head_bytes=check.number("limits.max_head_bytes", value["max_head_bytes"], MAX_HEAD_BYTES_RANGE, True),
        head_timeout_seconds=float(
            check.number("limits.head_timeout_seconds", value["head_timeout_seconds"], HEAD_TIMEOUT_RANGE)
        ),
        body_timeout_seconds=float(
            check.number("limits.body_timeout_seconds", value["body_timeout_seconds"], BODY_TIMEOUT_RANGE)
        ),
    )


def load_http_routes(routing_dir: Path) -> dict[str, HttpRoute]:
    """http.json → {path: route}; raises RoutingTableError listing every problem."""
    return load_http_table(routing_dir).routes


def load_http_table(routing_dir: Path) -> HttpTable:
    """http.json → its routes by path and its connection limits; raises RoutingTableError listing every problem."""
    check, doc = _read(routing_dir / HTTP_TABLE)
    routes: dict[str, HttpRoute] = {}
    limits = HttpLimits()
    if check.keys("", doc, ("limits", "routes"), ("comment",)):
        limits = _limits(check, doc["limits"])
        if not isinstance(doc["routes"], list):
            check.fail("routes", "expected a list")
        else:
            for i, item in enumerate(doc["routes"]):
                route = _http_route(check, f"routes[{i}]", item)
                if route is None:
                    continue
                if route.path in routes:
                    check.fail(f"routes[{i}].path", f"`{route.path}` is routed twice")
                routes[route.path] = route
    check.raise_if_any()
    return HttpTable(routes, limits)


def load_sns_table(routing_dir: Path) -> SnsTable:
    """sns.json → the query parameter and {route value: route}; raises RoutingTableError."""
    check, doc = _read(routing_dir / SNS_TABLE)
    routes: dict[str, SnsRoute] = {}
    parameter = "route"
    if check.keys("", doc, ("query_parameter", "routes"), ("comment",)):
        parameter = check.string("query_parameter", doc["query_parameter"])
        if not isinstance(doc["routes"], dict):
            check.fail("routes", "expected an object keyed by the query-parameter value")
        else:
            for name, item in doc["routes"].items():
                where = f"routes.{name}"
                if not name:
                    check.fail("routes", "a route value must not be empty")
                if not check.keys(where, item, ("max_age_seconds", "message_type", "source", "topic", "topic_arns")):
                    continue
                source, message_type, topic = _common(check, where, item)
                arns = check.string_list(
                    f"{where}.topic_arns",
                    item["topic_arns"],
                    lambda w, a: check.string(w, a, SNS_TOPIC_ARN, "an SNS topic ARN"),
                )
                if not arns and isinstance(item["topic_arns"], list):
                    check.fail(f"{where}.topic_arns", "must list at least one SNS topic ARN")
                max_age = check.number(f"{where}.max_age_seconds", item["max_age_seconds"], SNS_MAX_AGE_RANGE, True)
                routes[name] = SnsRoute(name, source, message_type, topic, tuple(sorted(arns)), max_age)
    check.raise_if_any()
    return SnsTable(parameter, routes)


def load_kinesis_streams(routing_dir: Path) -> dict[str, KinesisStream]:
    """kinesis.json → {stream ARN: stream}; raises RoutingTableError."""
    check, doc = _read(routing_dir / KINESIS_TABLE)
    streams: dict[str, KinesisStream] = {}
    keys = ("credentials_secret", "message_type", "region", "role_arn", "source", "topic")
    if check.keys("", doc, ("streams",), ("comment",)):
        if not isinstance(doc["streams"], dict):
            check.fail("streams", "expected an object keyed by stream ARN")
        else:
            for arn, item in doc["streams"].items():
                where = f"streams.{arn}"
                check.string("streams", arn, KINESIS_ARN, "a Kinesis stream ARN")
                if not check.keys(where, item, keys):
                    continue
                source, message_type, topic = _common(check, where, item)
                region = check.string(f"{where}.region", item["region"], REGION, "an AWS region")
                arn_parts = arn.split(":")
                if region and len(arn_parts) > 3 and arn_parts[3] not in ("", region):
                    check.fail(f"{where}.region", f"`{region}` differs from the stream ARN's region {arn_parts[3]}")
                role_arn, secret = item["role_arn"], item["credentials_secret"]
                if role_arn is not None:
                    check.string(f"{where}.role_arn", role_arn, ROLE_ARN, "an IAM role ARN")
                if secret is not None:
                    check.string(f"{where}.credentials_secret", secret)
                if not role_arn and not secret:
                    check.fail(where, "needs `role_arn` (web identity) or `credentials_secret` (Secret Manager)")
                streams[arn] = KinesisStream(arn, source, message_type, topic, region, role_arn, secret)
    check.raise_if_any()
    return streams


def iter_topics(routing_dir: Path, kinds: tuple[str, ...]) -> Iterator[str]:
    """Every topic id the given collectors publish to (used to prepare the emulator for `datahem serve`)."""
    if "http" in kinds:
        yield from (r.topic for r in load_http_routes(routing_dir).values())
    if "sns" in kinds:
        yield from (r.topic for r in load_sns_table(routing_dir).routes.values())
    if "kinesis" in kinds:
        yield from (s.topic for s in load_kinesis_streams(routing_dir).values())
