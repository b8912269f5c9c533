"""Source kind `http`: a route of the HTTP collector (Cloud Run), by path and methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.loader.yaml_strict import spec
from datahem.compiler.model.resolved import Source
from datahem.compiler.sources.base import DevWiring, PlatformPart, RawKey, RouteKey, Secret, SourceKind
from datahem.compiler.sources.platform import COLLECTOR_MAX_INSTANCES, PUBLISHER, SECRET_ACCESSOR, account, account_id
from datahem.runtime.contracts.routing import (
    AUTH_TYPES,
    HMAC_ALGORITHMS,
    HMAC_ENCODINGS,
    HTTP_FORMATS,
    HTTP_METHODS,
    HTTP_PATH,
    HTTP_TABLE,
    IP_ANONYMIZATION,
    QUERY_PARAMETER,
    Auth,
    HttpRoute,
    http_table,
)

MAX_BODY_BYTES = 32 * 1024 * 1024  # Cloud Run's request limit


@dataclass(kw_only=True)
class RawAuth:
    type: str = spec(choices=AUTH_TYPES)
    header: str | None = spec(None)
    secret_env: str | None = spec(None)
    algorithm: str = spec("sha256", choices=HMAC_ALGORITHMS)
    encoding: str = spec("hex", choices=HMAC_ENCODINGS)
    prefix: str = spec("")
    query_parameter: str | None = spec(None)
    loc: Loc = field(default=Loc(""), compare=False)
    locs: dict[str, Loc] = field(default_factory=dict, compare=False, repr=False)


RAW_KEYS = (
    RawKey("path", str, doc="URL path of the route, e.g. /collect"),
    RawKey("methods", list[str], ["POST"], choices=HTTP_METHODS),
    RawKey("format", str, "json", choices=HTTP_FORMATS),
    RawKey("auth", RawAuth | None, None),
    RawKey("cors_origins", list[str], []),
    RawKey("max_body_bytes", int, 65536),
    RawKey("ip_anonymization", str, "truncate", choices=IP_ANONYMIZATION),
)


def resolve(raw: Any, source: str, message_type: str, topic: str) -> HttpRoute:
    a = raw.auth or RawAuth(type="none")
    return HttpRoute(
        path=raw.path,
        methods=tuple(sorted(set(raw.methods))),
        source=source,
        message_type=message_type,
        topic=topic,
        format=raw.format,
        auth=Auth(
            a.type, a.header or "", a.secret_env or "", a.algorithm, a.encoding, a.prefix, a.query_parameter or ""
        ),
        cors_origins=tuple(raw.cors_origins),
        max_body_bytes=raw.max_body_bytes,
        ip_anonymization=raw.ip_anonymization,
    )


def _route(s: Source) -> HttpRoute:
    assert isinstance(s.route, HttpRoute)
    return s.route


def route_keys(s: Source) -> list[RouteKey]:
    r = _route(s)
    return [RouteKey(("http", r.path, m), "path", f"{m} {r.path}") for m in r.methods]


def check(s: Source, d: Diagnostics) -> None:
    r = _route(s)
    if not HTTP_PATH.match(r.path):
        d.error(
            s.locs.get("path", s.loc),
            rules.YAML_VALUE,
            f"path `{r.path}` must start with `/` and contain only URL path characters",
        )
    a = r.auth
    if a.type in ("api_key", "hmac"):
        for key in ("header", "secret_env"):
            if not getattr(a, key):
                d.error(
                    s.locs.get("auth", s.loc),
                    rules.YAML_MISSING_KEY,
                    f"auth of type {a.type} needs `{key}` (the secret itself is never written in "
                    "sources.yaml: name the environment variable that holds it)",
                )
    if a.query_parameter and a.type != "api_key":
        d.error(
            s.locs.get("auth", s.loc),
            rules.YAML_VALUE,
            f"auth `query_parameter` is for type api_key (a key sent in the query string), not {a.type}",
        )
    elif a.query_parameter and not QUERY_PARAMETER.match(a.query_parameter):
        d.error(
            s.locs.get("auth", s.loc),
            rules.YAML_VALUE,
            f"auth query_parameter `{a.query_parameter}` must be 1 to 64 letters, digits, `.`, `_`, `~` or `-`",
        )
    if r.max_body_bytes <= 0 or r.max_body_bytes > MAX_BODY_BYTES:
        d.error(
            s.locs.get("max_body_bytes", s.loc),
            rules.YAML_VALUE,
            f"max_body_bytes must be between 1 and {MAX_BODY_BYTES} (Cloud Run's request limit)",
        )


def secrets(s: Source) -> list[Secret]:
    a = _route(s).auth
    if a.type == "none" or not a.secret_env:
        return []
    return [Secret(a.secret_env, "auth", "auth.secret_env", f"{a.type} of HTTP source {s.name}")]


def platform(sources: list[Source]) -> PlatformPart:
    """One collector for every HTTP source: it publishes to their topics and reads their auth secrets."""
    sa = account_id("http-collector")
    secret_env = {sid.id: sid.id for s in sources for sid in secrets(s)}
    granted = [{"role": PUBLISHER, "topic": s.table.topic} for s in sources]
    granted += [{"role": SECRET_ACCESSOR, "secret": sid} for sid in secret_env.values()]
    collector = {
        "name": "datahem-http-collector",
        "service_account": sa,
        "image": "http-collector",
        "max_instances": COLLECTOR_MAX_INSTANCES,
        "secret_env": dict(sorted(secret_env.items())),
        "sources": [s.name for s in sources],
    }
    return PlatformPart(
        accounts=[account(sa, "DataHem HTTP collector", "Publishes HTTP events to their topics.", granted)],
        collectors={"http": collector},
    )


def change_keys(route: HttpRoute) -> set[str]:
    return {f"{method} {route.path}" for method in route.methods}


def read_change_keys(table: dict[str, Any]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for r in table.get("routes") or []:
        for method in r.get("methods", []):
            keys.setdefault(r.get("source", ""), set()).add(f"{method} {r.get('path')}")
    return keys


KIND = SourceKind(
    name="http",
    label="HTTP",
    raw_keys=RAW_KEYS,
    resolve=resolve,
    route_keys=route_keys,
    check=check,
    routing_file=HTTP_TABLE,
    change_keys=change_keys,
    read_change_keys=read_change_keys,
    routing_table=http_table,
    platform=platform,
    secrets=secrets,
    dev=DevWiring(serve=True),
)
