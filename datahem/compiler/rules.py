"""The rule registry: every check has a stable id, a one-line purpose and a category.

`datahem rules` prints this table. Ids never change meaning; retired ids are not reused.
"""

from datahem.compiler.diagnostics import rule

# sources.yaml: syntax and shape
YAML_SYNTAX = rule("YAML_SYNTAX", "sources.yaml must be well-formed YAML.", "sources")
YAML_DUPLICATE_KEY = rule("YAML_DUPLICATE_KEY", "A mapping must not repeat a key.", "sources")
YAML_UNKNOWN_KEY = rule("YAML_UNKNOWN_KEY", "Only documented keys are allowed (typos are not ignored).", "sources")
YAML_MISSING_KEY = rule("YAML_MISSING_KEY", "Required keys must be present.", "sources")
YAML_TYPE = rule("YAML_TYPE", "Each value must have the documented type.", "sources")
YAML_VALUE = rule("YAML_VALUE", "Values with a fixed set of choices must use one of them.", "sources")
CHECKS_SKIPPED = rule(
    "CHECKS_SKIPPED",
    "A note, never an error: checks that need an input with errors (sources.yaml, schemas/) were skipped; fix the "
    "errors and build again to see what they find.",
    "sources",
)

# proto files
PROTO_SYNTAX = rule("PROTO_SYNTAX", "Proto files must compile with protoc.", "schemas")
PROTO_FILE_INVALID = rule(
    "PROTO_FILE_INVALID", "Each *.proto under schemas/ must be a regular file of UTF-8 text.", "schemas"
)
PROTO_TOOL = rule(
    "PROTO_TOOL",
    "protoc must finish in time and report errors as file:line:col; anything else it prints is shown as is.",
    "schemas",
)
JSON_NAME_DUPLICATE = rule(
    "JSON_NAME_DUPLICATE",
    "No field's name or JSON name may be another field's in the same message (proto3 JSON accepts both).",
    "schemas",
)
OPTIONS_VOCABULARY_DRIFT = rule(
    "OPTIONS_VOCABULARY_DRIFT",
    "schemas/datahem/options.proto must be identical to the vocabulary this compiler reads.",
    "schemas",
)

# references and uniqueness
SOURCE_UNKNOWN_MESSAGE = rule("SOURCE_UNKNOWN_MESSAGE", "A source's message must be a message in schemas/.", "sources")
SOURCE_DUPLICATE_NAME = rule("SOURCE_DUPLICATE_NAME", "Source names must be unique.", "sources")
ROUTE_DUPLICATE = rule(
    "ROUTE_DUPLICATE", "HTTP path+method, SNS route values and Kinesis streams must be unique.", "sources"
)
TABLE_DUPLICATE_NAME = rule("TABLE_DUPLICATE_NAME", "Two message types must not map to the same table.", "bigquery")
CATEGORY_UNKNOWN = rule("CATEGORY_UNKNOWN", "A column's category must be defined in sources.yaml.", "governance")
CATEGORY_CYCLE = rule("CATEGORY_CYCLE", "Category parents must exist and form a tree.", "governance")
IAM_MEMBER_INVALID = rule(
    "IAM_MEMBER_INVALID", "Readers must be IAM members: user:, group:, serviceAccount: or domain:.", "governance"
)

