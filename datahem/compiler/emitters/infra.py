"""Infrastructure as code: a CDK-for-Terraform app under generated/infra/ and the Terraform JSON it synthesizes,
one stack per environment, so a pull request shows the exact Terraform change.

- `platform.json`: everything the stacks need from the model, serialized (environments, categories, tables with
  the BigQuery emitter's schema fields, topics and subscriptions, secrets, service accounts with their grants,
  collectors and Dataflow jobs). Who may do what is decided here, so the review of a privilege change is a diff of
  this file; the constructs that turn it into resources live in the tested library `datahem/deploy/infra/`.
- `main.py` (a thin template) and `cdktf.json`: the app `cdktf synth|deploy` runs.
- `cdktf.out/stacks/<env>/cdk.tf.json`: the synthesized Terraform, what `terraform apply` deploys.
- `synth.json`: the fingerprint of everything the synthesized files depend on.

Synthesizing imports the prebuilt google providers through jsii (seconds, and a Node process of about a gigabyte),
so it runs in a subprocess, and only when the fingerprint changed: otherwise the previous build's files are reused
byte for byte (checked against the hashes synth.json records, so a hand edit is never carried over). When only
values the stacks copy changed (table schemas, the descriptor set's hash: what a field edit changes), the previous
stacks are patched instead (`patch`), with the library's own schema function, after checking that the patch gives
the previous stacks back from the previous inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from datahem.compiler import tempdirs
from datahem.compiler.emitters import OutputFile, header, header_text, render, to_json
from datahem.compiler.emitters.pipelines import STREAMING, STREAMING_JOB
from datahem.compiler.evolution.migrations import Evolution
from datahem.compiler.model.resolved import POLICY_TAG_PLACEHOLDER, Environment, Model, Table
from datahem.compiler.projection.platform import categories
from datahem.compiler.projection.tables import columns, partitioning
from datahem.compiler.sources import KINDS
from datahem.compiler.sources.platform import (
    CUSTOM_ROLES,
    PUBLISHER,
    ROW_WRITER,
    SECRET_ACCESSOR,
    account,
    account_id,
    dataflow_worker,
)
from datahem.compiler.writer import read_json
from datahem.output import step
from datahem.runtime.contracts.platform import FORMAT, logical_id, table_schema
from datahem.runtime.contracts.routing import job_name

LIBRARY = Path(__file__).resolve().parents[2] / "deploy" / "infra"  # read as files, never imported
# what the library imports from outside its folder, so a change there re-synthesizes too
CONTRACT = "datahem/runtime/contracts/platform.py"
CONTRACT_PATH = Path(__file__).resolve().parents[3] / CONTRACT
TOOLS = ("cdktf", "constructs", "jsii", "cdktf-cdktf-provider-google", "cdktf-cdktf-provider-google-beta")
STACKS = "infra/cdktf.out/stacks"
DESCRIPTOR_SET = "registry/descriptor_set.binpb"
SYNTH_TIMEOUT_SECONDS = 600

# Dataflow's Pub/Sub source reads the subscription's settings (pubsub.subscriptions.get) besides consuming it.
READ_SUBSCRIPTION = ("roles/pubsub.subscriber", "roles/pubsub.viewer")
DATA_EDITOR = "roles/bigquery.dataEditor"


def dead_letter_subscription(t: Table) -> str:
    """The subscription that holds what Pub/Sub dead-lettered: without one a dead-letter topic drops messages."""
    return f"{t.dead_letter_topic}.hold"


def table_ref(t: Table) -> str:
    return f"{t.dataset}.{t.name}"


def _table(t: Table) -> dict[str, Any]:
    return {
        "message": t.message,
        "dataset": t.dataset,
        "name": t.name,
        "description": t.description,
        "fields": [c.to_json() for c in columns(t)],
        "partitioning": partitioning(t),
        "clustering": list(t.clustering),
        "labels": dict(t.labels),
        "system": t.system,
    }


_DATASET_PURPOSE = {
    "dataset": "DataHem event tables, one per message type.",
    "backup_dataset": "DataHem raw backup of every event, for replay (backfill).",
    "dead_letter_dataset": "DataHem dead letters: events the pipelines could not turn into rows, with the reason.",
}


def _datasets(model: Model, tables: list[Table]) -> list[dict[str, Any]]:
    bq = model.bigquery
    purpose = {getattr(bq, key): text for key, text in reversed(_DATASET_PURPOSE.items())}
    names = sorted({t.dataset for t in tables})
    # the datasets of the raw backup and the dead letters hold every event's payload, unmasked
    raw = {bq.backup_dataset, bq.dead_letter_dataset}
    return [
        {"name": n, "description": purpose.get(n, "DataHem event tables."), "raw_payloads": n in raw} for n in names
    ]


def _topic(t: Table) -> dict[str, Any]:
    return {
        "message": t.message,
        "topic": t.topic,
        "processed_topic": t.processed_topic,
        "dead_letter_topic": t.dead_letter_topic,
        "backup_subscription": t.backup_subscription,
        "enrichment_subscription": t.enrichment_subscription,
        "dead_letter_subscription": dead_letter_subscription(t),
    }


def _secrets(model: Model) -> list[dict[str, Any]]:
    """Secret Manager secrets the platform reads (ids only; values are added by an operator): HTTP auth secrets
    (named after their environment variable), pseudonymization keys, and Kinesis credentials (KMS-encrypted)."""
    secrets: dict[str, dict[str, Any]] = {}

    def add(secret_id: str, purpose: str, kms: bool = False) -> None:
        entry = secrets.setdefault(secret_id, {"id": secret_id, "kms": False, "purposes": []})
        entry["kms"] = entry["kms"] or kms
        entry["purposes"] = sorted({*entry["purposes"], purpose})

    for s in model.sources:
        for secret in KINDS[s.kind].secrets(s):
            add(secret.id, secret.purpose, kms=secret.kms)
    for t in model.tables:
        for key in t.pseudonymization_secrets:
            add(key, f"pseudonymization key of {table_ref(t)}")
    return [secrets[k] for k in sorted(secrets)]


def _read(subscription: str) -> list[dict[str, Any]]:
    return [{"role": role, "subscription": subscription} for role in READ_SUBSCRIPTION]


def _compute(
    model: Model,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Service accounts (with exactly the grants each needs), collectors, Dataflow jobs and import topics'
    ingestion settings (by topic)."""
    bq = model.bigquery
    dead_letters = f"{bq.dead_letter_dataset}.{bq.dead_letter_table}"
    accounts: list[dict[str, Any]] = []
    collectors: dict[str, Any] = {}
    pipelines: list[dict[str, Any]] = []
    ingestion: dict[str, dict[str, Any]] = {}

    for name, kind in KINDS.items():
        of_kind = [s for s in model.sources if s.kind == name]
        if of_kind:
            part = kind.platform(of_kind)
            accounts += part.accounts
            collectors |= part.collectors
            pipelines += part.pipelines
            ingestion |= part.ingestion

    branches: list[tuple[str, str, list[dict[str, Any]], dict[str, Any]]] = []  # (source, description, grants, reads)
    for s in model.sources:
        t = s.table
        grants = [
            *_read(t.enrichment_subscription),
            {"role": PUBLISHER, "topic": t.processed_topic},
            {"role": DATA_EDITOR, "table": table_ref(t)},
            {"role": ROW_WRITER, "table": dead_letters},
            *({"role": SECRET_ACCESSOR, "secret": key} for key in t.pseudonymization_secrets),
        ]
        branch = {
            "subscription": t.enrichment_subscription,
            "table": table_ref(t),
            "processed_topic": t.processed_topic,
            "message": s.message,
        }
        if KINDS[s.kind].imported(s):  # its topic is a Pub/Sub import topic: the branch maps Pub/Sub's attributes
            branch["imported_from"] = s.kind
        branches.append((s.name, s.name, grants, branch))
    if model.tables:
        grants = [g for t in model.tables for g in _read(t.backup_subscription)]
        grants += [
            {"role": ROW_WRITER, "table": table_ref(model.backup_table)},
            {"role": ROW_WRITER, "table": dead_letters},
        ]
        backup: dict[str, Any] = {
            "subscriptions": [t.backup_subscription for t in model.tables],
            "table": table_ref(model.backup_table),
        }
        imported = sorted(s.table.backup_subscription for s in model.sources if KINDS[s.kind].imported(s))
        if imported:  # import topics' subscriptions: the backup maps Pub/Sub's attributes on them
            backup["imported"] = imported
        branches.append(("", "backup", grants, backup))

    if model.deployment == "per_source":
        for source, name, grants, branch in branches:
            job = job_name(name)
            if source:
                sa = account_id("src", source)
                display, what = f"DataHem pipeline {source}", f"the {source} source pipeline"
                parameters: dict[str, Any] = {"subscription": {"subscription": branch["subscription"]}}
            else:
                sa = account_id("backup")
                display, what = "DataHem backup pipeline", "the backup pipeline"
                parameters = {}
            parameters["dead_letter_table"] = {"table": dead_letters}
            accounts.append(account(sa, display, f"Dataflow workers of {what}.", [*grants, *dataflow_worker(job)]))
            pipelines.append(
                {
                    "name": job,
                    "kind": "source" if source else "backup",
                    "source": source,
                    "template": f"source_{source}" if source else "backup",
                    "service_account": sa,
                    "web_identity": False,
                    "parameters": parameters,
                    "branches": {name: branch},
                }
            )
    elif branches:
        # one job, one account: the union of every branch's grants (Dataflow runs a job as one account)
        sa = account_id(STREAMING)
        granted = [g for _, _, grants, _ in branches for g in grants]
        accounts.append(
            account(
                sa,
                "DataHem streaming job",
                "Dataflow workers of the streaming job: every source's branch and the backup.",
                [*granted, *dataflow_worker(STREAMING_JOB)],
            )
        )
        pipelines.append(
            {
                "name": STREAMING_JOB,
                "kind": STREAMING,
                "source": "",
                "template": STREAMING,
                "service_account": sa,
                "web_identity": False,
                "parameters": {"dead_letter_table": {"table": dead_letters}},
                "branches": {name: branch for _, name, _, branch in branches},
            }
        )
    return (
        sorted(accounts, key=lambda a: a["id"]),
        collectors,
        sorted(pipelines, key=lambda p: p["name"]),
        ingestion,
    )


