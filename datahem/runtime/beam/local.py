"""Running DataHem's streaming pipelines on Beam's DirectRunner (tests, `datahem dev`).

Beam 2.77's DirectRunner loses Pub/Sub messages when one pipeline holds more than one ReadFromPubSub: with the 7
example topics read by one pipeline, 44-66 of 67 published messages arrived; with one read per pipeline, 67 of 67
every time (see the pipelines issue note). So locally every subscription gets a pipeline of its own: one per
source, and one backup pipeline per topic. On Dataflow every branch runs in one streaming job per environment
(datahem/runtime/beam/streaming.py), or a job per source and one backup job reading every topic (`per_source`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from datahem.runtime.beam.backup import BackupPipeline, BackupSpec
from datahem.runtime.beam.pipeline import SourcePipeline, SourceSpec


def local_pipelines(
    sources: Iterable[tuple[SourceSpec, object]], backup: BackupSpec | None, options: PipelineOptions
) -> list[beam.Pipeline]:
    pipelines = []
    for spec, convert in sources:
        p = beam.Pipeline(options=options)
        _ = p | SourcePipeline(spec, convert, options)
        pipelines.append(p)
    for subscription in backup.subscriptions if backup else ():
        p = beam.Pipeline(options=options)
        _ = p | BackupPipeline(dataclasses.replace(backup, subscriptions=(subscription,)), options)
        pipelines.append(p)
    return pipelines


def run_all(pipelines: list[beam.Pipeline]) -> list:
    """Start every pipeline; returns their PipelineResults (cancel them to stop)."""
    return [p.run() for p in pipelines]
