"""The source-kind registry: each kind's plugin, and the emitters and checks that only look kinds up."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.emitters import infra, pipelines, routing
from datahem.compiler.model import raw
from datahem.compiler.model.resolved import Source
from datahem.compiler.sources import KINDS, kind
from datahem.compiler.sources.base import PlatformPart, RouteKey, SourceKind
from datahem.compiler.sources.http import RawAuth
from datahem.runtime.collectors import routing as collector_routing
from datahem.runtime.contracts.routing import (
    Auth,
    HttpRoute,
    KinesisStream,
    SnsRoute,
    job_name,
    reader_job_name,
)

TOPIC = "grocer.commerce.v1.Order"
ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
ROLE = "arn:aws:iam::123456789012:role/datahem"


def _raw(kind_name: str, **keys) -> object:
    """A raw source as the binder makes it: the required keys of other kinds are None."""
    required = {
        f.name: None
        for f in dataclasses.fields(raw.RawSource)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return raw.RawSource(**{**required, "name": "orders", "kind": kind_name, "message": TOPIC, **keys})


def _source(model_source: Source, **changes) -> Source:
    return dataclasses.replace(model_source, **changes)


def test_registry_names_every_kind_once_and_sources_yaml_accepts_exactly_those():
    assert list(KINDS) == ["http", "sns", "kinesis"]
    assert all(k.name == name and kind(name) is k for name, k in KINDS.items())
    assert raw.SOURCE_KINDS == tuple(KINDS)


def test_each_kinds_raw_keys_are_source_keys_accepted_only_for_that_kind():
    fields = {f.name: f for f in dataclasses.fields(raw.RawSource)}
    for k in KINDS.values():
        for key in k.raw_keys:
            assert fields[key.name].metadata["kinds"] == (k.name,), key.name
            assert fields[key.name].metadata["choices"] == key.choices
    common = [n for n, f in fields.items() if not f.metadata.get("kinds")]
    assert common == ["name", "kind", "message", "description", "loc", "locs"]


def test_resolution_gives_the_routing_contract_entries():
    http = KINDS["http"].resolve(
        _raw("http", path="/o", methods=["POST", "GET", "POST"], auth=RawAuth(type="api_key", header="x-k")),
        "orders",
        TOPIC,
        TOPIC,
    )
    assert isinstance(http, HttpRoute)
    assert http.methods == ("GET", "POST")
    assert http.auth == Auth("api_key", "x-k", "")
    sns = KINDS["sns"].resolve(_raw("sns", route="o", topic_arns=["b", "a"]), "orders", TOPIC, TOPIC)
    assert sns == SnsRoute("o", "orders", TOPIC, TOPIC, ("a", "b"))
    kin = KINDS["kinesis"].resolve(_raw("kinesis", stream_arn=ARN, region="eu-west-1"), "orders", TOPIC, TOPIC)
    assert kin == KinesisStream(ARN, "orders", TOPIC, TOPIC, "eu-west-1", None, None)


def test_written_routing_tables_load_in_the_collectors(example_model, tmp_path: Path):
    """The compiler writes each table through the contract classes; the collectors' strict loaders read them back
    into equal objects."""
    for f in routing.emit(example_model):
        (tmp_path / Path(f.path).name).write_bytes(f.content)
    by_kind = {k: [s.route for s in example_model.sources if s.kind == k] for k in KINDS}
    assert sorted(collector_routing.load_http_routes(tmp_path).values(), key=lambda r: r.path) == sorted(
        by_kind["http"], key=lambda r: r.path
    )
    assert list(collector_routing.load_sns_table(tmp_path).routes.values()) == by_kind["sns"]
    assert list(collector_routing.load_kinesis_streams(tmp_path).values()) == by_kind["kinesis"]


def test_checks_report_at_the_key_of_the_kind(example_model):
    s = next(s for s in example_model.sources if s.kind == "kinesis")
    bad = _source(s, route=dataclasses.replace(s.route, stream_arn="nope", role_arn=None, credentials_secret=None))
    d = Diagnostics()
    KINDS["kinesis"].check(bad, d)
    messages = [i.message for i in d.items]
    assert any("`nope` is not a Kinesis stream ARN" in m for m in messages)
    assert any("needs `role_arn`" in m for m in messages)
    good = Diagnostics()
    for s in example_model.sources:
        KINDS[s.kind].check(s, good)
    assert not good


def test_an_api_key_query_parameter_is_checked(example_model):
    s = next(s for s in example_model.sources if s.name == "web_ga4")
    assert s.route.auth.query_parameter == "api_secret"
    for auth, message in [
        (dataclasses.replace(s.route.auth, query_parameter="api secret"), "must be 1 to 64 letters"),
        (Auth("hmac", "x-sig", "S", query_parameter="sig"), "is for type api_key"),
    ]:
        d = Diagnostics()
        KINDS["http"].check(_source(s, route=dataclasses.replace(s.route, auth=auth)), d)
        assert [i.message for i in d.items if message in i.message], (auth, [i.message for i in d.items])


def test_route_keys_are_what_must_be_unique(example_model):
    for s in example_model.sources:
        keys = KINDS[s.kind].route_keys(s)
        assert keys and all(isinstance(k, RouteKey) and k.key[0] == s.kind for k in keys)
    http = next(s for s in example_model.sources if s.kind == "http")
    assert {k.label for k in KINDS["http"].route_keys(http)} == {f"{m} {http.route.path}" for m in http.route.methods}


def test_secrets_and_readers(example_model):
    kin = next(s for s in example_model.sources if s.kind == "kinesis")
    keyed = _source(kin, route=dataclasses.replace(kin.route, role_arn=None, credentials_secret="aws_keys"))
    (secret,) = KINDS["kinesis"].secrets(keyed)
    assert (secret.id, secret.kms, secret.loc_key) == ("aws_keys", True, "credentials_secret")
    (reader,) = KINDS["kinesis"].readers(kin)
    assert reader.job == reader_job_name("kinesis", kin.name) == job_name(f"kinesis_{kin.name}")
    assert KINDS["sns"].readers(next(s for s in example_model.sources if s.kind == "sns")) == []


def test_platform_parts_cover_the_collectors_and_readers(example_model):
    doc = infra.platform(example_model)
    for name, k in KINDS.items():
        part = k.platform([s for s in example_model.sources if s.kind == name])
        assert isinstance(part, PlatformPart)
        assert all(a in doc["service_accounts"] for a in part.accounts)
        assert all(doc["collectors"][c] == v for c, v in part.collectors.items())
        assert all(p in doc["pipelines"] for p in part.pipelines)


def _spec_keywords(module: str) -> dict:
    """The literal keyword arguments of a generated module's `SPEC = ...(...)`."""
    (call,) = [n.value for n in ast.parse(module).body if isinstance(n, ast.Assign) and n.targets[0].id == "SPEC"]
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords}


