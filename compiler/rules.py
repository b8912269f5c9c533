"""The rule registry: every check has a stable id, a one-line purpose and a category.

`datahem rules` prints this table. Ids never change meaning; retired ids are not reused.
"""

from compiler.diagnostics import rule

# sources.yaml: syntax and shape
YAML_SYNTAX = rule("YAML_SYNTAX", "sources.yaml must be well-formed YAML.", "sources")
YAML_DUPLICATE_KEY = rule("YAML_DUPLICATE_KEY", "A mapping must not repeat a key.", "sources")
YAML_UNKNOWN_KEY = rule("YAML_UNKNOWN_KEY", "Only documented keys are allowed (typos are not ignored).", "sources")
YAML_MISSING_KEY = rule("YAML_MISSING_KEY", "Required keys must be present.", "sources")
YAML_TYPE = rule("YAML_TYPE", "Each value must have the documented type.", "sources")
YAML_VALUE = rule("YAML_VALUE", "Values with a fixed set of choices must use one of them.", "sources")

# proto files
PROTO_SYNTAX = rule("PROTO_SYNTAX", "Proto files must compile with protoc.", "schemas")
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

# field options
TYPE_OVERRIDE_ILLEGAL = rule(
    "TYPE_OVERRIDE_ILLEGAL", "A `type` override must be a BigQuery type the proto value converts to.", "options"
)
REGEX_INVALID = rule("REGEX_INVALID", "Regular expressions in options must compile.", "options")
OPTION_NOT_APPLICABLE = rule(
    "OPTION_NOT_APPLICABLE", "A transform option must fit the field's type and shape.", "options"
)
OPTION_VALUE_INVALID = rule(
    "OPTION_VALUE_INVALID",
    "Option values must be usable (known time zone, non-zero divisor, known field...).",
    "options",
)

# infrastructure (generated/infra)
CLOUD_NAME_INVALID = rule(
    "CLOUD_NAME_INVALID",
    "Values that become Google Cloud names (environment, region, state bucket, secret, topic, job) must be valid "
    "and unique; each environment needs its own GCP project.",
    "infra",
)
TABLE_WOULD_BE_REPLACED = rule(
    "TABLE_WOULD_BE_REPLACED",
    "A change that makes Terraform replace a BigQuery table (and lose its data) is refused: column removed or "
    "renamed, type or mode changed, REQUIRED column added, partitioning changed, table renamed.",
    "infra",
)
