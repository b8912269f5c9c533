"""Checks on values that become Google Cloud resource names in the infrastructure stacks (generated/infra), so a
bad name is a diagnostic at its line instead of a failed `terraform apply` halfway through a deploy.
"""

from __future__ import annotations

import re

from datahem.compiler import rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.model.resolved import Environment, Model
from datahem.compiler.secretlike import looks_like_secret
from datahem.compiler.sources import KINDS
from datahem.compiler.validate.registry import check
from datahem.runtime.contracts import platform
from datahem.runtime.contracts.routing import job_name

ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}\Z")  # stack name, state prefix and cdktf.out/stacks/<env> folder
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+\Z")  # e.g. europe-north1
BUCKET = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]\Z")
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}\Z")
KMS_KEY = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/(?P<location>[a-z0-9-]+)/keyRings/[A-Za-z0-9_-]{1,63}"
    r"/cryptoKeys/[A-Za-z0-9_-]{1,63}\Z"
)
NETWORK = re.compile(r"^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/networks/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
SUBNETWORK = re.compile(
    r"^(https://www\.googleapis\.com/compute/v1/projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/)?"
    r"regions/(?P<region>[a-z0-9-]+)/subnetworks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z"
)
TOPIC_MAX = 255
LONGEST_TOPIC_SUFFIX = len(".dead-letter.hold")


def _bucket_problem(name: str) -> str | None:
    if not BUCKET.match(name):
        return "3-63 lower-case letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return "bucket names must not start with `goog` or contain `google`"
    if ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+\Z", name):
        return "no `..` and not an IP address"
    return None


def _environment_options(model: Model, env: Environment, d: Diagnostics) -> None:
    """The organization-policy options of an environment name real resources in the right location."""

    def bad(key: str, message: str) -> None:
        d.error(env.locs.get(key, env.loc), rules.CLOUD_NAME_INVALID, f"environment `{env.name}`: {message}")

    for key, value, location in (
        ("kms_key", env.kms_key, env.region),
        ("bigquery_kms_key", env.bigquery_kms_key, model.bigquery.location.lower()),
    ):
        if value is None:
            continue
        m = KMS_KEY.match(value)
        if not m:
            bad(key, f"{key} `{value}` is not a Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K)")
        elif m.group("location") != location:
            bad(key, f"{key} `{value}` is in `{m.group('location')}`; the resources it encrypts are in `{location}`")
    if env.network is not None and not NETWORK.match(env.network):
        bad("network", f"network `{env.network}` is not a VPC network name (or projects/P/global/networks/N)")
    if env.subnetwork is not None:
        m = SUBNETWORK.match(env.subnetwork)
        if not m:
            bad("subnetwork", f"subnetwork `{env.subnetwork}` is not regions/REGION/subnetworks/NAME")
        elif m.group("region") != env.region:
            bad("subnetwork", f"subnetwork `{env.subnetwork}` is not in the environment's region `{env.region}`")
    for location in env.secret_locations:
        if not REGION.match(location):
            bad("secret_locations", f"secret location `{location}` is not a Google Cloud region (e.g. europe-north1)")
    if len(set(env.secret_locations)) != len(env.secret_locations):
        bad("secret_locations", "secret_locations lists a region twice")


@check
def cloud_names(model: Model, d: Diagnostics) -> None:
    projects: dict[str, str] = {}
    for env in model.environments:
        if not ENV_NAME.match(env.name):
            d.error(
                env.loc,
                rules.CLOUD_NAME_INVALID,
                f"environment `{env.name}` names a Terraform stack and its state: use 1-30 lower-case letters, "
                "digits and `-`, starting with a letter",
            )
        if not REGION.match(env.region):
            d.error(
                env.locs.get("region", env.loc),
                rules.CLOUD_NAME_INVALID,
                f"environment `{env.name}` has region `{env.region}`, which is not a Google Cloud region "
                "(e.g. europe-north1)",
            )
        if env.state_bucket is not None:
            problem = _bucket_problem(env.state_bucket)
            if problem:
                d.error(
                    env.locs.get("state_bucket", env.loc),
                    rules.CLOUD_NAME_INVALID,
                    f"state_bucket `{env.state_bucket}` of environment `{env.name}` is not a Cloud Storage bucket "
                    f"name: {problem}",
                )
        _environment_options(model, env, d)
        if env.gcp_project in projects:
            d.error(
                env.locs.get("gcp_project", env.loc),
                rules.CLOUD_NAME_INVALID,
                f"environments `{projects[env.gcp_project]}` and `{env.name}` share gcp_project "
                f"`{env.gcp_project}`; their resources would collide: give each environment its own project",
            )
        else:
            projects[env.gcp_project] = env.name

    # the Dataflow jobs that read a source's external stream, e.g. `datahem-kinesis-orders` for source `orders`
    readers = {
        r.job: f"the {KINDS[s.kind].label} reader of source `{s.name}`"
        for s in model.sources
        for r in KINDS[s.kind].readers(s)
    }
    for s in model.sources:
        dashed = s.name.replace("_", "-")
        if s.name.endswith("_"):
            d.error(
                s.locs.get("name", s.loc),
                rules.CLOUD_NAME_INVALID,
                f"source `{s.name}` ends with `_`; its Dataflow job and service account names would end with `-`, "
                "which Google Cloud rejects",
            )
        taken = "the backup pipeline" if dashed == "backup" else readers.get(job_name(s.name))
        if taken:
            d.error(
                s.locs.get("name", s.loc),
                rules.CLOUD_NAME_INVALID,
                f"source `{s.name}` would run as Dataflow job `{job_name(s.name)}`, the name of {taken}; rename it",
            )
        for secret in KINDS[s.kind].secrets(s):
            label, value = secret.label, secret.id
            shape = looks_like_secret(value)
            if shape:
                d.error(
                    s.locs.get(secret.loc_key, s.loc),
                    rules.SECRET_VALUE,
                    f"{label} of source `{s.name}` looks like a secret, not a secret's name: {shape}; put the secret "
                    "in Secret Manager and write its id here (the value is copied into generated/, which is "
                    "committed)",
                )
            elif not SECRET_ID.match(value):
                d.error(
                    s.locs.get(secret.loc_key, s.loc),
                    rules.CLOUD_NAME_INVALID,
                    f"{label} `{value}` of source `{s.name}` is also its Secret Manager secret id: use 1-255 "
                    "letters, digits, `_` and `-`",
                )

    for t in model.tables:
        if t.topic.lower().startswith("goog"):
            d.error(
                t.loc,
                rules.CLOUD_NAME_INVALID,
                f"`{t.message}` is also its Pub/Sub topic name, and topic names must not start with `goog`; "
                "rename the proto package",
            )
        elif len(t.topic) + LONGEST_TOPIC_SUFFIX > TOPIC_MAX:
            d.error(
                t.loc,
                rules.CLOUD_NAME_INVALID,
                f"`{t.message}` is {len(t.topic)} characters; with the suffix `.dead-letter.hold` its subscription "
                f"name would exceed Pub/Sub's {TOPIC_MAX}: shorten the package or message name",
            )


# Google Cloud's rules for names DataHem derives from sources.yaml values (see datahem.runtime.contracts.platform)
DATA_POLICY_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,255}\Z")
DISPLAY_NAME = re.compile(r"^[\w -]+\Z")  # Data Catalog: letters, digits, `_`, `-` and spaces
DISPLAY_NAME_BYTES = 200
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}\Z")


