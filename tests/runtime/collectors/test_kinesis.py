"""The Kinesis reader end to end: records put into a moto stream (moto in server mode) are read by the Beam source
on the DirectRunner, with credentials from moto's STS via web identity (a local stand-in for the GCP metadata
server issues the token), and published to the real Pub/Sub emulator with the attribute contract.

moto quirks shape the resharding scenarios (checked in moto 5.2.5's kinesis/models.py): records put after a
reshard still land in the closed parent whose hash range covers them (moto looks shards up in creation order), a
merge copies the parents' records into the child, and closed shards keep returning iterators. So the reshard test
merges two empty shards first and then writes the "before" records into the (closed) parents and the "after"
records into the child by an explicit hash key only the child's range holds; to the reader this is exactly a
stream whose records were written before and after a merge.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apache_beam as beam
import boto3
import pytest
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from datahem.runtime.collectors.contract import rfc3339
from datahem.runtime.collectors.kinesis.credentials import AwsSettings, KinesisClientFactory
from datahem.runtime.collectors.kinesis.pipeline import ReadFromKinesis, build
from datahem.runtime.collectors.kinesis.publish import RECORD_NAMESPACE
from datahem.runtime.collectors.kinesis.shards import StreamCheckpoint
from datahem.runtime.collectors.kinesis.source import CheckpointTracker, ReaderSettings, ReadKinesisFn
from datahem.runtime.collectors.publisher import PublisherSettings
from datahem.runtime.collectors.routing import KinesisStream, load_kinesis_streams
from tests.runtime.collectors.conftest import PROJECT, write_json

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/datahem-kinesis-reader"
TOPIC = "grocer.delivery.v1.CarTemperature"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2lnbmF0dXJl"


class MetadataServer:
    """Answers the GCP metadata server's identity-token request, and remembers who asked how."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, self.headers.get("Metadata-Flavor")))
                ok = self.headers.get("Metadata-Flavor") == "Google" and "/identity?" in self.path
                body = TOKEN.encode() if ok else b"forbidden"
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_port}"


@pytest.fixture(scope="module")
def metadata():
    server = MetadataServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def aws(moto_url, metadata):
    return AwsSettings(endpoint_url=moto_url, metadata_host=metadata.host)


@pytest.fixture()
def kinesis(moto_url):
    return boto3.client("kinesis", endpoint_url=moto_url, region_name=REGION)


def new_stream(kinesis, shards: int) -> KinesisStream:
    name = f"temps-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return KinesisStream(arn, "car_temperatures", TOPIC, TOPIC, REGION, ROLE, None)


def put(kinesis, stream: KinesisStream, readings: list[dict], hash_key: int | None = None) -> None:
    for reading in readings:
        extra = {"ExplicitHashKey": str(hash_key)} if hash_key is not None else {}
        kinesis.put_record(
            StreamARN=stream.stream_arn, Data=json.dumps(reading).encode(), PartitionKey=reading["car"], **extra
        )


def readings(label: str, n: int) -> list[dict]:
    return [{"car": f"car-{i % 3}", "celsius": 4.0 + i / 10, "label": f"{label}-{i}"} for i in range(n)]


def run_reader(stream: KinesisStream, aws: AwsSettings, pubsub, **reader) -> None:
    settings = ReaderSettings(poll_interval_s=0.2, **({"stop_after_idle_s": 60.0} | reader))
    publisher = PublisherSettings(PROJECT, emulator_host=pubsub.host, timeout_s=10)
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as pipeline:
        build(pipeline, {stream.stream_arn: stream}, settings, aws, publisher)


def all_records(kinesis, stream: KinesisStream) -> dict[str, dict]:
    """Every record in the stream, read directly with boto3, keyed by (shard, sequence number)."""
    out = {}
    for shard in kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamARN=stream.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for r in kinesis.get_records(StreamARN=stream.stream_arn, ShardIterator=iterator)["Records"]:
            out[shard["ShardId"], r["SequenceNumber"]] = r
    return out


