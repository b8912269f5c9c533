"""The resolved model: frozen, sorted, defaults filled and references resolved.

Every emitter reads only this model. Names that several targets share (topics, subscriptions, tables,
policy-tag placeholders) are computed here, once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from datahem.compiler.diagnostics import Loc
from datahem.runtime.contracts.routing import Route

POLICY_TAG_PLACEHOLDER = "datahem:category/{}"


@dataclass(frozen=True, slots=True)
class Transforms:
    """The column options of a field that the generated converter applies, by option name, with the values their
    specs resolve (datahem.compiler.options, which also says the order they apply in). Unset options are absent."""

    values: tuple[tuple[str, object], ...] = ()  # (option name, value), in registry order

    def get(self, option: str) -> object | None:
        return next((v for name, v in self.values if name == option), None)

    @property
    def any(self) -> bool:
        return bool(self.values)


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # BigQuery column name (after rename)
    field_name: str  # proto field name
    json_name: str  # proto3 JSON name (lowerCamelCase)
    number: int
    proto_type: str  # double, int64, string, enum, message, ...
    type_name: str  # full name of the message or enum type, "" for scalars
    natural_type: str  # BigQuery type before overrides
    bq_type: str  # BigQuery type (GoogleSQL name); STRUCT for nested messages
    mode: str  # NULLABLE | REQUIRED | REPEATED
    description: str
    category: str | None
    hidden: bool
    required: bool
    oneof: str | None
    transforms: Transforms
    fields: tuple[Column, ...]
    loc: Loc
    option_loc: Loc
    is_map: bool = False
    recursion_cut: bool = False  # a recursive message stored as JSON beyond max_recursion_depth
    oneof_required: bool = False  # its oneof has `(datahem.oneof) = {required: true}`: one of its fields must be set
    # where each (datahem.column) field is written, by option name (dotted form); others are at option_loc
    option_locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def option_at(self, option: str) -> Loc:
        """Where an option of the column is written: its own dotted assignment, else the whole option."""
        return self.option_locs.get(option, self.option_loc)

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"

    @property
    def policy_tag(self) -> str | None:
        return POLICY_TAG_PLACEHOLDER.format(self.category) if self.category else None


def all_columns(columns: tuple[Column, ...]) -> Iterator[Column]:
    """Every column of a tree, nested ones included, depth first (hidden ones too)."""
    for c in columns:
        yield c
        yield from all_columns(c.fields)


def metadata_column(name: str, bq_type: str, mode: str, description: str, fields: tuple[Column, ...] = ()) -> Column:
    return Column(
        name=name,
        field_name=name,
        json_name=name,
        number=0,
        proto_type="metadata",
        type_name="",
        natural_type=bq_type,
        bq_type=bq_type,
        mode=mode,
        description=description,
        category=None,
        hidden=False,
        required=mode == "REQUIRED",
        oneof=None,
        transforms=Transforms(),
        fields=fields,
        loc=Loc("datahem"),
        option_loc=Loc("datahem"),
    )


_KV = (
    metadata_column("key", "STRING", "REQUIRED", "Attribute name."),
    metadata_column("value", "STRING", "NULLABLE", "Attribute value."),
)

# Transport metadata written into every event table, first, so user columns can be appended safely.
METADATA_COLUMNS: tuple[Column, ...] = (
    metadata_column("_uuid", "STRING", "REQUIRED", "Unique event id set by the collector (de-duplication key)."),
    metadata_column("_received_at", "TIMESTAMP", "REQUIRED", "When the collector received the event (UTC)."),
    metadata_column("_source", "STRING", "REQUIRED", "Name of the DataHem source the event came from."),
    metadata_column("_publish_time", "TIMESTAMP", "NULLABLE", "Pub/Sub publish time of the event."),
    metadata_column("_attributes", "STRUCT", "REPEATED", "Pub/Sub attributes of the event.", _KV),
)
METADATA_NAMES = frozenset(c.name.lower() for c in METADATA_COLUMNS)
# The last column of a table whose `unknown_fields` option is KEEP: the JSON fields no column holds, by path.
UNKNOWN_COLUMN = metadata_column(
    "_unknown",
    "JSON",
    "NULLABLE",
    "Fields of the event that the schema does not define, as a JSON object of their values by path from the root "
    '(`{"foo": 1, "items[0].bar": "x"}`); NULL when there were none (table option `unknown_fields: KEEP`).',
)
UNKNOWN_FIELDS = ("REJECT", "IGNORE", "KEEP")  # the `unknown_fields` table option; REJECT is the default

# BigQuery's limits on a table's schema, checked while a message is expanded into columns (model/resolve.py)
MAX_NESTING = 15  # levels of nested STRUCTs
MAX_COLUMNS = 10_000  # columns, nested ones and the metadata columns included
# A recursive root message at depth N has STRUCTs N - 1 levels deep (its last level is a JSON column): N at most 16
MAX_RECURSION_DEPTH = MAX_NESTING + 1
# Hidden fields have no column but are still expanded (the converter reads them): bounded on their own so that any
# input expands in bounded time and stack. protobuf's parsers nest at most 100 messages deep.
MAX_EXPANDED_FIELDS = 2 * MAX_COLUMNS
MAX_EXPANDED_DEPTH = 100


@dataclass(frozen=True)
class Partitioning:
    column: str | None  # None: ingestion time
    granularity: str  # HOUR | DAY | MONTH | YEAR
    expiration_days: int
    require_filter: bool
    loc: Loc


def provenance(proto_files: tuple[str, ...]) -> tuple[str, ...]:
    """The inputs a generated file derives from, as its header names them: .proto files under schemas/, then
    sources.yaml."""
    return (*(f"schemas/{f}" for f in proto_files), "sources.yaml")


@dataclass(frozen=True)
class Table:
    message: str  # full proto name
    name: str
    dataset: str
    description: str
    partitioning: Partitioning
    clustering: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    columns: tuple[Column, ...]  # user columns, hidden ones included (they exist in the protobuf stream)
    proto_file: str  # relative to schemas/
    proto_files: tuple[str, ...]  # every project file defining a type the table reaches
    loc: Loc
    option_loc: Loc
    fingerprint: str  # sha256 of the message's descriptor (with its dependencies' types)
    system: bool = False  # DataHem's own tables (backup, dead letters): no metadata columns, no topic
    unknown_fields: str = "REJECT"  # REJECT | IGNORE | KEEP: what the converter does with fields no column holds
    # where each (datahem.table) field is written, by option name (dotted form); others are at option_loc
    option_locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def option_at(self, option: str) -> Loc:
        return self.option_locs.get(option, self.option_loc)

    @property
    def provenance(self) -> tuple[str, ...]:
        return provenance(self.proto_files)

    @property
    def bq_columns(self) -> tuple[Column, ...]:
        """Columns of the BigQuery table: metadata first, then every visible user column, then `_unknown` when the
        table keeps unknown fields (last, so that a table gaining it only appends a column)."""
        visible = tuple(c for c in self.columns if not c.hidden)
        if self.system:
            return visible
        return METADATA_COLUMNS + visible + ((UNKNOWN_COLUMN,) if self.unknown_fields == "KEEP" else ())

    @property
    def pseudonymization_secrets(self) -> list[str]:
        """Secret Manager ids of the keys the table's `pseudonymize` options need, sorted."""
        secrets = {c.transforms.get("pseudonymize") for c in all_columns(self.columns)}
        return sorted(s for s in secrets if isinstance(s, str) and s)

    @property
    def topic(self) -> str:
        return self.message

    @property
    def processed_topic(self) -> str:
        return f"{self.message}.processed"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.message}.dead-letter"

    @property
    def backup_subscription(self) -> str:
        return f"{self.message}.backup"

    @property
    def enrichment_subscription(self) -> str:
        return f"{self.message}.enrichment"