def _environment(e: Environment) -> dict[str, Any]:
    return {
        "name": e.name,
        "gcp_project": e.gcp_project,
        "region": e.region,
        "state_bucket": e.state_bucket,
        "invoker_iam_disabled": e.invoker_iam_disabled,
        "network": e.network,
        "subnetwork": e.subnetwork,
        "private_workers": e.private_workers,
        "secret_locations": list(e.secret_locations),
        "kms_key": e.kms_key,
        "bigquery_kms_key": e.bigquery_kms_key,
        "write_method": e.write_method,
    }


def sources_of(model: Model) -> list[str]:
    return list(model.provenance)


def _stream_names(topics: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    names = {
        "topics": ("topic", "processed_topic", "dead_letter_topic"),
        "subscriptions": ("backup_subscription", "enrichment_subscription", "dead_letter_subscription"),
    }
    return (
        {t[k] for t in topics for k in names["topics"]},
        {t[k] for t in topics for k in names["subscriptions"]},
    )


def retired_streams(model: Model, previous: Mapping[str, bytes]) -> dict[str, list[str]]:
    """Topics and subscriptions that left the project since the previous build (a message moved to a new major
    version, a source removed), added to those the previous build had retired: the stacks make Terraform forget them
    (their backlog and held dead letters stay). A name that comes back is no longer retired."""
    try:
        before = json.loads(previous["infra/platform.json"])
        old_topics, old_subs = _stream_names(before.get("topics", []))
        old_topics |= set(before.get("retired_topics", []))
        old_subs |= set(before.get("retired_subscriptions", []))
    except (KeyError, ValueError, TypeError, AttributeError):
        return {"topics": [], "subscriptions": []}
    topics, subs = _stream_names([_topic(t) for t in model.tables])
    return {"topics": sorted(old_topics - topics), "subscriptions": sorted(old_subs - subs)}


def platform(
    model: Model, retired_tables: tuple[str, ...] = (), retired: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """The infrastructure model: everything the stacks need, independent of the environment (each stack adds
    its project, region and state bucket). `retired_tables`: the tables the build's evolution retires; `retired`:
    the topics and subscriptions that left the project (`retired_streams`)."""
    tables = [*model.tables, model.backup_table, model.dead_letter_table]
    accounts, collectors, pipelines, ingestion = _compute(model)
    return {
        "comment": header_text(sources_of(model)),
        "format": FORMAT,
        "project": model.project,
        "environments": [_environment(e) for e in model.environments],
        "bigquery": {"location": model.bigquery.location, "datasets": _datasets(model, tables)},
        "policy_tag_placeholder": POLICY_TAG_PLACEHOLDER.format(""),
        "categories": categories(model),
        "tables": [_table(t) for t in tables],
        # a topic with `ingestion` is a Pub/Sub import topic (e.g. of a Kinesis stream): no reader job feeds it
        "topics": [
            _topic(t) | ({"ingestion": ingestion[t.topic]} if t.topic in ingestion else {}) for t in model.tables
        ],
        "secrets": _secrets(model),
        "custom_roles": [dict(r) for r in CUSTOM_ROLES],
        "service_accounts": accounts,
        "collectors": collectors,
        "pipelines": pipelines,
        # tables that left the project: the stacks make Terraform forget them without deleting them (their data stays)
        "retired_tables": list(retired_tables),
        # topics and subscriptions that left the project: forgotten the same way (backlogs and dead letters stay)
        "retired_topics": list((retired or {}).get("topics", [])),
        "retired_subscriptions": list((retired or {}).get("subscriptions", [])),
        "registry": {
            "descriptor_set": DESCRIPTOR_SET,
            "object": DESCRIPTOR_SET,
            "sha256": hashlib.sha256(model.descriptor_set).hexdigest(),
        },
    }


def cdktf_json(model: Model) -> dict[str, Any]:
    """cdktf's project file. The prebuilt providers come from pip, so `terraformProviders` stays empty (no
    `cdktf get`); a fixed projectId keeps the CLI from writing one into this file."""
    return {
        "comment": header_text(["sources.yaml"]),
        "language": "python",
        "app": "python main.py",
        "output": "cdktf.out",
        "codeMakerOutput": "imports",
        "projectId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"datahem:{model.project}")),
        "sendCrashReports": "false",
        "terraformProviders": [],
        "terraformModules": [],
        "context": {},
    }


def tool_versions() -> dict[str, str]:
    return {tool: metadata.version(tool) for tool in TOOLS}


def fingerprint(inputs: Mapping[str, bytes]) -> str:
    """sha256 over everything the synthesized JSON depends on: the app's generated inputs, the library's source
    and the pinned versions of cdktf, jsii and the providers."""
    h = hashlib.sha256()
    library = {
        f"datahem/deploy/infra/{p.relative_to(LIBRARY).as_posix()}": p.read_bytes() for p in LIBRARY.rglob("*.py")
    }
    library[CONTRACT] = CONTRACT_PATH.read_bytes()
    for path, data in sorted({**inputs, **library}.items()):
        h.update(path.encode() + b"\0" + data + b"\0")
    for tool, version in tool_versions().items():
        h.update(f"{tool}=={version}\0".encode())
    return h.hexdigest()


def stack_path(env: str) -> str:
    return f"{STACKS}/{env}/cdk.tf.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reuse(previous: Mapping[str, bytes], fp: str, envs: list[str]) -> dict[str, bytes] | None:
    """The previous build's synthesized stacks, if they were made from the same inputs and are untouched."""
    record = read_json(previous, "infra/synth.json")
    recorded = record.get("stacks")
    if not isinstance(recorded, dict) or record.get("fingerprint") != fp or sorted(recorded) != sorted(envs):
        return None
    stacks = {}
    for env in envs:
        data = previous.get(stack_path(env))
        entry = recorded[env]
        if data is None or not isinstance(entry, dict) or _sha(data) != entry.get("sha256"):
            return None
        stacks[stack_path(env)] = data
    return stacks


PLATFORM = "infra/platform.json"
TABLE_RESOURCE = "google_bigquery_table"
TAG_RESOURCE = "google_data_catalog_policy_tag"
REGISTRY_OBJECT = ("google_storage_bucket_object", "object_descriptor_set")


def _shape(platform_json: bytes) -> bytes:
    """platform.json without the values the stacks only copy: the schema fields of each table (its `schema`
    string) and the descriptor set's hash (the registry object's metadata)."""
    data = json.loads(platform_json)
    for t in data.get("tables", []):
        t["fields"] = []
    if isinstance(data.get("registry"), dict):
        data["registry"]["sha256"] = ""
    return to_json(data)


def _tf_json(value: object, indent: str = "") -> str:
    """JSON laid out as cdktf writes cdk.tf.json: two-space indent, no final newline, `{` and `}` of an empty object
    on two lines."""
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_tf_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + ("\n" if items else "") + indent + "}"
    if isinstance(value, list):
        items = [inner + _tf_json(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + ("\n" if items else "") + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _with_values(stack: bytes, platform: dict[str, Any]) -> bytes | None:
    """`stack` with every table's `schema` and the registry object's hash set from `platform`, as the library sets
    them (`table_schema` of the platform contract, which the library builds its stacks with; policy tags referenced by their resource names); None if the
    stack does not hold them where expected, or a schema needs Terraform escapes (left to a real synth)."""
    data = json.loads(stack)
    resources = data.get("resource", {})
    tables = resources.get(TABLE_RESOURCE, {})
    prefix = platform["policy_tag_placeholder"]

    def tag(category: str) -> str:
        return f"${{{TAG_RESOURCE}.{logical_id('policy_tag', category)}.name}}"

    for t in platform["tables"]:
        resource = tables.get(logical_id("table", f"{t['dataset']}.{t['name']}"))
        if resource is None or "schema" not in resource:
            return None
        schema = table_schema(t["fields"], prefix, tag)
        if "$${" in schema or "%%{" in schema:
            return None
        resource["schema"] = schema
    kind, name = REGISTRY_OBJECT
    metadata = resources.get(kind, {}).get(name, {}).get("metadata")
    if not isinstance(metadata, dict) or "sha256" not in metadata:
        return None
    metadata["sha256"] = platform["registry"]["sha256"]
    return _tf_json(data).encode()


def patch(previous: Mapping[str, bytes], inputs: Mapping[str, bytes], envs: list[str]) -> dict[str, bytes] | None:
    """The previous build's stacks with the table schemas and the descriptor set's hash brought up to date, instead
    of a synth, when nothing else the stacks are made from changed (a field added, described or categorized: the
    common edit); None otherwise. Trusted only if the previous stacks are untouched synth output of the previous
    inputs (their fingerprint, with this library and these tool versions) and patching them with the previous
    platform.json gives them back byte for byte."""
    before = {path: previous.get(path) for path in inputs}
    old: dict[str, bytes] = {path: data for path, data in before.items() if data is not None}
    if len(old) != len(inputs) or PLATFORM not in inputs:
        return None
    if any(old[path] != data for path, data in inputs.items() if path != PLATFORM):
        return None
    try:
        if _shape(old[PLATFORM]) != _shape(inputs[PLATFORM]):
            return None
        stacks = reuse(previous, fingerprint(old), envs)
        if stacks is None:
            return None
        was, now = json.loads(old[PLATFORM]), json.loads(inputs[PLATFORM])
        out = {}
        for path, data in stacks.items():
            if _with_values(data, was) != data:
                return None
            patched = _with_values(data, now)
            if patched is None:
                return None
            out[path] = patched
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # anything unexpected: a real synth decides
    return out


def synth(inputs: Mapping[str, bytes], envs: list[str]) -> dict[str, bytes]:
    """Run the generated app in a subprocess, in a temporary copy of generated/infra/, and return the stacks.

    A subprocess keeps jsii's Node process and the provider classes out of the compiler; the working directory is
    a throw-away copy, so nothing under generated/ is touched before the atomic swap.
    """
    with tempdirs.owned("synth") as tmp:  # named for this build: a later one removes it if this one is killed
        root = Path(tmp) / "generated"
        scratch = Path(tmp) / "tmp"  # jsii's and Node's temporary files, removed with this folder
        scratch.mkdir()
        for path, data in inputs.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDKTF_")}
        env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        library_root = str(LIBRARY.parents[2])  # the folder that holds the datahem package
        env["PYTHONPATH"] = os.pathsep.join(p for p in (library_root, env.get("PYTHONPATH")) if p)
        env.update(TMPDIR=str(scratch), TEMP=str(scratch), TMP=str(scratch))
        try:
            proc = subprocess.run(
                tempdirs.child_command([sys.executable, "main.py"]),
                cwd=root / "infra",
                env=env,
                capture_output=True,
                text=True,
                timeout=SYNTH_TIMEOUT_SECONDS,
            )
        except FileNotFoundError as exc:  # pragma: no cover - the interpreter itself is missing
            raise RuntimeError(f"cannot run the infrastructure synth: {exc}") from exc
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise RuntimeError(
                f"synthesizing generated/infra failed (exit {proc.returncode}); it needs Node.js on PATH for jsii. "
                f"Output:\n{tail}"
            )
        out_root = root / STACKS
        found = sorted(p.name for p in out_root.iterdir()) if out_root.is_dir() else []
        if found != sorted(envs):
            raise RuntimeError(f"the infrastructure synth wrote stacks {found}, expected {sorted(envs)}")
        return {stack_path(e): (out_root / e / "cdk.tf.json").read_bytes() for e in envs}


def emit(
    model: Model, evolution: Evolution | None = None, previous: Mapping[str, bytes] | None = None
) -> list[OutputFile]:
    retired = evolution.retired_tables if evolution is not None else ()
    streams = retired_streams(model, previous or {})
    inputs = {
        "infra/platform.json": to_json(platform(model, retired, streams)),
        "infra/main.py": render("infra/main.py.j2", header=header("py", ["sources.yaml"])),
        "infra/cdktf.json": to_json(cdktf_json(model)),
    }
    envs = [e.name for e in model.environments]
    fp = fingerprint(inputs)
    stacks = reuse(previous or {}, fp, envs) or patch(previous or {}, inputs, envs)
    if stacks is None:
        with step(f"synthesizing the Terraform stacks ({', '.join(envs)}) with cdktf: their inputs changed") as s:
            stacks = synth(inputs, envs)
            s.done(f"synthesized the Terraform stacks ({', '.join(envs)}) with cdktf")
    record = {
        "comment": header_text(sources_of(model)),
        "fingerprint": fp,
        "inputs": sorted([*inputs, "datahem/deploy/infra/*.py", CONTRACT]),
        "stacks": {
            e: {"path": stack_path(e).removeprefix("infra/"), "sha256": _sha(stacks[stack_path(e)])} for e in envs
        },
        "tools": tool_versions(),
    }
    files = {**inputs, **stacks, "infra/synth.json": to_json(record)}
    return [OutputFile(path, data) for path, data in sorted(files.items())]
