"""The streaming job of an environment: every source's branch (`SourcePipeline`, built from its own generated
`source_<name>.py` module and converter) and the backup branch (`BackupPipeline`) in one Beam pipeline, so one
Dataflow job (one worker floor) serves every source. `generated/pipelines/streaming.py` composes the branches.

Branches share nothing but the pipeline: each reads its own subscription, writes its own table, and names its
steps under its own label (`Source orders/...`, `Backup/...`), so a branch added later is a new set of steps that
`--update` accepts, and a changed converter keeps every step name. A branch's dead letters still carry its own
pipeline name (`SourceSpec.pipeline`, e.g. `datahem-orders`), so they say which source they came from.

On the DirectRunner (tests, `datahem dev`) the branches run as one pipeline per subscription instead:
datahem/runtime/beam/local.py explains why.
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from datahem.runtime.beam.backup import BackupPipeline, BackupSpec
from datahem.runtime.beam.pipeline import DataHemOptions, SourcePipeline, SourceSpec

DIRECT_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner")


def compose(
    pipeline: beam.Pipeline, branches: Sequence[tuple[SourceSpec, object]], backup: BackupSpec | None, options
) -> None:
    """Apply every branch to `pipeline`. `--subscription` names one subscription, so it has no meaning here."""
    if options.view_as(DataHemOptions).subscription:
        raise ValueError("--subscription is for a single source's job; the streaming job reads each branch's own")
    sources = [spec.source for spec, _ in branches]
    if len(set(sources)) != len(sources):
        raise ValueError(f"a source appears twice among the branches: {sorted(sources)}")
    for spec, convert in branches:
        _ = pipeline | SourcePipeline(spec, convert, options)
    if backup is not None:
        _ = pipeline | BackupPipeline(backup, options)


def main(branches: Sequence[tuple[SourceSpec, object]], backup: BackupSpec | None, argv: list[str] | None = None):
    options = PipelineOptions(argv, streaming=True, save_main_session=False)
    if (options.view_as(StandardOptions).runner or "DirectRunner") in DIRECT_RUNNERS:
        from datahem.runtime.beam.local import local_pipelines, run_all

        for result in run_all(local_pipelines(branches, backup, options)):
            result.wait_until_finish()
        return
    with beam.Pipeline(options=options) as p:
        compose(p, branches, backup, options)