def test_records_arrive_with_the_contract_via_web_identity(pubsub, aws, kinesis, metadata):
    stream = new_stream(kinesis, 2)
    sent = readings("a", 8)
    put(kinesis, stream, sent)
    sub = pubsub.subscribe(TOPIC)
    run_reader(stream, aws, pubsub, stop_after_records=8)
    got = pubsub.pull(sub, 8)
    assert sorted(g.data for g in got) == sorted(json.dumps(r).encode() for r in sent)
    records = all_records(kinesis, stream)
    for g in got:
        a = g.attributes
        assert set(a) == {
            "uuid",
            "timestamp",
            "source",
            "message_type",
            "collector",
            "kinesis_shard_id",
            "kinesis_sequence_number",
        }
        key = (a["kinesis_shard_id"], a["kinesis_sequence_number"])
        assert a["uuid"] == str(uuid.uuid5(RECORD_NAMESPACE, f"{stream.stream_arn}/{key[0]}/{key[1]}"))
        assert a["timestamp"] == rfc3339(records[key]["ApproximateArrivalTimestamp"])
        assert (a["source"], a["message_type"], a["collector"]) == ("car_temperatures", TOPIC, "kinesis")
        assert g.data == records[key]["Data"]
    assert any("audience=sts.amazonaws.com" in path and flavor == "Google" for path, flavor in metadata.requests)


def test_records_put_while_reading_are_read(pubsub, aws, kinesis):
    stream = new_stream(kinesis, 2)
    sub = pubsub.subscribe(TOPIC)
    put(kinesis, stream, readings("early", 4))
    reader = threading.Thread(target=run_reader, args=(stream, aws, pubsub), kwargs={"stop_after_records": 8})
    reader.start()
    try:
        early = pubsub.pull(sub, 4, timeout=60, settle=0)
        assert len(early) == 4  # read, published, and the reader is now polling a caught-up stream
        put(kinesis, stream, readings("late", 4))
    finally:
        reader.join(90)
    assert not reader.is_alive()
    late = pubsub.pull(sub, 4)
    assert sorted(json.loads(g.data)["label"] for g in early + late) == sorted(
        [f"early-{i}" for i in range(4)] + [f"late-{i}" for i in range(4)]
    )


