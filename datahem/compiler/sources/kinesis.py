"""Source kind `kinesis`: an AWS Kinesis stream, read by a Beam job of its own (the Kinesis reader) into the
source's topic."""

from __future__ import annotations

from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.model.resolved import Source
from datahem.compiler.sources.base import DevWiring, PlatformPart, RawKey, Reader, RouteKey, Secret, SourceKind
from datahem.compiler.sources.platform import PUBLISHER, SECRET_ACCESSOR, account, account_id, dataflow_worker
from datahem.runtime.contracts.routing import (
    KINESIS_ARN,
    KINESIS_TABLE,
    ROLE_ARN,
    KinesisStream,
    kinesis_table,
    reader_job_name,
)

RAW_KEYS = (
    RawKey("stream_arn", str, doc="ARN of the Kinesis stream"),
    RawKey("region", str, doc="AWS region of the stream"),
    RawKey("role_arn", str | None, None),
    RawKey("credentials_secret", str | None, None),
)
READER_PARAMETERS = ("source", "stream_arn", "aws_region", "aws_role_arn", "credentials_secret", "topic")


def resolve(raw: Any, source: str, message_type: str, topic: str) -> KinesisStream:
    return KinesisStream(raw.stream_arn, source, message_type, topic, raw.region, raw.role_arn, raw.credentials_secret)


def _stream(s: Source) -> KinesisStream:
    assert isinstance(s.route, KinesisStream)
    return s.route


def route_keys(s: Source) -> list[RouteKey]:
    k = _stream(s)
    return [RouteKey(("kinesis", k.stream_arn), "stream_arn", f"Kinesis stream `{k.stream_arn}`")]


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
    if not k.role_arn and not k.credentials_secret:
        d.error(
            s.loc,
            rules.YAML_MISSING_KEY,
            f"kinesis source `{s.name}` needs `role_arn` (web-identity federation, preferred) or "
            "`credentials_secret` (a Secret Manager secret id)",
        )


def secrets(s: Source) -> list[Secret]:
    k = _stream(s)
    if not k.credentials_secret:
        return []
    purpose = f"AWS credentials of Kinesis source {s.name}"
    return [Secret(k.credentials_secret, "credentials_secret", "credentials_secret", purpose, kms=True)]


def readers(s: Source) -> list[Reader]:
    k = _stream(s)
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


def platform(sources: list[Source]) -> PlatformPart:
    jobs = [_reader_job(s) for s in sources]
    return PlatformPart(accounts=[a for _, a in jobs], pipelines=[j for j, _ in jobs])


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
    dev=DevWiring(reader_module="datahem.runtime.collectors.kinesis"),
)
