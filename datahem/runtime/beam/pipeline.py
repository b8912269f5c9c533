"""The streaming source pipeline that every generated `generated/pipelines/source_<name>.py` runs with its own
specialized converter:

    enrichment subscription ─> de-duplicate on `uuid` ─> convert ─┬─> BigQuery table ──(rejected rows)──┐
                                                                  ├─> processed topic (protobuf)        │
                                                                  └─(parse/validate/transform/filter)───┴─> dead letters

Every event ends up as exactly one row or one dead letter (duplicates of a uuid already seen are counted, not
written twice), so `events in = rows written + dead-letter rows`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.io.gcp.pubsub import PubsubMessage, ReadFromPubSub, WriteToPubSub
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer

from datahem.runtime.beam import rows
from datahem.runtime.beam.convert import Context, Reject, internal
from datahem.runtime.beam.io import FAILED, WRITE_METHODS, endpoint_from_env, write_rows_fn
from datahem.runtime.beam.messages import default_descriptor_set, message_class
from datahem.runtime.contracts.attributes import COLLECTOR, MESSAGE_TYPE, SOURCE, TIMESTAMP, UUID
from datahem.runtime.storage_write import storage_endpoint_from_env

DEAD, PROCESSED = "dead_letter", "processed"


@dataclass(frozen=True)
class SourceSpec:
    pipeline: str
    source: str
    message_type: str
    subscription: str
    table: str
    dead_letter_table: str
    processed_topic: str
    secrets: list[str] | tuple[str, ...] = field(default_factory=tuple)
    # the collector whose place a Pub/Sub import topic takes (e.g. `kinesis` for `via: pubsub_import`): messages
    # without the contract's attributes get them from Pub/Sub's own (`imported_attributes`)
    imported_from: str | None = None


class DataHemOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--subscription", default=None, help="Full subscription path (default from the spec).")
        parser.add_argument("--bigquery_endpoint", default=None, help="BigQuery API endpoint (emulators).")
        parser.add_argument("--dead_letter_table", default=None, help="dataset.table (default from the spec).")
        parser.add_argument(
            "--descriptor_set",
            default=None,
            help="Registry file (default: generated/registry/ of the pipeline's project).",
        )
        parser.add_argument(
            "--secret_source",
            default="secret-manager",
            choices=["secret-manager", "env"],
            help="Where pseudonymization keys come from; env reads DATAHEM_SECRET_<ID> (local runs only).",
        )
        parser.add_argument("--dedupe_seconds", type=int, default=600)
        parser.add_argument(
            "--write_method",
            default="storage_write",
            choices=list(WRITE_METHODS),
            help="How rows reach BigQuery: the Storage Write API (default) or legacy streaming inserts (insertAll); "
            "set per environment by `write_method` in sources.yaml.",
        )
        parser.add_argument(
            "--bigquery_storage_endpoint",
            default=None,
            help="host:port of the Storage Write API of an emulator (default: BIGQUERY_STORAGE_EMULATOR_HOST, else "
            "the real API).",
        )


def row_writer(options: PipelineOptions, table: str, mode: str = "default") -> beam.DoFn:
    """The row writer the options choose for `table` (the Storage Write API's row message comes from the generated/
    folder of the registry the pipeline reads)."""
    opts = options.view_as(DataHemOptions)
    project = options.view_as(GoogleCloudOptions).project
    descriptor_set = Path(opts.descriptor_set or default_descriptor_set())
    return write_rows_fn(
        opts.write_method,
        project,
        table,
        endpoint_from_env(opts.bigquery_endpoint),
        storage_endpoint_from_env(opts.bigquery_storage_endpoint),
        str(descriptor_set.parent.parent / "bigquery"),
        mode,
    )


def load_keys(secrets, project: str, source: str) -> dict[str, bytes]:
    keys = {}
    for secret in secrets:
        if source == "env":
            var = "DATAHEM_SECRET_" + secret.upper().replace("-", "_")
            value = os.environ.get(var)
            if value is None:
                raise RuntimeError(f"pseudonymization key {secret}: set {var} (secret_source=env)")
            keys[secret] = value.encode()
        else:
            from google.cloud import secretmanager

            client = secretmanager.SecretManagerServiceClient()
            name = f"projects/{project}/secrets/{secret}/versions/latest"
            keys[secret] = client.access_secret_version(name=name).payload.data
    return keys


class FirstOfUuid(beam.DoFn):
    """Stateful de-duplication: emit the first message of each uuid, forget it after `ttl` seconds."""

    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.REAL_TIME)

    def __init__(self, ttl: int):
        self.ttl = ttl
        self.duplicates = beam.metrics.Metrics.counter("datahem", "duplicates")

    def process(self, element, seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, message = element
        if seen.read():
            self.duplicates.inc()
            return
        seen.write(True)
        expiry.set(time.time() + self.ttl)
        yield message

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


def imported_attributes(message: PubsubMessage, source: str, message_type: str, collector: str) -> PubsubMessage:
    """A message an import topic published (it sets none of the contract's attributes) gets them as the reader
    would have set them: `uuid` is the Pub/Sub message id, `timestamp` the publish time (when the import topic
    received the record), `source` and `message_type` the source's, `collector` the one the import topic replaces.
    Attributes the message has are kept; a message with a `uuid` (published by a collector, or a replay) is left as
    it is. The source's branch and the backup both apply it, so a backfill replays the same `uuid`."""
    attributes = dict(message.attributes or {})
    if attributes.get(UUID):
        return message
    for key, value in (
        (UUID, message.message_id),
        (TIMESTAMP, rows.rfc3339(message.publish_time)),
        (SOURCE, source),
        (MESSAGE_TYPE, message_type),
        (COLLECTOR, collector),
    ):
        if value and not attributes.get(key):
            attributes[key] = value
    return PubsubMessage(message.data, attributes, message.message_id, message.publish_time, message.ordering_key)


def _uuid_key(message: PubsubMessage):
    attributes = message.attributes or {}
    return attributes.get("uuid") or message.message_id or "", message


class ConvertFn(beam.DoFn):
    def __init__(self, spec: SourceSpec, convert, descriptor_set: str, secret_source: str, project: str):
        self.spec = spec
        self.convert = convert
        self.descriptor_set = descriptor_set
        self.secret_source = secret_source
        self.project = project
        self.dead = beam.metrics.Metrics.counter("datahem", "dead_letters")
        # fields no column knows, in tables whose `unknown_fields` is IGNORE (dropped) or KEEP (in `_unknown`)
        self.unknown = beam.metrics.Metrics.counter("datahem", "unknown_fields")

    def setup(self):
        self.cls = message_class(self.spec.message_type, self.descriptor_set)
        self.keys = load_keys(self.spec.secrets, self.project, self.secret_source)

    def process(self, message: PubsubMessage):
        attributes = dict(message.attributes or {})
        ctx = Context(attributes, self.keys)
        try:
            row, data = self.convert(message.data, ctx, self.cls)
        except Reject as r:
            self.dead.inc()
            yield TaggedOutput(DEAD, self._dead(message, r.stage, str(r)))
            return
        except Exception as exc:  # noqa: BLE001 - a converter bug must dead-letter the event, never lose it
            self.dead.inc()  # (generated converters already turn these into a Reject of stage internal)
            r = internal(exc)
            yield TaggedOutput(DEAD, self._dead(message, r.stage, str(r)))
            return
        if ctx.unknown:
            self.unknown.inc(len(ctx.unknown))
        meta = rows.metadata(attributes, self.spec.source, message.message_id, message.publish_time)
        yield ({**meta, **row}, message)
        yield TaggedOutput(PROCESSED, PubsubMessage(data, attributes))

    def _dead(self, message: PubsubMessage, stage: str, error: str) -> dict:
        return rows.dead_letter(
            pipeline=self.spec.pipeline,
            stage=stage,
            error=error,
            payload=message.data,
            attributes=message.attributes,
            publish_time=message.publish_time,
        )


def write_failed_to_dead_letter(pipeline: str):
    def to_row(failed):
        message, reason = failed
        return rows.dead_letter(
            pipeline=pipeline,
            stage="write",
            error=reason,
            payload=message.data,
            attributes=message.attributes,
            publish_time=message.publish_time,
        )

    return beam.Map(to_row)


class RaiseOnFailure(beam.DoFn):
    """Dead letters must be stored: a rejected dead letter fails the bundle, which the runner retries."""

    def process(self, failed):
        raise RuntimeError(f"the dead-letter table rejected a row: {failed[1]}")


class SourcePipeline(beam.PTransform):
    """The whole source pipeline as one composite transform, so several sources can share one Beam pipeline
    (`datahem dev`, tests) with their steps named apart."""

    def __init__(self, spec: SourceSpec, convert, options: PipelineOptions):
        super().__init__(label=f"Source {spec.source}")
        self.spec = spec
        self.convert = convert
        self.options = options

    def expand(self, pbegin):
        spec, options = self.spec, self.options
        opts = options.view_as(DataHemOptions)
        project = options.view_as(GoogleCloudOptions).project
        subscription = opts.subscription or f"projects/{project}/subscriptions/{spec.subscription}"
        on_dataflow = "Dataflow" in (options.view_as(StandardOptions).runner or "")
        messages = pbegin | "Read" >> ReadFromPubSub(
            subscription=subscription,
            with_attributes=True,
            timestamp_attribute="timestamp",
            id_label="uuid" if on_dataflow else None,
        )
        if spec.imported_from:
            messages = messages | "ImportedAttributes" >> beam.Map(
                imported_attributes, spec.source, spec.message_type, spec.imported_from
            )
        unique = (
            messages | "KeyByUuid" >> beam.Map(_uuid_key) | "Dedupe" >> beam.ParDo(FirstOfUuid(opts.dedupe_seconds))
        )
        converted = unique | "Convert" >> beam.ParDo(
            ConvertFn(
                spec, self.convert, opts.descriptor_set or str(default_descriptor_set()), opts.secret_source, project
            )
        ).with_outputs(DEAD, PROCESSED, main="rows")
        # streaming rows: the default stream (at-least-once; FirstOfUuid above removes redeliveries)
        written = converted.rows | "WriteRows" >> beam.ParDo(row_writer(options, spec.table)).with_outputs(
            FAILED, main="ok"
        )
        rejected = written[FAILED] | "RejectedRows" >> write_failed_to_dead_letter(spec.pipeline)
        dead = (converted[DEAD], rejected) | "AllDeadLetters" >> beam.Flatten()
        dead | "DeadLetters" >> WriteDeadLetters(options, opts.dead_letter_table or spec.dead_letter_table)
        converted[PROCESSED] | "PublishProcessed" >> WriteToPubSub(
            f"projects/{project}/topics/{spec.processed_topic}", with_attributes=True
        )
        return converted


class WriteDeadLetters(beam.PTransform):
    """Write dead-letter rows; a dead letter the table rejects fails the bundle (retried), it is never dropped."""

    def __init__(self, options: PipelineOptions, table: str):
        super().__init__()
        self.options, self.table = options, table

    def expand(self, dead):
        written = (
            dead
            | "AsPairs" >> beam.Map(lambda row: (row, row))
            | "Write" >> beam.ParDo(row_writer(self.options, self.table)).with_outputs(FAILED, main="ok")
        )
        return written[FAILED] | "MustNotFail" >> beam.ParDo(RaiseOnFailure())


def main(spec: SourceSpec, convert, argv: list[str] | None = None) -> None:
    options = PipelineOptions(argv, streaming=True, save_main_session=False)
    with beam.Pipeline(options=options) as p:
        _ = p | SourcePipeline(spec, convert, options)
