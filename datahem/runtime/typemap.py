"""The one protobuf → BigQuery type mapping, shared by every emitter and by the generated converters,
so the DDL, the schema JSON and the rows can never disagree.

Proto types are named as in .proto files (`int64`, `string`, `enum`, `message`); BigQuery types by their
GoogleSQL names (`INT64`, `STRUCT`). The schema JSON uses the REST API's names (`INTEGER`, `RECORD`).
"""

from __future__ import annotations

# proto scalar → BigQuery type. uint64/fixed64 do not fit INT64, NUMERIC holds them losslessly.
SCALARS: dict[str, str] = {
    "double": "FLOAT64",
    "float": "FLOAT64",
    "int32": "INT64",
    "sint32": "INT64",
    "sfixed32": "INT64",
    "uint32": "INT64",
    "fixed32": "INT64",
    "int64": "INT64",
    "sint64": "INT64",
    "sfixed64": "INT64",
    "uint64": "NUMERIC",
    "fixed64": "NUMERIC",
    "bool": "BOOL",
    "string": "STRING",
    "bytes": "BYTES",
    "enum": "STRING",  # the enum value's name
}

# well-known message types that become a single column
WELL_KNOWN: dict[str, str] = {
    "google.protobuf.Timestamp": "TIMESTAMP",
    "google.protobuf.Duration": "INTERVAL",
    "google.protobuf.Struct": "JSON",
    "google.protobuf.Value": "JSON",
    "google.protobuf.ListValue": "JSON",
    "google.protobuf.Any": "JSON",
    "google.protobuf.FieldMask": "STRING",  # its proto3 JSON form: comma-separated lowerCamelCase paths
    "google.protobuf.Empty": "BOOL",  # no fields, only presence (BigQuery has no empty STRUCT): TRUE when present
    "google.protobuf.DoubleValue": "FLOAT64",
    "google.protobuf.FloatValue": "FLOAT64",
    "google.protobuf.Int64Value": "INT64",
    "google.protobuf.UInt64Value": "NUMERIC",
    "google.protobuf.Int32Value": "INT64",
    "google.protobuf.UInt32Value": "INT64",
    "google.protobuf.BoolValue": "BOOL",
    "google.protobuf.StringValue": "STRING",
    "google.protobuf.BytesValue": "BYTES",
}

WRAPPERS = frozenset(n for n in WELL_KNOWN if n.endswith("Value") and n != "google.protobuf.Value")

_NUMERIC_TARGETS = frozenset({"INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64", "STRING"})

# Which `type` overrides a field may carry, by its natural BigQuery type (or proto type for strings).
# A string can hold the text form of almost anything; other values only widen or turn into text.
LEGAL_OVERRIDES: dict[str, frozenset[str]] = {
    "STRING": frozenset(
        {
            "STRING",
            "BYTES",
            "INT64",
            "NUMERIC",
            "BIGNUMERIC",
            "FLOAT64",
            "BOOL",
            "DATE",
            "DATETIME",
            "TIME",
            "TIMESTAMP",
            "JSON",
            "GEOGRAPHY",
            "INTERVAL",
        }
    ),
    "INT64": _NUMERIC_TARGETS | {"TIMESTAMP"},  # TIMESTAMP: epoch microseconds
    "NUMERIC": frozenset({"NUMERIC", "BIGNUMERIC", "FLOAT64", "STRING"}),
    "FLOAT64": frozenset({"FLOAT64", "NUMERIC", "BIGNUMERIC", "STRING"}),
    "BOOL": frozenset({"BOOL", "STRING", "INT64"}),
    "BYTES": frozenset({"BYTES", "STRING"}),
    "TIMESTAMP": frozenset({"TIMESTAMP", "DATETIME", "DATE", "STRING"}),
    "INTERVAL": frozenset({"INTERVAL", "STRING"}),
    "JSON": frozenset({"JSON", "STRING"}),
    "ENUM": frozenset({"STRING", "INT64"}),
}

ALL_TYPES = frozenset().union(*LEGAL_OVERRIDES.values()) | {"STRUCT"}

# GoogleSQL name → name used in the REST API's TableFieldSchema (what `bq show --schema` prints)
JSON_NAMES: dict[str, str] = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
SQL_NAMES: dict[str, str] = {v: k for k, v in JSON_NAMES.items()}

CLUSTERABLE = frozenset(
    {"STRING", "INT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME", "TIMESTAMP", "GEOGRAPHY"}
)
PARTITIONABLE = frozenset({"TIMESTAMP", "DATE", "DATETIME"})
NUMERIC_TYPES = frozenset({"INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64"})


def natural_type(proto_type: str, type_name: str = "") -> str | None:
    """BigQuery type of a proto field before overrides; STRUCT for messages that expand into columns."""
    if proto_type == "message":
        return WELL_KNOWN.get(type_name, "STRUCT")
    return SCALARS.get(proto_type)


def override_allowed(proto_type: str, natural: str, target: str) -> bool:
    key = "ENUM" if proto_type == "enum" else natural
    return target in LEGAL_OVERRIDES.get(key, frozenset({natural}))


def json_type(sql_type: str) -> str:
    return JSON_NAMES.get(sql_type, sql_type)


# The Storage Write API's row message: the protobuf field type of each BigQuery type (the API's wire encodings).
# TIMESTAMP as int64 microseconds since the epoch, DATE as int32 days since the epoch; NUMERIC, BIGNUMERIC, DATETIME,
# TIME, INTERVAL, GEOGRAPHY and JSON as their text. uint64 is not accepted for INT64 (NUMERIC holds those).
STORAGE_WRITE_TYPES: dict[str, str] = {
    "STRING": "TYPE_STRING",
    "BYTES": "TYPE_BYTES",
    "INT64": "TYPE_INT64",
    "FLOAT64": "TYPE_DOUBLE",
    "BOOL": "TYPE_BOOL",
    "NUMERIC": "TYPE_STRING",
    "BIGNUMERIC": "TYPE_STRING",
    "TIMESTAMP": "TYPE_INT64",
    "DATE": "TYPE_INT32",
    "DATETIME": "TYPE_STRING",
    "TIME": "TYPE_STRING",
    "INTERVAL": "TYPE_STRING",
    "GEOGRAPHY": "TYPE_STRING",
    "JSON": "TYPE_STRING",
    "STRUCT": "TYPE_MESSAGE",
}
