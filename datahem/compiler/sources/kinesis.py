"""Source kind `kinesis`: an AWS Kinesis stream into the source's topic, either read by a Beam job of its own (the
Kinesis reader, `via: reader`) or ingested by Pub/Sub itself (`via: pubsub_import`: the topic is an import topic
with the stream's ingestion settings, and no reader job runs). `datahem dev` runs the reader for both."""

from __future__ import annotations

from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Source
from datahem.compiler.sources.base import DevWiring, PlatformPart, RawKey, Reader, RouteKey, Secret, SourceKind
from datahem.compiler.sources.platform import PUBLISHER, SECRET_ACCESSOR, account, account_id, dataflow_worker
from datahem.runtime.contracts.routing import (
    KINESIS_ARN,
    KINESIS_CONSUMER_ARN,
    KINESIS_TABLE,
    ROLE_ARN,
    KinesisStream,
    kinesis_table,
    reader_job_name,
)

READER, IMPORT = "reader", "pubsub_import"
VIAS = (READER, IMPORT)
RAW_KEYS = (
    RawKey("stream_arn", str, doc="ARN of the Kinesis stream"),
    RawKey("region", str, doc="AWS region of the stream"),
    RawKey("role_arn", str | None, None),
    RawKey("credentials_secret", str | None, None),
    RawKey(
        "via",
        str,
        "reader",
        choices=VIAS,
        doc="reader: a Dataflow job reads the stream; pubsub_import: the topic ingests it (needs consumer_arn)",
    ),
    RawKey("consumer_arn", str | None, None, doc="enhanced fan-out consumer of the stream (via: pubsub_import)"),
)
READER_PARAMETERS = ("source", "stream_arn", "aws_region", "aws_role_arn", "credentials_secret", "topic")


def resolve(raw: Any, source: str, message_type: str, topic: str) -> KinesisStream:
    return KinesisStream(
        raw.stream_arn,
        source,
        message_type,
        topic,
        raw.region,
        raw.role_arn,
        raw.credentials_secret,
        raw.via,
        raw.consumer_arn,
    )


def _stream(s: Source) -> KinesisStream:
    assert isinstance(s.route, KinesisStream)
    return s.route


def route_keys(s: Source) -> list[RouteKey]:
    k = _stream(s)
    keys = [RouteKey(("kinesis", k.stream_arn), "stream_arn", f"Kinesis stream `{k.stream_arn}`")]
    if k.via == IMPORT:  # an import topic has one ingestion source
        keys.append(RouteKey(("kinesis", "import topic", k.topic), "via", f"import topic `{k.topic}`"))
    return keys


