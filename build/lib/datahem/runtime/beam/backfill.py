"""Backfill: a batch job that reads events from the backup table with a SQL query and republishes them to their
source's topic with `backfill=true` and the original attributes (so the original `uuid`): the source pipeline
de-duplicates them like any redelivery, and the backup pipeline does not back them up twice."""

from __future__ import annotations

import base64

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from datahem.runtime.beam.io import PublishFn, endpoint_from_env
from datahem.runtime.bigquery import bigquery_client

REQUIRED_COLUMNS = ("payload", "attributes")


class QueryBackup(beam.DoFn):
    def __init__(self, project: str, endpoint: str | None):
        self.project = project
        self.endpoint = endpoint

    def process(self, sql: str):
        client = bigquery_client(self.project, self.endpoint)
        result = client.query(sql).result()
        names = {f.name for f in result.schema}
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"the backfill query must select {', '.join(missing)} from the backup table")
        for row in result:
            yield dict(row.items())


def replay(row: dict, topic: str) -> tuple[str, bytes, dict]:
    payload = row["payload"]
    data = payload if isinstance(payload, bytes) else base64.b64decode(payload)
    attributes = {a["key"]: a["value"] for a in row["attributes"] or [] if a.get("value") is not None}
    attributes["backfill"] = "true"
    return topic, data, attributes


def build(p: beam.Pipeline, sql: str, topic: str, options: PipelineOptions, bigquery_endpoint: str | None = None):
    project = options.view_as(GoogleCloudOptions).project
    endpoint = endpoint_from_env(bigquery_endpoint)
    return (
        p
        | "Query" >> beam.Create([sql])
        | "ReadBackup" >> beam.ParDo(QueryBackup(project, endpoint))
        | "Replay" >> beam.Map(replay, topic)
        | "Publish" >> beam.ParDo(PublishFn(project))
    )


def run(sql: str, topic: str, argv: list[str] | None = None, bigquery_endpoint: str | None = None) -> int:
    """Run the backfill to completion; return how many events were republished."""
    from apache_beam.metrics.metric import MetricsFilter

    options = PipelineOptions(argv, save_main_session=False)
    p = beam.Pipeline(options=options)
    build(p, sql, topic, options, bigquery_endpoint)
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_name("published"))["counters"]
    return sum(c.committed or 0 for c in counters)
