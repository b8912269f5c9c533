"""The raw model: dataclasses that mirror sources.yaml key for key, with positions.

Built by `datahem.compiler.loader.yaml_strict.Binder`; every key declared here is documented in the README.
Nothing is resolved or defaulted beyond the literal defaults below: that is `datahem.compiler.model.resolve`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datahem.compiler import rules as _rules  # noqa: F401  (registers the compatibility rules named below)
from datahem.compiler.diagnostics import RULES, Loc
from datahem.compiler.loader.yaml_strict import key_field, spec

MASKING_RULES = (
    "SHA256",
    "ALWAYS_NULL",
    "DEFAULT_MASKING_VALUE",
    "LAST_FOUR_CHARACTERS",
    "FIRST_FOUR_CHARACTERS",
    "EMAIL_MASK",
    "DATE_YEAR_MASK",
)
SOURCE_KINDS = ("http", "sns", "kinesis")
HTTP_METHODS = ("GET", "POST", "PUT")
HTTP_FORMATS = ("json", "form", "ua", "ga4")
IP_ANONYMIZATION = ("none", "truncate", "drop")
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


@dataclass(kw_only=True)
class RawAuth:
    type: str = spec(choices=("none", "api_key", "hmac"))
    header: str | None = spec(None)
    secret_env: str | None = spec(None)
    algorithm: str = spec("sha256", choices=("sha1", "sha256", "sha512"))
    encoding: str = spec("hex", choices=("hex", "base64"))
    prefix: str = spec("")
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


@dataclass(kw_only=True)
class RawSource:
    name: str = spec(doc="unique source name")
    kind: str = spec(choices=SOURCE_KINDS)
    message: str = spec(doc="full protobuf message name, e.g. grocer.commerce.v1.Order")
    description: str = spec("")
    # http
    path: str = spec(kinds=("http",), doc="URL path of the route, e.g. /collect")
    methods: list[str] = spec(["POST"], kinds=("http",), choices=HTTP_METHODS)
    format: str = spec("json", kinds=("http",), choices=HTTP_FORMATS)
    auth: RawAuth | None = spec(None, kinds=("http",))
    cors_origins: list[str] = spec([], kinds=("http",))
    max_body_bytes: int = spec(65536, kinds=("http",))
    ip_anonymization: str = spec("truncate", kinds=("http",), choices=IP_ANONYMIZATION)
    # sns
    route: str = spec(kinds=("sns",), doc="value of the `route` query parameter of the SNS subscription")
    topic_arns: list[str] = spec(kinds=("sns",), doc="SNS topic ARNs allowed to publish to this route")
    # kinesis
    stream_arn: str = spec(kinds=("kinesis",), doc="ARN of the Kinesis stream")
    region: str = spec(kinds=("kinesis",), doc="AWS region of the stream")
    role_arn: str | None = spec(None, kinds=("kinesis",))
    credentials_secret: str | None = spec(None, kinds=("kinesis",))
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()


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
    categories: dict[str, RawCategory] = spec({})
    sources: list[RawSource] = spec([])
    accepted_breaks: list[RawAcceptedBreak] = spec([])
    loc: Loc = _loc()
    locs: dict[str, Loc] = _locs()
