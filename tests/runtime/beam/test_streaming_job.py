"""The per-environment streaming job (`generated/pipelines/streaming.py`): two sources' branches, each built from
its own generated `source_<name>` module, composed into ONE Beam pipeline on the DirectRunner, against the real
Pub/Sub emulator and the BigQuery API emulator: each branch writes its own source's events into its own table, and
its dead letters name its own branch."""

from __future__ import annotations

import pytest
from apache_beam import Pipeline
from apache_beam.options.pipeline_options import PipelineOptions

import generated.pipelines.streaming as job
from datahem.runtime.beam.streaming import compose
from tests.conftest import EXAMPLE
from tests.emulators import bigquery_emulator, pubsub_emulator
from tests.examples import load_examples
from tests.runtime.beam import platform as pf
from tests.runtime.beam.conftest import TEST_KEYS

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
BRANCHES = ("orders", "products")


def test_the_composed_job_writes_each_branchs_events_into_its_own_table(example_model):
    modules = {m.SPEC.source: m for m in job.BRANCHES}
    assert set(modules) == {s.name for s in example_model.sources}, "every source is a branch of the job"
    mp = pytest.MonkeyPatch()
    with pubsub_emulator() as pubsub, bigquery_emulator() as bq:
        mp.setenv("PUBSUB_EMULATOR_HOST", pubsub)
        mp.setenv("GOOGLE_CLOUD_PROJECT", pf.PROJECT)
        for secret, key in TEST_KEYS.items():
            mp.setenv("DATAHEM_SECRET_" + secret.upper().replace("-", "_"), key.decode())
        try:
            pf.create_topics(example_model)
            pf.create_tables(example_model, EXAMPLE / "generated", bq)
            examples = load_examples()
            sent: dict[str, tuple[str, bool]] = {}  # uuid -> (source, valid)
            for name in BRANCHES:
                s = next(s for s in example_model.sources if s.name == name)
                for ex in (e for e in examples if e.message == s.message):
                    attrs = pf.attributes(s.name, s.message, **ex.attributes)
                    pf.publish(s.table.topic, ex.payload.encode(), attrs)
                    sent[attrs["uuid"]] = (s.name, ex.valid)
            assert {v for v in sent.values()} >= {(n, True) for n in BRANCHES}
            options = PipelineOptions(
                [
                    f"--project={pf.PROJECT}",
                    f"--bigquery_endpoint={bq}",
                    # rows go through the Storage Write API (the default write_method) of the same emulator
                    f"--bigquery_storage_endpoint={bq.grpc}",
                    "--secret_source=env",
                    "--runner=DirectRunner",
                ],
                streaming=True,
                save_main_session=False,
            )
            p = Pipeline(options=options)
            compose(p, [(modules[n].SPEC, modules[n].convert) for n in BRANCHES], None, options)
            result = p.run()
            try:
                tables = {n: modules[n].SPEC.table for n in BRANCHES}
                dead_table = modules[BRANCHES[0]].SPEC.dead_letter_table

                def stored():
                    rows = {
                        n: {r["_uuid"] for r in pf.query(bq, f"SELECT _uuid FROM `{t}`")} for n, t in tables.items()
                    }
                    dead = {
                        r["uuid"]: r["pipeline"] for r in pf.query(bq, f"SELECT uuid, pipeline FROM `{dead_table}`")
                    }
                    done = sum(len(v) for v in rows.values()) + len(dead) >= len(sent)
                    return (rows, dead) if done else None

                rows, dead = pf.wait_until(stored, 240, "every event of both branches as a row or a dead letter")
            finally:
                result.cancel()
        finally:
            mp.undo()
    for name in BRANCHES:
        assert rows[name] == {u for u, (n, valid) in sent.items() if n == name and valid}, name
    assert dead == {u: f"datahem-{n}" for u, (n, valid) in sent.items() if not valid}
