"""The Kinesis reader as a Beam pipeline: read every stream of kinesis.json, publish each record to its topic.

    python -m datahem.runtime.collectors.kinesis [--routing-dir DIR] [--stream ARN ...] [--start-at ISO-TIME]
        [--stop-after-records N] [--stop-after-idle SECONDS] [Beam options: --runner=DataflowRunner ...]

Publisher settings (GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST, DATAHEM_PUBLISH_TIMEOUT_SECONDS) and AWS settings
(DATAHEM_AWS_ENDPOINT_URL, GCE_METADATA_HOST, DATAHEM_AWS_WEB_IDENTITY_AUDIENCE) come from the environment.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.kinesis.credentials import AwsSettings, KinesisClientFactory
from datahem.runtime.collectors.kinesis.publish import PublishRecordsFn
from datahem.runtime.collectors.kinesis.source import ReaderSettings, ReadKinesisFn
from datahem.runtime.collectors.publisher import PublisherSettings
from datahem.runtime.collectors.routing import KinesisStream, load_kinesis_streams


class ReadFromKinesis(beam.PTransform):
    """PBegin → PCollection[KinesisRecord], timestamped by arrival."""

    def __init__(self, streams: Sequence[KinesisStream], reader: ReaderSettings, aws: AwsSettings) -> None:
        super().__init__()
        self._streams = list(streams)
        self._reader = reader
        self._aws = aws

    def expand(self, pbegin):
        return (
            pbegin
            | "Streams" >> beam.Create(self._streams)
            | "Read" >> beam.ParDo(ReadKinesisFn(self._reader, KinesisClientFactory(self._aws)))
        )


class PublishToPubSub(beam.PTransform):
    def __init__(self, streams: Mapping[str, KinesisStream], publisher: PublisherSettings) -> None:
        super().__init__()
        self._streams = dict(streams)
        self._publisher = publisher

    def expand(self, records):
        return records | "Publish" >> beam.ParDo(PublishRecordsFn(self._streams, self._publisher))


def build(
    pipeline: beam.Pipeline,
    streams: Mapping[str, KinesisStream],
    reader: ReaderSettings,
    aws: AwsSettings,
    publisher: PublisherSettings,
) -> None:
    records = pipeline | "ReadKinesis" >> ReadFromKinesis(list(streams.values()), reader, aws)
    records | "ToPubSub" >> PublishToPubSub(streams, publisher)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python -m datahem.runtime.collectors.kinesis", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--routing-dir", default=env.get("DATAHEM_ROUTING_DIR", "generated/routing"))
    parser.add_argument("--stream", action="append", default=[], help="read only this stream ARN (repeatable)")
    parser.add_argument("--start-at", type=datetime.fromisoformat, help="read records that arrived from this time")
    parser.add_argument(
        "--start-after",
        action="append",
        default=[],
        metavar="SHARD=SEQUENCE",
        help="resume a shard after this sequence number (the kinesis_sequence_number attribute of its last event)",
    )
    parser.add_argument("--stop-after-records", type=int)
    parser.add_argument("--stop-after-idle", type=float, help="seconds")
    args, beam_args = parser.parse_known_args(argv)
    streams = load_kinesis_streams(Path(args.routing_dir))
    unknown = sorted(set(args.stream) - set(streams))
    if unknown:
        raise CollectorConfigError(f"not in kinesis.json: {', '.join(unknown)}")
    if args.stream:
        streams = {arn: s for arn, s in streams.items() if arn in args.stream}
    try:
        start_after = tuple(tuple(item.split("=", 1)) for item in args.start_after)
        if any(len(pair) != 2 or not pair[1].isdigit() for pair in start_after):
            raise ValueError
    except ValueError:
        raise CollectorConfigError("--start-after takes SHARD_ID=SEQUENCE_NUMBER") from None
    reader = ReaderSettings(
        start_at=args.start_at,
        start_after=start_after,
        stop_after_records=args.stop_after_records,
        stop_after_idle_s=args.stop_after_idle,
    )
    options = PipelineOptions(beam_args)
    bounded = reader.stop_after_records is not None or reader.stop_after_idle_s is not None
    options.view_as(StandardOptions).streaming = not bounded
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline, streams, reader, AwsSettings.from_env(env), PublisherSettings.from_env(env))
