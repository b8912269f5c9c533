"""The raw model: dataclasses that mirror sources.yaml key for key, with positions.

Built by `datahem.compiler.loader.yaml_strict.Binder`; every key declared here (and each source kind's own keys,
declared by its module in `datahem.compiler.sources`) is documented in the README.
Nothing is resolved or defaulted beyond the literal defaults below: that is `datahem.compiler.model.resolve`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Any, Protocol

from datahem.compiler import rules as _rules  # noqa: F401  (registers the compatibility rules named below)
from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.loader.yaml_strict import key_field, spec
from datahem.compiler.sources import KINDS
from datahem.compiler.sources.http import RawAuth  # noqa: F401  (the `auth` key of an http source)

MASKING_RULES = (
    "SHA256",
    "ALWAYS_NULL",
    "DEFAULT_MASKING_VALUE",
    "LAST_FOUR_CHARACTERS",
    "FIRST_FOUR_CHARACTERS",
    "EMAIL_MASK",
    "DATE_YEAR_MASK",
)
SOURCE_KINDS = tuple(KINDS)
WRITE_METHODS = ("storage_write", "insert_all")  # datahem/runtime/beam/io.py WRITE_METHODS
ACCEPTABLE_RULES = tuple(sorted(r.id for r in RULES.values() if r.acceptable))


def _loc() -> Loc:
    return field(default=Loc(""), compare=False)


def _locs() -> dict[str, Loc]:
    return field(default_factory=dict, compare=False, repr=False)


@dataclass(kw_only=True)
class RawEnvironment:
    name: str = key_field()
    gcp_project: str = spec(doc="the GCP project id of this environment")
    region: str = spec(doc="the GCP region, e.g. europe-north1")
    state_bucket: str | None = spec(None, doc="GCS bucket holding the Terraform state")
    # organization-policy friendly options (README: sources.yaml, "Per environment")
    invoker_iam_disabled: bool = spec(
        False, doc="collectors reachable by anyone through Cloud Run's disabled invoker check instead of allUsers"
    )
    network: str | None = spec(None, doc="VPC network of the Dataflow workers (default: the project's `default`)")
    subnetwork: str | None = spec(None, doc="subnetwork of the Dataflow workers, regions/REGION/subnetworks/NAME")
    private_workers: bool | None = spec(
        None, doc="Dataflow workers without public IPs (default: when a network is set)"
    )
    secret_locations: list[str] = spec([], doc="regions Secret Manager replicates secrets to (default: automatic)")
    kms_key: str | None = spec(None, doc="customer-managed key for buckets, repository, topics and Dataflow jobs")
    bigquery_kms_key: str | None = spec(None, doc="customer-managed key for the datasets and tables")
    write_method: str = spec(
        "storage_write",
        choices=WRITE_METHODS,
        doc="how the pipelines write rows: the Storage Write API (storage_write) or legacy streaming inserts (insert_all)",
    )
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


@dataclass(kw_only=True)
class RawProject:
    name: str = spec(doc="short project name, used in resource names")
    environments: dict[str, RawEnvironment] = spec(doc="one entry per environment, e.g. dev and prod")
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


@dataclass(kw_only=True)
class RawBigQuery:
    location: str = spec("EU")
    dataset: str = spec("events")
    backup_dataset: str = spec("events_backup")
    dead_letter_dataset: str = spec("events_dead_letter")
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


DEPLOYMENTS = ("per_environment", "per_source")


@dataclass(kw_only=True)
class RawPipelines:
    deployment: str = spec(
        "per_environment",
        choices=DEPLOYMENTS,
        doc="per_environment: every source's branch and the backup in one streaming Dataflow job per environment; "
        "per_source: a job per source and one for the backup (independent updates, a worker floor each)",
    )
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


@dataclass(kw_only=True)
class RawCategory:
    name: str = key_field()
    description: str = spec("")
    parent: str | None = spec(None)
    masking: str | None = spec(None, choices=MASKING_RULES)
    readers: list[str] = spec([])
    masked_readers: list[str] = spec([])
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


# A source: the keys every kind has, then each kind's own keys (declared by its module in datahem.compiler.sources,
# accepted only for that kind: the binder reports a key of another kind).
_RawSource = make_dataclass(
    "RawSource",
    [
        ("name", str, spec(doc="unique source name")),
        ("kind", str, spec(choices=SOURCE_KINDS)),
        ("message", str, spec(doc="full protobuf message name, e.g. grocer.commerce.v1.Order")),
        ("description", str, spec("")),
        *(
            (k.name, k.type, spec(k.default, kinds=(kind.name,), choices=k.choices, doc=k.doc))
            for kind in KINDS.values()
            for k in kind.raw_keys
        ),
        ("loc", Loc, _loc()),
        ("locs", dict[str, Loc], _locs()),
    ],
    kw_only=True,
)
_RawSource.__module__ = __name__


if TYPE_CHECKING:

    class RawSource(Protocol):
        """What the type checker knows of a raw source: the keys every kind has. A kind's own keys are read by its
        module in datahem.compiler.sources (through `__getattr__`, typed Any)."""

        name: str
        kind: str
        message: str
        description: str
        loc: Loc
        locs: dict[str, Loc]

        def __getattr__(self, key: str) -> Any: ...

else:
    RawSource = _RawSource


@dataclass(kw_only=True)
class RawAcceptedBreak:
    """A breaking change the team accepts on purpose (compatibility rules that may be accepted: `datahem rules`)."""

    rule: str = spec(choices=ACCEPTABLE_RULES, doc="the compatibility rule id, e.g. FIELD_REMOVED")
    target: str = spec(doc="what the diagnostic names, e.g. grocer.commerce.v1.Order.coupon")
    reason: str = spec(doc="why breaking it is fine, for the reviewers and the registry history")
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


@dataclass(kw_only=True)
class RawConfig:
    project: RawProject = spec()
    bigquery: RawBigQuery | None = spec(None)
    pipelines: RawPipelines | None = spec(None)
    categories: dict[str, RawCategory] = spec({})
    sources: list[RawSource] = spec([])
    accepted_breaks: list[RawAcceptedBreak] = spec([])
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()
