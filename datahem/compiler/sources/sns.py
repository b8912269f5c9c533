"""Source kind `sns`: an AWS SNS subscription to the SNS collector (a Cloud Function), by the value of its `route`
query parameter."""

from __future__ import annotations

from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Source
from datahem.compiler.sources.base import DevWiring, PlatformPart, RawKey, RouteKey, SourceKind
from datahem.compiler.sources.platform import COLLECTOR_MAX_INSTANCES, PUBLISHER, account, account_id
from datahem.runtime.contracts.routing import (
    DEFAULT_SNS_MAX_AGE_SECONDS,
    SNS_MAX_AGE_RANGE,
    SNS_ROUTE_VALUE,
    SNS_TABLE,
    SNS_TOPIC_ARN,
    SnsRoute,
    sns_table,
)

RAW_KEYS = (
    RawKey("route", str, doc="value of the `route` query parameter of the SNS subscription"),
    RawKey("topic_arns", list[str], doc="SNS topic ARNs allowed to publish to this route"),
    RawKey(
        "max_age",
        int,
        DEFAULT_SNS_MAX_AGE_SECONDS,
        doc="seconds a message may be old (by its signed Timestamp) when it arrives; older ones are refused",
    ),
)


def resolve(raw: Any, source: str, message_type: str, topic: str) -> SnsRoute:
    return SnsRoute(raw.route, source, message_type, topic, tuple(sorted(raw.topic_arns)), raw.max_age)


def _route(s: Source) -> SnsRoute:
    assert isinstance(s.route, SnsRoute)
    return s.route


def route_keys(s: Source) -> list[RouteKey]:
    r = _route(s)
    return [RouteKey(("sns", r.route), "route", f"SNS route `{r.route}`")]


def check(s: Source, d: Diagnostics) -> None:
    r = _route(s)
    if not SNS_ROUTE_VALUE.match(r.route):
        d.error(
            s.locs.get("route", s.loc),
            rules.YAML_VALUE,
            f"route `{r.route}` must be 1-64 letters, digits, `_` or `-` (it is a query value)",
        )
    if not r.topic_arns:
        d.error(
            s.locs.get("topic_arns", s.loc),
            rules.YAML_VALUE,
            "topic_arns must list at least one SNS topic ARN allowed to publish to this route",
        )
    low, high = SNS_MAX_AGE_RANGE
    if not low <= r.max_age_seconds <= high:
        d.error(
            s.locs.get("max_age", s.loc),
            rules.YAML_VALUE,
            f"max_age must be between {low} and {high} seconds (shorter refuses SNS's own retries and clock skew; "
            "longer lets a captured delivery be replayed for that long)",
        )
    for i, arn in enumerate(r.topic_arns):
        if not SNS_TOPIC_ARN.match(arn):
            d.error(
                s.locs.get(f"topic_arns[{i}]", s.loc),
                rules.YAML_VALUE,
                f"`{arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)",
            )


def platform(sources: list[Source]) -> PlatformPart:
    """One collector (a Cloud Function) for every SNS source: it publishes to their topics."""
    sa = account_id("sns-collector")
    granted = [{"role": PUBLISHER, "topic": s.table.topic} for s in sources]
    builder = account_id("sns-build")
    collector = {
        "name": "datahem-sns-collector",
        "service_account": sa,
        "build_service_account": builder,
        "runtime": "python311",
        # datahem/runtime/collectors/sns/main.py, from a source archive of the repository (datahem/runtime/ and generated/)
        "entry_point": "collect",
        "source_file": "datahem/runtime/collectors/sns/main.py",
        "max_instances": COLLECTOR_MAX_INSTANCES,
        "sources": [s.name for s in sources],
    }
    return PlatformPart(
        accounts=[
            account(sa, "DataHem SNS collector", "Publishes AWS SNS notifications to their topics.", granted),
            account(builder, "DataHem SNS collector build", "Cloud Build of the SNS collector function.", BUILD),
        ],
        collectors={"sns": collector},
    )


# The function's build account (set explicitly: the default build account of new projects has no rights): read the
# source archive, push the function image to DataHem's repository, write build logs.
BUILD = [
    {"role": "roles/storage.objectViewer", "bucket": "registry"},
    {"role": "roles/artifactregistry.writer", "repository": "images"},
    {"role": "roles/logging.logWriter", "project": "self"},
]


def change_keys(route: SnsRoute) -> set[str]:
    return {f"sns route {route.route}", *(f"sns topic {arn}" for arn in route.topic_arns)}


def read_change_keys(table: dict[str, Any]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for value, r in (table.get("routes") or {}).items():
        found = keys.setdefault(r.get("source", ""), set())
        found.add(f"sns route {value}")
        found.update(f"sns topic {arn}" for arn in r.get("topic_arns", []))
    return keys


KIND = SourceKind(
    name="sns",
    label="SNS",
    raw_keys=RAW_KEYS,
    resolve=resolve,
    route_keys=route_keys,
    check=check,
    routing_file=SNS_TABLE,
    change_keys=change_keys,
    read_change_keys=read_change_keys,
    routing_table=sns_table,
    platform=platform,
    dev=DevWiring(serve=True),
)
