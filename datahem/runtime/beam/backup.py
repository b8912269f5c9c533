"""The backup pipeline: every topic's `backup` subscription into one raw table (payload bytes, attributes,
publish time), partitioned by ingestion time, so any event can be replayed later by `datahem backfill`.
Replays (attribute backfill=true) are counted and skipped: they are already in the backup.

Why a branch and not a Pub/Sub BigQuery subscription (which writes `data` and the attributes as one JSON object, and
none of the columns derived here): README, "The raw backup: a pipeline branch, not a BigQuery subscription".
As a job of its own (generated/pipelines/backup.py), it is the streaming job's entry point with no source branch
(`datahem.runtime.beam.streaming.main`), which also runs it locally as one pipeline per subscription."""

from __future__ import annotations

from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.gcp.pubsub import ReadFromPubSub
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from datahem.runtime.beam import rows
from datahem.runtime.beam.io import FAILED
from datahem.runtime.beam.pipeline import (
    DataHemOptions,
    WriteDeadLetters,
    imported_attributes,
    row_writer,
    write_failed_to_dead_letter,
)


@dataclass(frozen=True)
class BackupSpec:
    pipeline: str
    subscriptions: list[str] | tuple[str, ...]
    table: str
    dead_letter_table: str
    # subscription of an import topic -> (source, message type, collector): its messages get DataHem's attributes
    # as the source's branch gives them (`imported_attributes`), so the backup holds, and a backfill replays, the
    # same `uuid`
    imported: dict[str, tuple[str, str, str]] = field(default_factory=dict)


class ToBackupRow(beam.DoFn):
    def __init__(self):
        self.replays = beam.metrics.Metrics.counter("datahem", "backfill_replays_skipped")

    def process(self, message):
        attributes = dict(message.attributes or {})
        if attributes.get("backfill") == "true":
            self.replays.inc()
            return
        yield rows.backup_row(message.data, attributes, message.message_id, message.publish_time), message


class BackupPipeline(beam.PTransform):
    def __init__(self, spec: BackupSpec, options: PipelineOptions):
        super().__init__(label="Backup")
        self.spec = spec
        self.options = options

    def expand(self, pbegin):
        spec = self.spec
        opts = self.options.view_as(DataHemOptions)
        project = self.options.view_as(GoogleCloudOptions).project
        reads = []
        for sub in spec.subscriptions:
            read = pbegin | f"Read {sub}" >> ReadFromPubSub(
                subscription=f"projects/{project}/subscriptions/{sub}", with_attributes=True
            )
            if sub in spec.imported:
                read = read | f"ImportedAttributes {sub}" >> beam.Map(imported_attributes, *spec.imported[sub])
            reads.append(read)
        written = (
            reads
            | "AllTopics" >> beam.Flatten()
            | "ToBackupRow" >> beam.ParDo(ToBackupRow())
            # committed stream with offsets: a retried append is not written twice
            | "WriteBackup"
            >> beam.ParDo(row_writer(self.options, spec.table, "committed")).with_outputs(FAILED, main="ok")
        )
        dead = written[FAILED] | "RejectedRows" >> write_failed_to_dead_letter(spec.pipeline)
        dead | "DeadLetters" >> WriteDeadLetters(self.options, opts.dead_letter_table or spec.dead_letter_table)
        return written
