"""The infra emitter in the build: determinism, the fingerprint skip, the generated app, the library on variants of
the example project, bad inputs, and no secret anywhere under generated/."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from datahem.compiler import writer
from datahem.compiler.emitters import infra, to_json
from tests.conftest import EXAMPLE, copy_project, invoke_datahem

NO_NODE = {"JSII_NODE": "/nonexistent/node"}  # a synth would fail at once: proves none ran


def _datahem(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "datahem.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_fresh_synth_is_byte_identical_to_the_committed_tree(synthesized):
    """Built from scratch in another directory, at another time: the same bytes as generated/ in the repository."""
    assert writer.read_tree(synthesized.project / "generated") == writer.read_tree(EXAMPLE / "generated")


@pytest.mark.slow
def test_unchanged_infrastructure_is_not_synthesized_again(synthesized):
    proc = _datahem("build", cwd=synthesized.project, env=NO_NODE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(0 changed)" in proc.stdout
    check = _datahem("build", "--check", cwd=synthesized.project, env=NO_NODE)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_changed_infrastructure_is_synthesized_and_a_failure_writes_nothing(synthesized, tmp_path):
    project = copy_project(synthesized.project, tmp_path / "p")
    before = writer.read_tree(project / "generated")
    sources = project / "sources.yaml"
    sources.write_text(sources.read_text().replace("masking: EMAIL_MASK", "masking: SHA256"))
    proc = _datahem("build", cwd=project, env=NO_NODE)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # the synth was attempted (and could not start Node)
    assert "synthesizing generated/infra failed" in proc.stderr or "DATAHEM_DEBUG" in proc.stderr
    assert writer.read_tree(project / "generated") == before


def test_reuse_only_of_untouched_stacks():
    previous = writer.read_tree(EXAMPLE / "generated")
    record = json.loads(previous["infra/synth.json"])
    envs = sorted(record["stacks"])
    reused = infra.reuse(previous, record["fingerprint"], envs)
    assert reused == {infra.stack_path(e): previous[infra.stack_path(e)] for e in envs}
    assert infra.reuse(previous, "0" * 64, envs) is None
    assert infra.reuse(previous, record["fingerprint"], envs[:1]) is None
    edited = dict(previous)
    edited[infra.stack_path(envs[0])] = previous[infra.stack_path(envs[0])].replace(
        b'"deletion_protection": true', b'"deletion_protection": false', 1
    )
    assert infra.reuse(edited, record["fingerprint"], envs) is None, "a hand edit must never be carried over"


INPUTS = ("infra/cdktf.json", "infra/main.py", "infra/platform.json")


def test_patch_only_of_values_the_stacks_copy():
    """Stacks are patched instead of synthesized only when table schemas or the descriptor set's hash changed, and
    only from untouched synth output."""
    previous = writer.read_tree(EXAMPLE / "generated")
    envs = sorted(json.loads(previous["infra/synth.json"])["stacks"])
    inputs = {path: previous[path] for path in INPUTS}
    stacks = {infra.stack_path(e): previous[infra.stack_path(e)] for e in envs}
    assert infra.patch(previous, inputs, envs) == stacks, "the patch gives the stacks back from their own inputs"
    platform = json.loads(inputs["infra/platform.json"])
    platform["registry"]["sha256"] = "f" * 64
    platform["tables"][0]["fields"] = platform["tables"][0]["fields"][:-1]
    patched = infra.patch(previous, {**inputs, "infra/platform.json": to_json(platform)}, envs)
    assert patched is not None and patched != stacks
    for data in patched.values():
        stack = json.loads(data)
        assert stack["resource"]["google_storage_bucket_object"]["object_descriptor_set"]["metadata"] == {
            "sha256": "f" * 64
        }
    platform["tables"][0]["labels"] = {**platform["tables"][0]["labels"], "tier": "gold"}
    assert infra.patch(previous, {**inputs, "infra/platform.json": to_json(platform)}, envs) is None, "a label"
    edited = dict(previous)
    edited[infra.stack_path(envs[0])] = previous[infra.stack_path(envs[0])].replace(
        b'"deletion_protection": true', b'"deletion_protection": false', 1
    )
    assert infra.patch(edited, inputs, envs) is None, "a hand edit must never be carried over"


def test_the_library_uses_what_the_patch_rewrites_only_where_the_patch_writes_it():
    """`infra.patch` rewrites a table's `schema` and the registry object's hash and nothing else, so the library must
    read a table's `fields` and the descriptor set's hash nowhere else; otherwise a field edit would need a synth
    (make `infra._shape` keep what the new use reads)."""
    library = "\n".join(p.read_text() for p in sorted(infra.LIBRARY.glob("*.py")) if p.name != "model.py")
    assert re.findall(r"\[\"fields\"\]", library) == ['["fields"]']
    assert 'schema=M.table_schema(t["fields"], prefix,' in library
    assert re.findall(r"\[\"sha256\"\]", library) == ['["sha256"]']
    assert 'metadata={"sha256": reg["sha256"]}' in library


@pytest.mark.slow
def test_a_field_edit_patches_the_stacks_to_the_bytes_of_a_synth(tmp_path):
    """The common edit (a field added, with a category and quotes in its comment) rebuilds without a synth (no
    Node), and the stacks it writes are those a synth of the same inputs writes."""
    project = copy_project(EXAMPLE, tmp_path / "p")
    proto = project / "schemas" / "grocer" / "commerce" / "v1" / "order.proto"
    field = '  // Note from the picker, e.g. "left at the door".\n  string picker_note = 10 [(datahem.column) = {category: "pii_address"}];\n'
    text = proto.read_text()
    assert "  string substituted_by_sku = 9;\n" in text
    proto.write_text(
        text.replace("  string substituted_by_sku = 9;\n", "  string substituted_by_sku = 9;\n" + field, 1)
    )
    proc = _datahem("build", cwd=project, env=NO_NODE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = writer.read_tree(project / "generated")
    envs = sorted(json.loads(built["infra/synth.json"])["stacks"])
    assert all(built[infra.stack_path(e)] != writer.read_tree(EXAMPLE / "generated")[infra.stack_path(e)] for e in envs)
    synthesized = infra.synth({path: built[path] for path in INPUTS}, envs)
    assert {path: built[path] for path in synthesized} == synthesized


def test_fingerprint_covers_the_library(monkeypatch, tmp_path):
    inputs = {"infra/platform.json": b"{}"}
    before = infra.fingerprint(inputs)
    assert infra.fingerprint({"infra/platform.json": b"{ }"}) != before
    library = tmp_path / "infra"
    library.mkdir()
    for p in infra.LIBRARY.glob("*.py"):
        (library / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(infra, "LIBRARY", library)
    assert infra.fingerprint(inputs) == before
    (library / "stack.py").write_text((library / "stack.py").read_text() + "\n# changed\n")
    assert infra.fingerprint(inputs) != before


def test_generated_app_is_lint_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "120",
         str(EXAMPLE / "generated" / "infra" / "main.py")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the generated app and the library, in this process (one import of cdktf and the providers) ---------------


@pytest.fixture(scope="session")
def app_module():
    """generated/infra/main.py imported as a module: it must import cleanly (and not synth on import)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    path = EXAMPLE / "generated" / "infra" / "main.py"
    spec = importlib.util.spec_from_file_location("datahem_generated_infra_main", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_generated_main_imports(app_module):
    assert app_module.PLATFORM == EXAMPLE / "generated" / "infra" / "platform.json"
    assert callable(app_module.synth)
    assert not (EXAMPLE / "generated" / "infra" / "cdktf.out" / "manifest.json").exists(), "importing must not synth"


def _variant_stacks(app_module, tmp_path, edit) -> dict[str, dict]:
    """Synthesize (in process, no files) the stacks of the example project with sources.yaml edited."""
    from cdktf import Testing

    from datahem.compiler.build import load_model
    from datahem.deploy.infra import app

    project = copy_project(EXAMPLE, tmp_path / "variant")
    sources = project / "sources.yaml"
    sources.write_text(edit(sources.read_text()))
    platform = tmp_path / "platform.json"
    platform.write_bytes(json.dumps(infra.platform(load_model(project))).encode())
    built = app.build(platform)
    return {s.node.id: json.loads(Testing.synth(s)) for s in built.node.children}


@pytest.mark.slow
def test_kinesis_credentials_secret_is_kms_encrypted_and_named_not_held(app_module, tmp_path):
    role = "    role_arn: arn:aws:iam::123456789012:role/datahem-kinesis-reader"
    stacks = _variant_stacks(app_module, tmp_path, lambda t: t.replace(role, "    credentials_secret: kinesis-keys"))
    r = stacks["dev"]["resource"]
    (ring,) = r["google_kms_key_ring"].values()
    (key,) = r["google_kms_crypto_key"].values()
    assert key["lifecycle"] == {"prevent_destroy": True}
    assert key["key_ring"] == "${google_kms_key_ring.kms_key_ring.id}" and ring["name"] == "datahem"
    secret = r["google_secret_manager_secret"]["secret_kinesis-keys"]
    (replica,) = secret["replication"]["user_managed"]["replicas"]
    assert (
        replica["customer_managed_encryption"]["kms_key_name"] == "${google_kms_crypto_key.kms_crypto_key_secrets.id}"
    )
    agent = r["google_project_service_identity"]["secretmanager_agent"]
    assert agent["provider"] == "google-beta" and agent["service"] == "secretmanager.googleapis.com"
    job = r["google_dataflow_flex_template_job"]["dataflow_job_datahem-kinesis-car-temperatures"]
    assert (
        job["parameters"]["credentials_secret"]
        == "${google_secret_manager_secret.secret_kinesis-keys.id}/versions/latest"
    )
    assert "aws_role_arn" not in job["parameters"]
    readers = [
        m
        for m in r["google_secret_manager_secret_iam_member"].values()
        if m["secret_id"].startswith("${google_secret_manager_secret.secret_kinesis-keys.")
    ]
    assert [m["member"] for m in readers] == [
        "serviceAccount:${google_service_account.service_account_dh-kin-car-temperatures.email}"
    ]
    assert "kinesis_web_identity_car_temperatures" not in stacks["dev"].get("output", {})


ROLE = "    role_arn: arn:aws:iam::123456789012:role/datahem-kinesis-reader"
STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/car-temperatures"
CONSUMER = f"{STREAM}/consumer/datahem:1764633600"


def _import_topic(text: str) -> str:
    return text.replace(ROLE, f"{ROLE}\n    via: pubsub_import\n    consumer_arn: {CONSUMER}")


@pytest.mark.slow
def test_kinesis_via_pubsub_import_is_an_import_topic_and_no_reader_job(app_module, tmp_path):
    """`via: pubsub_import`: the source's topic carries the stream's ingestion settings, read as an account of its
    own that Pub/Sub's service agent may mint tokens for (the AWS role's web-identity `sub` is an output), and no
    Kinesis reader job exists; the streaming job still reads the topic's enrichment subscription."""
    stacks = _variant_stacks(app_module, tmp_path, _import_topic)
    for stack in stacks.values():
        r = stack["resource"]
        jobs = {j["name"] for j in r["google_dataflow_flex_template_job"].values()}
        assert jobs == {"datahem-streaming"}, "no reader job: Pub/Sub reads the stream"
        topic = r["google_pubsub_topic"]["topic_grocer-delivery-v1-CarTemperature"]
        account = "google_service_account.service_account_dh-kimp-car-temperatures"
        assert topic["ingestion_data_source_settings"] == {
            "aws_kinesis": {
                "stream_arn": STREAM,
                "consumer_arn": CONSUMER,
                "aws_role_arn": ROLE.split(": ")[1],
                "gcp_service_account": f"${{{account}.email}}",
            }
        }
        others = [t for n, t in r["google_pubsub_topic"].items() if n != "topic_grocer-delivery-v1-CarTemperature"]
        assert all("ingestion_data_source_settings" not in t for t in others)
        (token,) = r["google_service_account_iam_member"].values()
        assert token["service_account_id"] == f"${{{account}.name}}"
        assert token["role"] == "roles/iam.serviceAccountTokenCreator"
        assert token["member"] == "serviceAccount:${google_project_service_identity.pubsub_agent.email}"
        token_ref = next(f"google_service_account_iam_member.{n}" for n in r["google_service_account_iam_member"])
        assert token_ref in topic["depends_on"]
        # the import account holds no grant at all; the reader's account is gone
        members = json.dumps({k: v for k, v in r.items() if k.endswith("_iam_member") and "service_account" not in k})
        assert "dh-kimp-car-temperatures" not in members and "dh-kin-car-temperatures" not in json.dumps(r)
        assert stack["output"]["kinesis_web_identity_car_temperatures"]["value"] == f"${{{account}.unique_id}}"


@pytest.mark.slow
def test_kinesis_via_reader_is_the_default_and_its_topic_ingests_nothing(app_module, tmp_path):
    stacks = _variant_stacks(app_module, tmp_path, lambda t: t.replace(ROLE, f"{ROLE}\n    via: reader"))
    for stack in stacks.values():
        r = stack["resource"]
        jobs = {j["name"] for j in r["google_dataflow_flex_template_job"].values()}
        assert jobs == {"datahem-streaming", "datahem-kinesis-car-temperatures"}
        assert all("ingestion_data_source_settings" not in t for t in r["google_pubsub_topic"].values())
        assert "google_service_account_iam_member" not in r


@pytest.mark.slow
def test_environment_without_state_bucket_keeps_local_state_outside_generated(app_module, tmp_path):
    stacks = _variant_stacks(
        app_module, tmp_path, lambda t: t.replace("      state_bucket: grocer-data-dev-tfstate\n", "")
    )
    assert stacks["dev"]["terraform"]["backend"] == {"local": {"path": "../../../../../terraform.dev.tfstate"}}
    assert "gcs" in stacks["prod"]["terraform"]["backend"]


def test_descriptions_cannot_inject_terraform_interpolations():
    from datahem.deploy.infra import model

    fields = [{"name": "a", "type": "STRING", "mode": "NULLABLE", "description": "costs ${price} %{if x}",
               "policyTags": {"names": ["datahem:category/pii"]}}]  # fmt: skip
    schema = model.table_schema(fields, "datahem:category/", lambda c: f"${{tag.{c}.name}}")
    assert "costs $${price} %%{if x}" in schema
    assert "${tag.pii.name}" in schema
    assert model.tf_literal("$${already}") == "$$${already}"  # Terraform reads it back as `$${already}`
    with pytest.raises(ValueError):
        model.category_of("projects/p/locations/eu/taxonomies/1/policyTags/2", "datahem:category/")


def test_account_ids_fit_google_limits():
    assert infra.account_id("src", "orders") == "dh-src-orders"
    long = infra.account_id("src", "a_very_long_source_name_for_testing_limits")
    assert len(long) <= 30 and re.match(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", long)
    assert long != infra.account_id("src", "a_very_long_source_name_for_testing_limitz")


# -- bad input: a diagnostic with file:line and nothing written -------------------------------------------------

BAD_INPUTS = {
    "unknown masking rule": (
        lambda t: t.replace("masking: EMAIL_MASK", "masking: BLUR"),
        "sources.yaml:39:14: error[YAML_VALUE]: `categories.pii_email.masking` is `BLUR`",
    ),
    "reader that is not an IAM member": (
        lambda t: t.replace("readers: [group:logistics@grocer.example]", "readers: [logistics@grocer.example]"),
        "error[IAM_MEMBER_INVALID]: category `pii_address` lists reader `logistics@grocer.example`",
    ),
    "environment without a project": (
        lambda t: t.replace("      gcp_project: grocer-data-prod\n", ""),
        "sources.yaml:12:7: error[YAML_MISSING_KEY]: `project.environments.prod` is missing the required key `gcp_project`",
    ),
    "state bucket that is not a bucket name": (
        lambda t: t.replace("state_bucket: grocer-data-dev-tfstate", "state_bucket: Grocer_TF"),
        "sources.yaml:10:21: error[CLOUD_NAME_INVALID]: state_bucket `Grocer_TF` of environment `dev`",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_diagnostic_and_writes_nothing(case, tmp_path):
    edit, expected = BAD_INPUTS[case]
    project = copy_project(EXAMPLE, tmp_path / "p")
    before = writer.read_tree(project / "generated")
    sources = project / "sources.yaml"
    edited = edit(sources.read_text())
    assert edited != sources.read_text()
    sources.write_text(edited)
    proc = invoke_datahem("build", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stdout
    assert "nothing was written" in proc.stderr
    assert writer.read_tree(project / "generated") == before


def test_removing_a_field_is_refused_against_the_committed_tree(tmp_path):
    """Terraform no longer replaces a table for a column change (schema changes belong to the migrations), but
    removing a field is still a breaking change (FIELD_REMOVED) at the message, and nothing is written."""
    project = copy_project(EXAMPLE, tmp_path / "p")
    before = writer.read_tree(project / "generated")
    proto = project / "schemas" / "grocer" / "delivery" / "v1" / "car_temperature.proto"
    text = proto.read_text()
    field = next(line for line in text.splitlines() if re.match(r"^\s+double \w+ = \d+", line))
    proto.write_text(text.replace(field + "\n", ""))
    proc = invoke_datahem("build", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(
        r"^schemas/grocer/delivery/v1/car_temperature\.proto:\d+:\d+: error\[FIELD_REMOVED\]: field `",
        proc.stdout,
        re.M,
    )
    assert writer.read_tree(project / "generated") == before


# -- no secret values -------------------------------------------------------------------------------------------

SECRET_SHAPES = [
    ("AWS access key id", re.compile(rb"(?<![A-Z0-9])(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("private key", re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|PRIVATE KEY")),
    ("AWS secret access key", re.compile(rb"(?i)aws_?secret_?access_?key[\"'\s:=]+[A-Za-z0-9/+=]{20,}")),
    ("40-character base64 secret", re.compile(rb"(?<![A-Za-z0-9/+=._-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=._-])")),
    ("long base64 token", re.compile(rb"(?<![A-Za-z0-9/+=_-])[A-Za-z0-9+/]{48,}={0,2}(?![A-Za-z0-9/+=_-])")),
    ("long hex token", re.compile(rb"(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])")),
]
# sha256 fingerprints are hashes of public inputs, recorded on purpose under these keys
HASH_KEYS = re.compile(rb'"(fingerprint|\w*sha256)": "[0-9a-f]{64}"')


def find_secrets(path: str, data: bytes) -> list[str]:
    """Key-shaped strings in a generated file: AWS keys, private keys, long base64/hex blobs (not our hashes).
    Camel-case identifiers and paths do not look like base64 blobs: they must mix digits and both cases."""
    data = HASH_KEYS.sub(b"", data)
    found = []
    for label, pattern in SECRET_SHAPES:
        for m in pattern.finditer(data):
            token = m.group(0)
            if label.startswith(("40-character", "long base64")) and not (
                re.search(rb"[0-9]", token) and re.search(rb"[a-z]", token) and re.search(rb"[A-Z]", token)
            ):
                continue
            found.append(f"{path}: {label}: {token[:60]!r}")
    return found


def test_the_scanner_finds_planted_keys():
    planted = b'{"key": "AKIAIOSFODNN7EXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'
    assert len(find_secrets("planted.json", planted)) >= 2
    assert find_secrets("pem", b"-----BEGIN RSA PRIVATE KEY-----\nMIIE")
    assert find_secrets("hex", b"token=" + b"9f" * 20)
    assert not find_secrets("ok.json", b'{"sha256": "' + b"ab" * 32 + b'", "topic": "grocer.commerce.v1.Order"}')
    assert not find_secrets("history.json", b'{"descriptor_set_sha256": "' + b"ab" * 32 + b'"}')


@pytest.mark.slow
def test_no_secret_value_anywhere_under_generated(synthesized):
    tree = writer.read_tree(synthesized.project / "generated")
    assert any(p.startswith("infra/cdktf.out/") for p in tree)
    problems = [hit for path, data in sorted(tree.items()) for hit in find_secrets(path, data)]
    assert problems == []