def test_merge_resharding_and_resume_from_sequence_numbers(pubsub, aws, kinesis):
    stream = new_stream(kinesis, 2)
    shards = kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"]
    left, right = (s["ShardId"] for s in shards)
    kinesis.merge_shards(StreamARN=stream.stream_arn, ShardToMerge=left, AdjacentShardToMerge=right)
    [child] = [s for s in kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"] if "ParentShardId" in s]
    assert {child["ParentShardId"], child["AdjacentParentShardId"]} == {left, right}
    before, after = readings("before", 6), readings("after", 4)
    put(kinesis, stream, before)  # into the closed parents
    put(kinesis, stream, after, hash_key=int(shards[0]["HashKeyRange"]["EndingHashKey"]))  # only the child's range

    sub = pubsub.subscribe(TOPIC)
    run_reader(stream, aws, pubsub, stop_after_records=6)
    first = pubsub.pull(sub, 6)
    # The child cannot be read before both parents are: the first run, stopped after 6 records, saw the parents only.
    assert sorted(json.loads(g.data)["label"] for g in first) == sorted(r["label"] for r in before)
    assert {g.attributes["kinesis_shard_id"] for g in first} <= {left, right}

    checkpoint: dict[str, str] = {}
    for g in first:
        shard, sequence = g.attributes["kinesis_shard_id"], g.attributes["kinesis_sequence_number"]
        checkpoint[shard] = max(checkpoint.get(shard, "0"), sequence, key=int)
    run_reader(stream, aws, pubsub, stop_after_records=4, start_after=tuple(checkpoint.items()))
    second = pubsub.pull(sub, 4)
    assert sorted(json.loads(g.data)["label"] for g in second) == sorted(r["label"] for r in after)
    assert {g.attributes["kinesis_shard_id"] for g in second} == {child["ShardId"]}


def drain(fn: ReadKinesisFn, stream: KinesisStream, watermark: ManualWatermarkEstimator, max_calls: int = 100):
    """Call the splittable DoFn the way a runner does: again with each deferred residual, until it stops."""
    restriction, outputs = StreamCheckpoint(), []
    for _ in range(max_calls):
        tracker = ThreadsafeRestrictionTracker(CheckpointTracker(restriction))
        outputs += [v.value for v in fn.process(stream, tracker=RestrictionTrackerView(tracker), watermark=watermark)]
        tracker.check_done()
        deferred = tracker.deferred_status()
        if deferred is None:
            return outputs
        restriction = deferred[0]
    raise AssertionError(f"the reader did not stop within {max_calls} calls")


def test_merged_child_is_read_only_after_both_parents(aws, kinesis):
    """One record per GetRecords call, so a reader that did not wait for the parents would interleave the child's
    records with theirs."""
    stream = new_stream(kinesis, 2)
    left, right = (s["ShardId"] for s in kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"])
    ending = int(kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"][0]["HashKeyRange"]["EndingHashKey"])
    kinesis.merge_shards(StreamARN=stream.stream_arn, ShardToMerge=left, AdjacentShardToMerge=right)
    put(kinesis, stream, readings("before", 6))
    put(kinesis, stream, readings("after", 4), hash_key=ending)
    settings = ReaderSettings(records_per_call=1, poll_interval_s=0, stop_after_records=10, stop_after_idle_s=30)
    watermark = ManualWatermarkEstimator(None)
    records = drain(ReadKinesisFn(settings, KinesisClientFactory(aws)), stream, watermark)
    labels = [json.loads(r.data)["label"] for r in records]
    assert sorted(labels) == sorted([f"before-{i}" for i in range(6)] + [f"after-{i}" for i in range(4)])
    assert all(label.startswith("before") for label in labels[:6]), labels
    assert {r.shard_id for r in records[:6]} <= {left, right}
    assert records[5].arrival <= records[6].arrival
    newest = Timestamp.from_utc_datetime(max(r.arrival for r in records))
    assert watermark.current_watermark() is not None and watermark.current_watermark() <= newest


def test_split_parent_is_read_to_its_end_before_its_children(pubsub, aws, kinesis):
    stream = new_stream(kinesis, 1)
    [shard] = kinesis.list_shards(StreamARN=stream.stream_arn)["Shards"]
    put(kinesis, stream, readings("before", 3))
    middle = int(shard["HashKeyRange"]["EndingHashKey"]) // 2
    kinesis.split_shard(StreamARN=stream.stream_arn, ShardToSplit=shard["ShardId"], NewStartingHashKey=str(middle))
    put(kinesis, stream, readings("after", 3))
    sub = pubsub.subscribe(TOPIC)
    run_reader(stream, aws, pubsub, stop_after_records=6)
    got = pubsub.pull(sub, 6)
    assert sorted(json.loads(g.data)["label"] for g in got) == sorted(
        [f"before-{i}" for i in range(3)] + [f"after-{i}" for i in range(3)]
    )


def test_element_timestamps_are_arrival_times(aws, kinesis):
    stream = new_stream(kinesis, 2)
    put(kinesis, stream, readings("t", 5))
    expected = [
        (key[1], r["ApproximateArrivalTimestamp"].astimezone(UTC).timestamp())
        for key, r in all_records(kinesis, stream).items()
    ]
    settings = ReaderSettings(poll_interval_s=0.2, stop_after_records=5, stop_after_idle_s=60)
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as pipeline:
        stamped = (
            pipeline
            | ReadFromKinesis([stream], settings, aws)
            | beam.Map(lambda r, ts=beam.DoFn.TimestampParam: (r.sequence_number, round(float(ts), 3)))
        )
        assert_that(stamped, equal_to([(seq, round(ts, 3)) for seq, ts in expected]))


def test_idle_stop_ends_a_bounded_run_on_an_empty_stream(pubsub, aws, kinesis):
    stream = new_stream(kinesis, 1)
    started = time.monotonic()
    run_reader(stream, aws, pubsub, stop_after_idle_s=1.0)
    assert time.monotonic() - started < 30


def test_malformed_kinesis_table_stops_the_reader(tmp_path):
    import subprocess
    import sys

    write_json(tmp_path / "kinesis.json", {"streams": {"arn:aws:kinesis:eu-west-1:1:stream/x": {"topic": "t"}}})
    with contextlib.suppress(Exception):
        load_kinesis_streams(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "datahem.runtime.collectors.kinesis", f"--routing-dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "malformed routing table" in proc.stderr and "missing key `region`" in proc.stderr