# BigQuery limits
IDENTIFIER_INVALID = rule(
    "IDENTIFIER_INVALID", "Table, dataset and column names must be legal BigQuery identifiers.", "bigquery"
)
IDENTIFIER_RESERVED = rule(
    "IDENTIFIER_RESERVED", "Column names must not use BigQuery's reserved prefixes or DataHem's `_` prefix.", "bigquery"
)
COLUMN_DUPLICATE = rule(
    "COLUMN_DUPLICATE", "Column names must be unique case-insensitively, also after renames.", "bigquery"
)
RECURSION_UNBOUNDED = rule(
    "RECURSION_UNBOUNDED", "A recursive message needs the table option max_recursion_depth.", "bigquery"
)
NESTING_TOO_DEEP = rule("NESTING_TOO_DEEP", "BigQuery allows at most 15 levels of nested STRUCTs.", "bigquery")
STRUCT_WITHOUT_COLUMNS = rule(
    "STRUCT_WITHOUT_COLUMNS",
    "A nested message column needs at least one visible field (BigQuery has no empty STRUCT).",
    "bigquery",
)
TOO_MANY_COLUMNS = rule("TOO_MANY_COLUMNS", "BigQuery allows at most 10,000 columns per table.", "bigquery")
DESCRIPTION_TOO_LONG = rule("DESCRIPTION_TOO_LONG", "BigQuery descriptions are at most 1,024 characters.", "bigquery")
CLUSTERING_INVALID = rule(
    "CLUSTERING_INVALID", "Clustering takes at most 4 existing top-level columns of clusterable types.", "bigquery"
)
PARTITION_FIELD_INVALID = rule(
    "PARTITION_FIELD_INVALID",
    "The partition column must be a top-level TIMESTAMP, DATE or DATETIME column.",
    "bigquery",
)
LABEL_INVALID = rule("LABEL_INVALID", "Labels must be lower-case keys and values of at most 63 characters.", "bigquery")
LABEL_RESERVED = rule(
    "LABEL_RESERVED",
    "A table label must not use a key DataHem writes (managed_by, datahem_*, goog-*): the writers would overwrite "
    "each other.",
    "bigquery",
)
TOO_MANY_LABELS = rule(
    "TOO_MANY_LABELS",
    "A table's labels and the ones DataHem adds must stay within BigQuery's 64.",
    "bigquery",
)

# field options
TYPE_OVERRIDE_ILLEGAL = rule(
    "TYPE_OVERRIDE_ILLEGAL", "A `type` override must be a BigQuery type the proto value converts to.", "options"
)
REGEX_INVALID = rule(
    "REGEX_INVALID",
    "Regular expressions in options must compile with RE2 (BigQuery's syntax, linear-time matching: no "
    "backreferences or lookaround).",
    "options",
)
OPTION_NOT_APPLICABLE = rule(
    "OPTION_NOT_APPLICABLE", "A transform option must fit the field's type and shape.", "options"
)
ATTRIBUTE_UNKNOWN = rule(
    "ATTRIBUTE_UNKNOWN",
    "`from_attribute` must name an attribute the collectors of the table's sources set (else the column is always "
    "NULL).",
    "options",
)
OPTION_VALUE_INVALID = rule(
    "OPTION_VALUE_INVALID",
    "Option values must be usable (known time zone, non-zero divisor, known field...).",
    "options",
)

TIME_FORMAT_INVALID = rule(
    "TIME_FORMAT_INVALID",
    "A `local_to_utc` format uses only directives strptime and BigQuery both read, names a full date and reads back "
    "a sample date-time written in it.",
    "options",
)

# infrastructure (generated/infra)
CLOUD_NAME_INVALID = rule(
    "CLOUD_NAME_INVALID",
    "Values that become Google Cloud names (environment, region, state bucket, secret, topic, job) must be valid "
    "and unique; each environment needs its own GCP project.",
    "infra",
)

SECRET_VALUE = rule(
    "SECRET_VALUE",
    "Where a secret's name belongs, the value must not look like a secret (a token prefix, long random text): the "
    "secret goes in Secret Manager and the project names it.",
    "infra",
)

# example events (schemas/**/*.examples.yaml): reported by `datahem test`, not by `datahem build`
EXAMPLE_DUPLICATE_NAME = rule("EXAMPLE_DUPLICATE_NAME", "Example names must be unique within their file.", "examples")
EXAMPLE_UNKNOWN_MESSAGE = rule(
    "EXAMPLE_UNKNOWN_MESSAGE", "An examples file must name a message that has a table and a converter.", "examples"
)
EXAMPLE_NOT_A_ROW = rule("EXAMPLE_NOT_A_ROW", "A valid example must become a row through its converter.", "examples")
EXAMPLE_NOT_REJECTED = rule(
    "EXAMPLE_NOT_REJECTED", "An invalid example must become a dead letter, not a row.", "examples"
)
EXAMPLE_WRONG_STAGE = rule(
    "EXAMPLE_WRONG_STAGE", "An invalid example must be rejected at its declared stage.", "examples"
)
EXAMPLE_WRONG_REASON = rule(
    "EXAMPLE_WRONG_REASON", "An invalid example's dead-letter error must contain its declared reason.", "examples"
)

# schema evolution: compatibility rules, comparing the project with the baseline (the committed generated/, or
# `--against`). Each has a category (wire, json, bigquery, access), the classification of what it finds (safe: nothing
# to do; migration: a schema change that keeps the data, emitted under generated/bigquery/migrations/; breaking: a
# build error unless the message moves to a new major version or sources.yaml accepts it) and whether it may be
# accepted in `accepted_breaks` (only where the table can follow without losing data).
SAFE, MIGRATION, BREAKING = "safe", "migration", "breaking"