_ATTRIBUTES = metadata_column("attributes", "STRUCT", "REPEATED", "Pub/Sub attributes as received.", _KV)

BACKUP_COLUMNS: tuple[Column, ...] = (
    metadata_column("message_id", "STRING", "REQUIRED", "Pub/Sub message id."),
    metadata_column("uuid", "STRING", "NULLABLE", "The `uuid` attribute set by the collector."),
    metadata_column("source", "STRING", "NULLABLE", "The `source` attribute."),
    metadata_column("message_type", "STRING", "NULLABLE", "The `message_type` attribute (full proto name)."),
    metadata_column("payload", "BYTES", "REQUIRED", "The message data exactly as published."),
    _ATTRIBUTES,
    metadata_column("publish_time", "TIMESTAMP", "REQUIRED", "Pub/Sub publish time."),
    metadata_column("received_at", "TIMESTAMP", "NULLABLE", "The collector's `timestamp` attribute."),
)

DEAD_LETTER_COLUMNS: tuple[Column, ...] = (
    metadata_column("uuid", "STRING", "NULLABLE", "The `uuid` attribute of the failed event."),
    metadata_column("source", "STRING", "NULLABLE", "The `source` attribute."),
    metadata_column("message_type", "STRING", "NULLABLE", "The `message_type` attribute."),
    metadata_column("pipeline", "STRING", "REQUIRED", "The pipeline that rejected the event."),
    metadata_column(
        "stage",
        "STRING",
        "REQUIRED",
        "Where it failed: parse, validate, transform, filter, write, or internal (a bug in DataHem, with its text).",
    ),
    metadata_column("error", "STRING", "REQUIRED", "Why it failed."),
    metadata_column("payload", "BYTES", "NULLABLE", "The message data exactly as received."),
    _ATTRIBUTES,
    metadata_column("publish_time", "TIMESTAMP", "NULLABLE", "Pub/Sub publish time."),
    metadata_column("failed_at", "TIMESTAMP", "REQUIRED", "When the event was dead-lettered."),
)