def test_kinesis_via_pubsub_import_has_an_import_topic_no_reader_and_the_dev_reader(example_model, tmp_path):
    """`via: pubsub_import`: no reader job or template, the topic's ingestion settings and an account without
    grants in the platform, the branch marked as imported; kinesis.json still lists the stream, so `datahem dev`
    reads it with the reader (moto) as it does for `via: reader`."""
    kin = next(s for s in example_model.sources if s.kind == "kinesis")
    consumer = f"{kin.route.stream_arn}/consumer/datahem:1764633600"
    imp = _source(kin, route=dataclasses.replace(kin.route, via="pubsub_import", consumer_arn=consumer))
    k = KINDS["kinesis"]
    assert k.readers(imp) == [] and k.imported(imp) and not k.imported(kin)
    part = k.platform([imp])
    assert part.pipelines == []
    assert part.ingestion == {
        kin.route.topic: {
            "aws_kinesis": {
                "source": kin.name,
                "stream_arn": kin.route.stream_arn,
                "consumer_arn": consumer,
                "aws_role_arn": kin.route.role_arn,
                "service_account": "dh-kimp-car-temperatures",
            }
        }
    }
    (account,) = part.accounts
    assert account["id"] == "dh-kimp-car-temperatures" and account["grants"] == []
    d = Diagnostics()
    k.check(imp, d)
    assert not d
    assert [key.key for key in k.route_keys(imp)][1] == ("kinesis", "import topic", kin.route.topic)
    model = dataclasses.replace(example_model, sources=tuple(imp if s is kin else s for s in example_model.sources))
    assert pipelines._spec(model, imp)["imported_from"] == "kinesis"
    assert pipelines._spec(example_model, kin)["imported_from"] is None
    emitted = {f.path: f.content.decode() for f in pipelines.emit(model)}
    assert f"pipelines/kinesis_{kin.name}.py" not in emitted, "no reader module or template"
    assert _spec_keywords(emitted[f"pipelines/source_{kin.name}.py"])["imported_from"] == "kinesis"
    assert _spec_keywords(emitted["pipelines/backup.py"])["imported"] == {
        kin.table.backup_subscription: (kin.name, kin.message, "kinesis")
    }
    doc = infra.platform(model)
    assert not any(p["name"] == reader_job_name("kinesis", kin.name) for p in doc["pipelines"])
    (topic,) = [t for t in doc["topics"] if t["topic"] == kin.route.topic]
    assert topic["ingestion"] == part.ingestion[kin.route.topic]
    assert doc["pipelines"][0]["branches"][kin.name]["imported_from"] == "kinesis"
    # dev: the same kinesis.json entry as the reader's, read by the reader
    (tmp_path / "kinesis.json").write_text(json.dumps(k.routing_table([imp.route], "c")))
    assert collector_routing.load_kinesis_streams(tmp_path) == {
        kin.route.stream_arn: dataclasses.replace(imp.route, via="reader", consumer_arn=None)
    }
    assert k.routing_table([imp.route], "c") == k.routing_table([kin.route], "c")
    assert k.dev.reader_module == "datahem.runtime.collectors.kinesis"


