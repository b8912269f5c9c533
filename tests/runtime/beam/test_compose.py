"""The per-environment streaming job's graph: every generated source module is a branch with its steps under its
own label, the backup one more; `--subscription` (one source's) and a source twice are refused."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

import generated.pipelines.streaming as job
from datahem.runtime.beam.streaming import compose
from generated.pipelines import backup


def _options(*extra: str) -> PipelineOptions:
    return PipelineOptions(["--project=demo-project", "--runner=DirectRunner", *extra], streaming=True)


def test_every_branch_and_the_backup_in_one_graph(example_model):
    p = beam.Pipeline(options=_options())
    compose(p, [(m.SPEC, m.convert) for m in job.BRANCHES], backup.SPEC, p.options)
    labels = {t.full_label.split("/")[0] for t in p.transforms_stack[0].parts}
    assert labels == {f"Source {s.name}" for s in example_model.sources} | {"Backup"}


def test_one_sources_subscription_or_a_source_twice_is_refused():
    branches = [(m.SPEC, m.convert) for m in job.BRANCHES]
    p = beam.Pipeline(options=_options("--subscription=projects/demo-project/subscriptions/x"))
    with pytest.raises(ValueError, match="--subscription is for a single source's job"):
        compose(p, branches, None, p.options)
    p = beam.Pipeline(options=_options())
    with pytest.raises(ValueError, match="a source appears twice"):
        compose(p, [*branches, branches[0]], None, p.options)
