from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
TABLE_FIELD_NUMBER: _ClassVar[int]
table: _descriptor.FieldDescriptor
COLUMN_FIELD_NUMBER: _ClassVar[int]
column: _descriptor.FieldDescriptor
ONEOF_FIELD_NUMBER: _ClassVar[int]
oneof: _descriptor.FieldDescriptor

class TableOptions(_message.Message):
    __slots__ = ("name", "description", "dataset", "partitioning", "clustering", "labels", "max_recursion_depth", "unknown_fields")
    class UnknownFields(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN_FIELDS_UNSPECIFIED: _ClassVar[TableOptions.UnknownFields]
        REJECT: _ClassVar[TableOptions.UnknownFields]
        IGNORE: _ClassVar[TableOptions.UnknownFields]
        KEEP: _ClassVar[TableOptions.UnknownFields]
    UNKNOWN_FIELDS_UNSPECIFIED: TableOptions.UnknownFields
    REJECT: TableOptions.UnknownFields
    IGNORE: TableOptions.UnknownFields
    KEEP: TableOptions.UnknownFields
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    PARTITIONING_FIELD_NUMBER: _ClassVar[int]
    CLUSTERING_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_RECURSION_DEPTH_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    dataset: str
    partitioning: Partitioning
    clustering: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    max_recursion_depth: int
    unknown_fields: TableOptions.UnknownFields
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., dataset: _Optional[str] = ..., partitioning: _Optional[_Union[Partitioning, _Mapping]] = ..., clustering: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., max_recursion_depth: _Optional[int] = ..., unknown_fields: _Optional[_Union[TableOptions.UnknownFields, str]] = ...) -> None: ...

class Partitioning(_message.Message):
    __slots__ = ("field", "granularity", "expiration_days", "require_filter")
    class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        GRANULARITY_UNSPECIFIED: _ClassVar[Partitioning.Granularity]
        HOUR: _ClassVar[Partitioning.Granularity]
        DAY: _ClassVar[Partitioning.Granularity]
        MONTH: _ClassVar[Partitioning.Granularity]
        YEAR: _ClassVar[Partitioning.Granularity]
    GRANULARITY_UNSPECIFIED: Partitioning.Granularity
    HOUR: Partitioning.Granularity
    DAY: Partitioning.Granularity
    MONTH: Partitioning.Granularity
    YEAR: Partitioning.Granularity
    FIELD_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_FILTER_FIELD_NUMBER: _ClassVar[int]
    field: str
    granularity: Partitioning.Granularity
    expiration_days: int
    require_filter: bool
    def __init__(self, field: _Optional[str] = ..., granularity: _Optional[_Union[Partitioning.Granularity, str]] = ..., expiration_days: _Optional[int] = ..., require_filter: _Optional[bool] = ...) -> None: ...

class ColumnOptions(_message.Message):
    __slots__ = ("name", "description", "category", "type", "required", "hidden", "default_policy", "regex_extract", "regex_replace", "local_to_utc", "coalesce", "divide", "filter", "append", "pseudonymize", "from_attribute", "indexed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POLICY_FIELD_NUMBER: _ClassVar[int]
    REGEX_EXTRACT_FIELD_NUMBER: _ClassVar[int]
    REGEX_REPLACE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_TO_UTC_FIELD_NUMBER: _ClassVar[int]
    COALESCE_FIELD_NUMBER: _ClassVar[int]
    DIVIDE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    APPEND_FIELD_NUMBER: _ClassVar[int]
    PSEUDONYMIZE_FIELD_NUMBER: _ClassVar[int]
    FROM_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    category: str
    type: str
    required: bool
    hidden: bool
    default_policy: DefaultPolicy
    regex_extract: RegexExtract
    regex_replace: RegexReplace
    local_to_utc: LocalToUtc
    coalesce: _containers.RepeatedScalarFieldContainer[str]
    divide: float
    filter: Filter
    append: str
    pseudonymize: Pseudonymize
    from_attribute: str
    indexed: Indexed
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., type: _Optional[str] = ..., required: _Optional[bool] = ..., hidden: _Optional[bool] = ..., default_policy: _Optional[_Union[DefaultPolicy, _Mapping]] = ..., regex_extract: _Optional[_Union[RegexExtract, _Mapping]] = ..., regex_replace: _Optional[_Union[RegexReplace, _Mapping]] = ..., local_to_utc: _Optional[_Union[LocalToUtc, _Mapping]] = ..., coalesce: _Optional[_Iterable[str]] = ..., divide: _Optional[float] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., append: _Optional[str] = ..., pseudonymize: _Optional[_Union[Pseudonymize, _Mapping]] = ..., from_attribute: _Optional[str] = ..., indexed: _Optional[_Union[Indexed, _Mapping]] = ...) -> None: ...

class DefaultPolicy(_message.Message):
    __slots__ = ("kind", "value")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[DefaultPolicy.Kind]
        NULL: _ClassVar[DefaultPolicy.Kind]
        PROTO_DEFAULT: _ClassVar[DefaultPolicy.Kind]
        VALUE: _ClassVar[DefaultPolicy.Kind]
    KIND_UNSPECIFIED: DefaultPolicy.Kind
    NULL: DefaultPolicy.Kind
    PROTO_DEFAULT: DefaultPolicy.Kind
    VALUE: DefaultPolicy.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: DefaultPolicy.Kind
    value: str
    def __init__(self, kind: _Optional[_Union[DefaultPolicy.Kind, str]] = ..., value: _Optional[str] = ...) -> None: ...

class RegexExtract(_message.Message):
    __slots__ = ("pattern", "group")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    group: int
    def __init__(self, pattern: _Optional[str] = ..., group: _Optional[int] = ...) -> None: ...

class RegexReplace(_message.Message):
    __slots__ = ("pattern", "replacement")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    replacement: str
    def __init__(self, pattern: _Optional[str] = ..., replacement: _Optional[str] = ...) -> None: ...

class LocalToUtc(_message.Message):
    __slots__ = ("time_zone", "format")
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    time_zone: str
    format: str
    def __init__(self, time_zone: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("pattern", "action")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[Filter.Action]
        KEEP: _ClassVar[Filter.Action]
        DROP: _ClassVar[Filter.Action]
    ACTION_UNSPECIFIED: Filter.Action
    KEEP: Filter.Action
    DROP: Filter.Action
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    action: Filter.Action
    def __init__(self, pattern: _Optional[str] = ..., action: _Optional[_Union[Filter.Action, str]] = ...) -> None: ...

class Indexed(_message.Message):
    __slots__ = ("prefix", "index_field", "value_field")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    index_field: str
    value_field: str
    def __init__(self, prefix: _Optional[str] = ..., index_field: _Optional[str] = ..., value_field: _Optional[str] = ...) -> None: ...

class Pseudonymize(_message.Message):
    __slots__ = ("key_secret",)
    KEY_SECRET_FIELD_NUMBER: _ClassVar[int]
    key_secret: str
    def __init__(self, key_secret: _Optional[str] = ...) -> None: ...

class OneofOptions(_message.Message):
    __slots__ = ("required",)
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    required: bool
    def __init__(self, required: _Optional[bool] = ...) -> None: ...