def system_table(
    name: str,
    dataset: str,
    description: str,
    columns: tuple[Column, ...],
    partition_column: str | None,
    clustering: tuple[str, ...],
) -> Table:
    loc = Loc("sources.yaml")
    return Table(
        message="",
        name=name,
        dataset=dataset,
        description=description,
        partitioning=Partitioning(partition_column, "DAY", 0, False, loc),
        clustering=clustering,
        labels=(),
        columns=columns,
        proto_file="",
        proto_files=(),
        loc=loc,
        option_loc=loc,
        fingerprint="",
        system=True,
    )


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    parent: str | None
    masking: str | None
    readers: tuple[str, ...]
    masked_readers: tuple[str, ...]
    loc: Loc


@dataclass(frozen=True)
class Environment:
    name: str
    gcp_project: str
    region: str
    state_bucket: str | None
    loc: Loc
    locs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)  # key → position
    # organization-policy friendly options, all off by default (README: sources.yaml, "Per environment")
    invoker_iam_disabled: bool = False
    network: str | None = None
    subnetwork: str | None = None
    private_workers: bool = False  # resolved: the YAML default is "when a network or subnetwork is set"
    secret_locations: tuple[str, ...] = ()
    kms_key: str | None = None
    bigquery_kms_key: str | None = None
    write_method: str = "storage_write"  # storage_write | insert_all: how the pipelines write rows


@dataclass(frozen=True)
class BigQuerySettings:
    location: str
    dataset: str
    backup_dataset: str
    dead_letter_dataset: str
    backup_table: str = "backup"
    dead_letter_table: str = "dead_letters"


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    message: str
    description: str
    table: Table
    # the routing entry: a datahem.runtime.contracts.routing class of the kind (datahem.compiler.sources)
    route: Route
    loc: Loc
    locs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class EnumType:
    name: str  # full proto name
    values: tuple[tuple[str, int], ...]  # (value name, number) in declaration order


@dataclass(frozen=True)
class Model:
    project: str
    environments: tuple[Environment, ...]
    bigquery: BigQuerySettings
    categories: tuple[Category, ...]
    tables: tuple[Table, ...]  # sorted by message name
    sources: tuple[Source, ...]  # sorted by name
    proto_files: tuple[str, ...]  # project proto files, relative to schemas/
    descriptor_set: bytes = field(repr=False, default=b"")
    enums: tuple[EnumType, ...] = ()  # every enum type a table reaches, sorted by name
    # `pipelines.deployment`: per_environment (one streaming job per environment) or per_source
    deployment: str = "per_environment"
    # where project-level values are in sources.yaml: `project.name`, `bigquery.<key>`
    locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def provenance(self) -> tuple[str, ...]:
        return provenance(self.proto_files)

    def enum(self, name: str) -> EnumType:
        return next(e for e in self.enums if e.name == name)

    @property
    def backup_table(self) -> Table:
        bq = self.bigquery
        return system_table(
            bq.backup_table,
            bq.backup_dataset,
            "Raw backup of every event, as published (backfill replays are not backed up again).",
            BACKUP_COLUMNS,
            None,
            ("source", "message_type"),
        )

    @property
    def dead_letter_table(self) -> Table:
        bq = self.bigquery
        return system_table(
            bq.dead_letter_table,
            bq.dead_letter_dataset,
            "Events the pipelines could not turn into rows, with the reason; nothing is dropped.",
            DEAD_LETTER_COLUMNS,
            "failed_at",
            ("pipeline", "stage"),
        )

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def table(self, message: str) -> Table:
        return next(t for t in self.tables if t.message == message)

    def sources_of(self, message: str) -> tuple[Source, ...]:
        return self._sources_by_message.get(message, ())

    @functools.cached_property
    def _sources_by_message(self) -> dict[str, tuple[Source, ...]]:
        """The sources of each message (in name order), found once: emitters ask for those of every table, and
        looking through every source each time grew with tables x sources."""
        by_message: dict[str, list[Source]] = {}
        for s in self.sources:
            by_message.setdefault(s.message, []).append(s)
        return {message: tuple(sources) for message, sources in by_message.items()}