def _display_name_problem(name: str) -> str | None:
    if not DISPLAY_NAME.match(name) or name != name.strip():
        return "letters, digits, `_`, `-` and spaces, not starting or ending with a space"
    if len(name.encode()) > DISPLAY_NAME_BYTES:
        return f"at most {DISPLAY_NAME_BYTES} bytes"
    return None


@check
def derived_names(model: Model, d: Diagnostics) -> None:
    """The names the deploy stacks derive from sources.yaml values, computed by the functions the stacks use, each
    checked against its resource's rules and reported at the value that produced it."""
    at = model.locs.get("project.name", Loc("sources.yaml", 1, 1))

    def bad(what: str, name: str, rule: str) -> None:
        d.error(
            at,
            rules.CLOUD_NAME_INVALID,
            f"project.name `{model.project}` makes {what} `{name}`, which Google Cloud refuses ({rule}): use 1-63 "
            "lower-case letters, digits, `_` and `-`, starting with a letter",
        )

    if not LABEL_VALUE.match(model.project) or not model.project:
        bad(
            "the label value `datahem_project`",
            model.project,
            "label values: at most 63 lower-case letters, digits, `_`, `-`",
        )
    else:
        taxonomy = platform.taxonomy_display_name(model.project)
        problem = _display_name_problem(taxonomy)
        if problem:
            bad("the Data Catalog taxonomy", taxonomy, problem)
        for c in model.categories:
            if c.masking:
                policy = platform.data_policy_id(model.project, c.name)
                if not DATA_POLICY_ID.match(policy):
                    bad(
                        f"the data policy of category `{c.name}`",
                        policy,
                        "data policy ids: at most 256 letters, digits and `_`, starting with a letter",
                    )
                    break
    for env in model.environments:
        for purpose in platform.BUCKETS:
            bucket = platform.bucket_name(env.gcp_project, purpose)
            problem = _bucket_problem(bucket)
            if problem:
                d.error(
                    env.locs.get("gcp_project", env.loc),
                    rules.CLOUD_NAME_INVALID,
                    f"gcp_project `{env.gcp_project}` of environment `{env.name}` makes the Cloud Storage bucket "
                    f"`{bucket}`: {problem}",
                )
                break