def _toy(name: str) -> SourceKind:
    """A kind that only the registry knows: the emitters must pick it up without a line of their own."""
    return SourceKind(
        name=name,
        label="Toy",
        raw_keys=(),
        resolve=lambda raw, source, message_type, topic: SnsRoute("toy", source, message_type, topic, ()),
        route_keys=lambda s: [RouteKey((name, s.name), "name", f"toy `{s.name}`")],
        check=lambda s, d: d.error(s.loc, "YAML_VALUE", "toy check ran"),
        routing_file=f"{name}.json",
        routing_table=lambda routes, comment: {"comment": comment, "toys": [r.source for r in routes]},
        change_keys=lambda route: {f"toy {route.source}"},
        read_change_keys=lambda table: {s: {f"toy {s}"} for s in table.get("toys", [])},
        platform=lambda sources: PlatformPart(collectors={name: {"sources": [s.name for s in sources]}}),
    )


def test_a_registered_kind_flows_through_the_emitters(example_model, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(KINDS, "toy", _toy("toy"))
    s = example_model.sources[0]
    toy = _source(s, kind="toy", route=KINDS["toy"].resolve(None, s.name, s.message, s.table.topic))
    model = dataclasses.replace(example_model, sources=(toy, *example_model.sources[1:]))
    files = {f.path: f.content for f in routing.emit(model)}
    assert json.loads(files["routing/toy.json"])["toys"] == [s.name]
    assert infra.platform(model)["collectors"]["toy"] == {"sources": [s.name]}
    assert all(not p.endswith(f"_{s.name}.py") or "source_" in p for p in (f.path for f in pipelines.emit(model)))
    d = Diagnostics()
    KINDS["toy"].check(toy, d)
    assert [i.message for i in d.items] == ["toy check ran"]
    assert toy.loc == s.loc and isinstance(s.loc, Loc)