def check(s: Source, d: Diagnostics) -> None:
    k = _stream(s)
    if not KINESIS_ARN.match(k.stream_arn):
        d.error(
            s.locs.get("stream_arn", s.loc),
            rules.YAML_VALUE,
            f"`{k.stream_arn}` is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)",
        )
    if k.role_arn and not ROLE_ARN.match(k.role_arn):
        d.error(
            s.locs.get("role_arn", s.loc),
            rules.YAML_VALUE,
            f"`{k.role_arn}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        )
    if k.via == IMPORT:
        _check_import(s, k, d)
    elif k.consumer_arn:
        d.error(
            s.locs.get("consumer_arn", s.loc),
            rules.YAML_VALUE,
            f"kinesis source `{s.name}` reads the stream with the reader, which uses no `consumer_arn`: "
            "remove it, or add `via: pubsub_import`",
        )
    if not k.role_arn and not k.credentials_secret:
        d.error(
            s.loc,
            rules.YAML_MISSING_KEY,
            f"kinesis source `{s.name}` needs `role_arn` (web-identity federation, preferred) or "
            "`credentials_secret` (a Secret Manager secret id)",
        )


def _check_import(s: Source, k: KinesisStream, d: Diagnostics) -> None:
    """An import topic reads the stream through an enhanced fan-out consumer of it, as an AWS role it assumes by
    web identity: it takes no access keys."""
    where = s.locs.get("via", s.loc)
    if not k.consumer_arn:
        d.error(
            where,
            rules.YAML_MISSING_KEY,
            f"kinesis source `{s.name}` with `via: pubsub_import` needs `consumer_arn`, an enhanced fan-out consumer "
            f"of the stream (aws kinesis register-stream-consumer --stream-arn {k.stream_arn} --consumer-name NAME)",
        )
    else:
        m = KINESIS_CONSUMER_ARN.match(k.consumer_arn)
        if not m or m.group(1) != k.stream_arn:
            d.error(
                s.locs.get("consumer_arn", where),
                rules.YAML_VALUE,
                f"`{k.consumer_arn}` is not a consumer of `{k.stream_arn}` (STREAM_ARN/consumer/NAME:TIMESTAMP)",
            )
    if not k.role_arn:
        d.error(
            where,
            rules.YAML_MISSING_KEY,
            f"kinesis source `{s.name}` with `via: pubsub_import` needs `role_arn`: the import topic assumes that "
            "AWS role by web identity (it cannot read `credentials_secret`)",
        )
    if k.credentials_secret:
        d.error(
            s.locs.get("credentials_secret", where),
            rules.YAML_VALUE,
            f"kinesis source `{s.name}` with `via: pubsub_import` cannot use `credentials_secret`: an import topic "
            "takes no AWS keys; use `role_arn`, or `via: reader`",
        )


def secrets(s: Source) -> list[Secret]:
    k = _stream(s)
    if not k.credentials_secret or k.via == IMPORT:
        return []
    purpose = f"AWS credentials of Kinesis source {s.name}"
    return [Secret(k.credentials_secret, "credentials_secret", "credentials_secret", purpose, kms=True)]


def readers(s: Source) -> list[Reader]:
    k = _stream(s)
    if k.via == IMPORT:
        return []
    context = {"source": s, "stream_arn": k.stream_arn, "region": k.region, "role_arn": k.role_arn, "topic": k.topic}
    return [
        Reader(
            module=f"kinesis_{s.name}",
            template="pipelines/kinesis.py.j2",
            context=context,
            job=reader_job_name("kinesis", s.name),
            description=f"DataHem Kinesis reader {s.name}: {k.stream_arn} into topic {k.topic}",
            parameters=READER_PARAMETERS,
            help=f"Must match generated/routing/{KINESIS_TABLE}",
        )
    ]


def _reader_job(s: Source) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Kinesis reader (a Beam job) publishes the stream to the source's topic. With `role_arn` it assumes that
    AWS role by web-identity federation from its own service account, so no AWS key exists anywhere; with
    `credentials_secret` it reads keys from that KMS-encrypted secret (the id, never the value, is a parameter).
    Returns the job and its service account."""
    k = _stream(s)
    sa = account_id("kin", s.name)
    params: dict[str, Any] = {
        "source": s.name,
        "stream_arn": k.stream_arn,
        "aws_region": k.region,
        "topic": {"topic": k.topic},
    }
    job_name = reader_job_name("kinesis", s.name)
    granted: list[dict[str, Any]] = [{"role": PUBLISHER, "topic": k.topic}, *dataflow_worker(job_name)]
    if k.role_arn:
        params["aws_role_arn"] = k.role_arn
    else:
        params["credentials_secret"] = {"secret": k.credentials_secret}
        granted.append({"role": SECRET_ACCESSOR, "secret": k.credentials_secret})
    job = {
        "name": job_name,
        "kind": "kinesis",
        "source": s.name,
        "template": f"kinesis_{s.name}",
        "service_account": sa,
        "web_identity": bool(k.role_arn),
        "parameters": params,
    }
    return job, account(
        sa, f"DataHem Kinesis reader {s.name}", f"Reads the Kinesis stream of source {s.name}.", granted
    )


def _import_topic(s: Source) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ingestion settings of the source's topic. Pub/Sub's service agent impersonates an account of the
    source's own (it holds no grant) to assume the AWS role by web identity; the role's trust policy names that
    account's unique id as `accounts.google.com:sub`. Returns the settings and the account."""
    k = _stream(s)
    sa = account_id("kimp", s.name)
    settings = {
        "source": s.name,
        "stream_arn": k.stream_arn,
        "consumer_arn": k.consumer_arn,
        "aws_role_arn": k.role_arn,
        "service_account": sa,
    }
    return settings, account(
        sa,
        f"DataHem Kinesis import {s.name}",
        f"Identity the import topic of source {s.name} assumes its AWS role with; holds no grant.",
        [],
    )


def platform(sources: list[Source]) -> PlatformPart:
    jobs = [_reader_job(s) for s in sources if _stream(s).via == READER]
    imports = [(_stream(s).topic, *_import_topic(s)) for s in sources if _stream(s).via == IMPORT]
    return PlatformPart(
        accounts=[a for _, a in jobs] + [a for _, _, a in imports],
        pipelines=[j for j, _ in jobs],
        ingestion={topic: {"aws_kinesis": settings} for topic, settings, _ in imports},
    )


def imported(s: Source) -> bool:
    return _stream(s).via == IMPORT


def change_keys(stream: KinesisStream) -> set[str]:
    return {f"kinesis stream {stream.stream_arn}"}


def read_change_keys(table: dict[str, Any]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for arn, r in (table.get("streams") or {}).items():
        keys.setdefault(r.get("source", ""), set()).add(f"kinesis stream {arn}")
    return keys


KIND = SourceKind(
    name="kinesis",
    label="Kinesis",
    raw_keys=RAW_KEYS,
    resolve=resolve,
    route_keys=route_keys,
    check=check,
    routing_file=KINESIS_TABLE,
    change_keys=change_keys,
    read_change_keys=read_change_keys,
    routing_table=kinesis_table,
    platform=platform,
    secrets=secrets,
    readers=readers,
    imported=imported,
    dev=DevWiring(reader_module="datahem.runtime.collectors.kinesis"),
)