def compat(rule_id: str, purpose: str, category: str, classification: str, acceptable: bool = False) -> str:
    return rule(rule_id, purpose, category, classification, acceptable)


FIELD_REMOVED = compat(
    "FIELD_REMOVED",
    "A field of an event message must not be removed: producers still send it and readers still query its column.",
    "wire",
    BREAKING,
    acceptable=True,
)
FIELD_NUMBER_CHANGED = compat(
    "FIELD_NUMBER_CHANGED",
    "A field keeps its number: binary consumers of the processed stream decode by number.",
    "wire",
    BREAKING,
    acceptable=True,
)
FIELD_NUMBER_REUSED = compat(
    "FIELD_NUMBER_REUSED",
    "The number of a removed field must not be reused for a field of another type (reserve it instead).",
    "wire",
    BREAKING,
    acceptable=True,
)
FIELD_TYPE_CHANGED = compat(
    "FIELD_TYPE_CHANGED",
    "A field's protobuf type stays wire- and JSON-compatible (int32, int64, uint32, uint64 are; int64 to double is not).",
    "wire",
    BREAKING,
    acceptable=True,
)
ENUM_VALUE_RENUMBERED = compat(
    "ENUM_VALUE_RENUMBERED",
    "An enum value keeps its number: binary consumers decode enums by number.",
    "wire",
    BREAKING,
    acceptable=True,
)
MESSAGE_RENAMED = compat(
    "MESSAGE_RENAMED",
    "A source keeps its message type: topics are named after it, so a rename moves the stream and the processed topic.",
    "wire",
    BREAKING,
    acceptable=True,
)
SOURCE_REMOVED = compat(
    "SOURCE_REMOVED",
    "A source must not disappear: its producers would be refused and its pipeline drained.",
    "wire",
    BREAKING,
    acceptable=True,
)
ROUTE_REMOVED = compat(
    "ROUTE_REMOVED",
    "A source keeps its routes (HTTP path and methods, SNS route value and topic ARNs, Kinesis stream).",
    "wire",
    BREAKING,
    acceptable=True,
)
FIELD_RENAMED = compat(
    "FIELD_RENAMED",
    "A field keeps its name: producers send JSON with the field's name, events with the old name would be rejected.",
    "json",
    BREAKING,
    acceptable=True,
)
JSON_NAME_CHANGED = compat(
    "JSON_NAME_CHANGED",
    "A field keeps its JSON name: producers send it, events with the old name would be rejected.",
    "json",
    BREAKING,
    acceptable=True,
)
ONEOF_MADE_REQUIRED = compat(
    "ONEOF_MADE_REQUIRED",
    "A oneof must not become required (`(datahem.oneof) = {required: true}`): events with none of its fields, valid "
    "until then, would be dead-lettered.",
    "json",
    BREAKING,
    acceptable=True,
)
ENUM_VALUE_REMOVED = compat(
    "ENUM_VALUE_REMOVED",
    "An enum value must not be removed or renamed: JSON carries value names and stored rows hold them.",
    "json",
    BREAKING,
    acceptable=True,
)
ENUM_VALUE_ADDED = compat(
    "ENUM_VALUE_ADDED",
    "A new enum value is compatible; consumers should expect values they do not know yet.",
    "json",
    SAFE,
)
FIELD_CARDINALITY_CHANGED = compat(
    "FIELD_CARDINALITY_CHANGED",
    "A field stays singular or repeated: the JSON shape and the column mode (REPEATED) cannot change in place.",
    "json",
    BREAKING,
)
FIELD_MADE_REQUIRED = compat(
    "FIELD_MADE_REQUIRED",
    "An optional field must not become required: events without it would be dead-lettered and BigQuery cannot make "
    "an existing column NOT NULL.",
    "json",
    BREAKING,
)
COLUMN_ADDED = compat(
    "COLUMN_ADDED",
    "A new NULLABLE or REPEATED top-level column is added by `ALTER TABLE ... ADD COLUMN IF NOT EXISTS`.",
    "bigquery",
    MIGRATION,
)
NESTED_COLUMN_ADDED = compat(
    "NESTED_COLUMN_ADDED",
    "A new field inside an existing STRUCT is added by a schema patch that `datahem migrate` applies (SQL cannot).",
    "bigquery",
    MIGRATION,
)
REQUIRED_COLUMN_ADDED = compat(
    "REQUIRED_COLUMN_ADDED",
    "A new column cannot be REQUIRED: existing rows have no value for it.",
    "bigquery",
    BREAKING,
)
COLUMN_RELAXED = compat(
    "COLUMN_RELAXED",
    "A REQUIRED column becomes NULLABLE by `ALTER COLUMN ... DROP NOT NULL` (nested: a schema patch).",
    "bigquery",
    MIGRATION,
)
COLUMN_TYPE_WIDENED = compat(
    "COLUMN_TYPE_WIDENED",
    "A top-level column widens in place (INT64 to NUMERIC, BIGNUMERIC or FLOAT64; NUMERIC to BIGNUMERIC or FLOAT64) "
    "by `ALTER COLUMN ... SET DATA TYPE`.",
    "bigquery",
    MIGRATION,
)
COLUMN_TYPE_CHANGED = compat(
    "COLUMN_TYPE_CHANGED",
    "Any other column type change (narrowing, unrelated type, nested or repeated column) cannot keep the data.",
    "bigquery",
    BREAKING,
)
COLUMN_RENAMED = compat(
    "COLUMN_RENAMED",
    "A column keeps its name (field name or the `name` option): queries and downstream tables read it by name.",
    "bigquery",
    BREAKING,
    acceptable=True,
)
COLUMN_REMOVED = compat(
    "COLUMN_REMOVED",
    "A column must not disappear while its field stays (`hidden: true`): queries still read it.",
    "bigquery",
    BREAKING,
    acceptable=True,
)
COLUMN_DESCRIPTION_CHANGED = compat(
    "COLUMN_DESCRIPTION_CHANGED",
    "A changed column description is applied by `ALTER COLUMN ... SET OPTIONS(description=...)` (nested: a patch).",
    "bigquery",
    MIGRATION,
)
TABLE_WOULD_BE_REPLACED = compat(
    "TABLE_WOULD_BE_REPLACED",
    "A change that makes Terraform replace a BigQuery table (and lose its data) is refused: table renamed or moved to "
    "another dataset, partition column or granularity changed.",
    "bigquery",
    BREAKING,
)
CLUSTERING_CHANGED = compat(
    "CLUSTERING_CHANGED",
    "Clustering is updated in place by Terraform; only data written afterwards is clustered the new way.",
    "bigquery",
    SAFE,
)
TABLE_OPTIONS_CHANGED = compat(
    "TABLE_OPTIONS_CHANGED",
    "Table description, labels, partition expiration and require-filter are updated in place by Terraform.",
    "bigquery",
    SAFE,
)
UNKNOWN_FIELDS_RELAXED = compat(
    "UNKNOWN_FIELDS_RELAXED",
    "A table's `unknown_fields` policy accepts more (REJECT to IGNORE or KEEP, IGNORE to KEEP): events dead-lettered "
    "for unknown fields become rows; KEEP adds the `_unknown` column (COLUMN_ADDED, a migration).",
    "bigquery",
    SAFE,
)
UNKNOWN_FIELDS_TIGHTENED = compat(
    "UNKNOWN_FIELDS_TIGHTENED",
    "A table's `unknown_fields` policy accepts less (KEEP to IGNORE or REJECT, IGNORE to REJECT): unknown fields "
    "stop being stored, or events producers send today become dead letters.",
    "bigquery",
    BREAKING,
    acceptable=True,
)
TABLE_ADDED = compat(
    "TABLE_ADDED",
    "A new message type gets a new table, topic and pipeline.",
    "bigquery",
    SAFE,
)
MAJOR_VERSION_ADDED = compat(
    "MAJOR_VERSION_ADDED",
    "A source moving to a new major version (package `...v2`) gets a new table; the old one keeps its data.",
    "bigquery",
    SAFE,
)
CATEGORY_CHANGED = compat(
    "CATEGORY_CHANGED",
    "A column's category (policy tag) changed: not breaking, but an access change, always called out.",
    "access",
    SAFE,
)
CATEGORY_ACCESS_CHANGED = compat(
    "CATEGORY_ACCESS_CHANGED",
    "A category's readers, masked readers, masking rule or parent changed: who sees what changes.",
    "access",
    SAFE,
)
