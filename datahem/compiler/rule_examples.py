"""A bad and a good example per rule, for `datahem rules RULE_ID` (beside the registry in `rules.py`, as data).

`where` names the file the snippets belong to; for compatibility rules `bad` shows the edit (before → after) that
the rule reports and `good` the change that avoids it (or the accepted_breaks entry that accepts it).
"""

from __future__ import annotations

from dataclasses import dataclass

from datahem.compiler import rules

PROTO, YAML = "schemas/**/*.proto", "sources.yaml"
EXAMPLES_FILE = "schemas/**/*.examples.yaml"


@dataclass(frozen=True)
class Example:
    where: str
    bad: str
    good: str


def _accept(rule: str, target: str) -> str:
    return f'accepted_breaks:\n  - rule: {rule}\n    target: {target}\n    reason: "Why this break is fine, for the reviewers."'


EXAMPLES: dict[str, Example] = {
    # -- sources.yaml ----------------------------------------------------------------------------------------------
    rules.YAML_SYNTAX: Example(
        YAML, "sources:\n  - name: orders\n   kind: sns", "sources:\n  - name: orders\n    kind: sns"
    ),
    rules.YAML_DUPLICATE_KEY: Example(YAML, "project:\n  name: grocer\n  name: grocer2", "project:\n  name: grocer"),
    rules.YAML_UNKNOWN_KEY: Example(YAML, "  - name: orders\n    knd: sns", "  - name: orders\n    kind: sns"),
    rules.YAML_MISSING_KEY: Example(
        YAML,
        "  - name: orders\n    kind: sns",
        "  - name: orders\n    kind: sns\n    message: grocer.commerce.v1.Order",
    ),
    rules.YAML_TYPE: Example(YAML, "    methods: POST", "    methods: [POST]"),
    rules.YAML_VALUE: Example(YAML, "    kind: webhook", "    kind: http"),
    rules.CHECKS_SKIPPED: Example(
        PROTO,
        "message Order {\n  string order_id = 1\n}  // does not compile: sources.yaml is not checked against it",
        "message Order {\n  string order_id = 1;\n}",
    ),
    rules.SOURCE_UNKNOWN_MESSAGE: Example(
        YAML, "    message: grocer.commerce.v1.Ordr", "    message: grocer.commerce.v1.Order"
    ),
    rules.SOURCE_DUPLICATE_NAME: Example(
        YAML,
        "  - name: orders\n    ...\n  - name: orders\n    ...",
        "  - name: orders\n    ...\n  - name: returns\n    ...",
    ),
    rules.ROUTE_DUPLICATE: Example(
        YAML,
        "  - name: web_ua\n    kind: http\n    path: /collect\n  - name: web_ga4\n    kind: http\n    path: /collect",
        "  - name: web_ua\n    kind: http\n    path: /collect\n  - name: web_ga4\n    kind: http\n    path: /mp/collect",
    ),
    rules.CATEGORY_CYCLE: Example(
        YAML, "  pii:\n    parent: pii_email\n  pii_email:\n    parent: pii", "  pii: {}\n  pii_email:\n    parent: pii"
    ),
    rules.IAM_MEMBER_INVALID: Example(
        YAML, "    readers: [analysts@grocer.example]", "    readers: [group:analysts@grocer.example]"
    ),
    rules.CLOUD_NAME_INVALID: Example(
        YAML, "    dev:\n      gcp_project: Grocer_Data", "    dev:\n      gcp_project: grocer-data-dev"
    ),
    # -- proto files -----------------------------------------------------------------------------------------------
    rules.PROTO_SYNTAX: Example(
        PROTO, "message Order {\n  string order_id = 1\n}", "message Order {\n  string order_id = 1;\n}"
    ),
    rules.JSON_NAME_DUPLICATE: Example(
        PROTO,
        "message Click {\n  string page_url = 1;\n  string pageUrl = 2;  // both read the JSON key pageUrl\n}",
        "message Click {\n  string page_url = 1;\n  string page_url_raw = 2;\n}",
    ),
    rules.PROTO_FILE_INVALID: Example(
        PROTO, "schemas/orders.proto -> /elsewhere/orders.proto  (a symlink)", "schemas/orders.proto  (a regular file)"
    ),
    rules.PROTO_TOOL: Example(
        PROTO,
        "// a generated file of 200,000 messages that protoc cannot compile in time",
        "// the event messages only: generated or vendored protos stay outside schemas/",
    ),
    rules.OPTIONS_VOCABULARY_DRIFT: Example(
        PROTO,
        "schemas/datahem/options.proto edited by hand",
        "schemas/datahem/options.proto as `datahem init` wrote it (the compiler's vocabulary)",
    ),
    rules.TABLE_DUPLICATE_NAME: Example(
        PROTO,
        'message Order { option (datahem.table) = {name: "orders"}; }\nmessage Return { option (datahem.table) = '
        '{name: "orders"}; }',
        'message Order { option (datahem.table) = {name: "orders"}; }\nmessage Return { option (datahem.table) = '
        '{name: "returns"}; }',
    ),
    rules.CATEGORY_UNKNOWN: Example(
        PROTO,
        'string email = 6 [(datahem.column) = {category: "pii_mail"}];',
        'string email = 6 [(datahem.column) = {category: "pii_email"}];  // defined under categories: in sources.yaml',
    ),
    rules.IDENTIFIER_INVALID: Example(
        PROTO,
        'string note = 3 [(datahem.column) = {name: "driver-note"}];',
        'string note = 3 [(datahem.column) = {name: "driver_note"}];',
    ),
    rules.IDENTIFIER_RESERVED: Example(
        PROTO,
        'string source = 3 [(datahem.column) = {name: "_source"}];',
        'string source = 3 [(datahem.column) = {name: "origin"}];',
    ),
    rules.COLUMN_DUPLICATE: Example(
        PROTO,
        'string email = 6;\nstring mail = 7 [(datahem.column) = {name: "Email"}];',
        'string email = 6;\nstring mail = 7 [(datahem.column) = {name: "secondary_email"}];',
    ),
    rules.RECURSION_UNBOUNDED: Example(
        PROTO,
        "message Category {\n  string name = 1;\n  repeated Category children = 2;\n}",
        "message Category {\n  option (datahem.table) = {max_recursion_depth: 3};\n  string name = 1;\n"
        "  repeated Category children = 2;\n}",
    ),
    rules.NESTING_TOO_DEEP: Example(
        PROTO,
        "// a message nested 16 levels deep",
        '// at most 15 levels: flatten one, or store the deepest part as JSON: [(datahem.column) = {type: "JSON"}]',
    ),
    rules.STRUCT_WITHOUT_COLUMNS: Example(
        PROTO,
        "message Internal {\n  string a = 1 [(datahem.column) = {hidden: true}];\n}\nInternal internal = 9;",
        "Internal internal = 9 [(datahem.column) = {hidden: true}];",
    ),
    rules.TOO_MANY_COLUMNS: Example(
        PROTO,
        "// a message whose columns, nested ones included, are more than 10,000",
        '// store rarely queried parts as JSON: [(datahem.column) = {type: "JSON"}]',
    ),
    rules.DESCRIPTION_TOO_LONG: Example(
        PROTO,
        "// A comment of 1,500 characters above the field...\nstring sku = 2;",
        "// A summary of at most 1,024 characters (link to the long text).\nstring sku = 2;",
    ),
    rules.CLUSTERING_INVALID: Example(
        PROTO,
        'option (datahem.table) = {clustering: ["lines", "member_id"]};  // lines is REPEATED',
        'option (datahem.table) = {clustering: ["member_id", "status"]};',
    ),
    rules.PARTITION_FIELD_INVALID: Example(
        PROTO,
        'option (datahem.table) = {partitioning: {field: "order_id"}};',
        'option (datahem.table) = {partitioning: {field: "created_at" granularity: DAY}};',
    ),
    rules.LABEL_INVALID: Example(
        PROTO,
        'option (datahem.table) = {labels: {key: "Domain" value: "Commerce"}};',
        'option (datahem.table) = {labels: {key: "domain" value: "commerce"}};',
    ),
    rules.TYPE_OVERRIDE_ILLEGAL: Example(
        PROTO,
        'bool express = 8 [(datahem.column) = {type: "TIMESTAMP"}];',
        'int64 gross_margin_cents = 14 [(datahem.column) = {type: "NUMERIC" divide: 100}];',
    ),
    rules.REGEX_INVALID: Example(
        PROTO,
        'string sku = 2 [(datahem.column) = {regex_extract: {pattern: "([A-Z+)"}}];',
        'string sku = 2 [(datahem.column) = {regex_extract: {pattern: "([A-Z]+)-\\\\d+"}}];',
    ),
    rules.OPTION_NOT_APPLICABLE: Example(
        PROTO,
        "bool express = 8 [(datahem.column) = {divide: 100}];",
        "int64 gross_margin_cents = 14 [(datahem.column) = {divide: 100}];",
    ),
    rules.OPTION_VALUE_INVALID: Example(
        PROTO,
        'string slot = 22 [(datahem.column) = {local_to_utc: {time_zone: "Europe/Stockhlm"}}];',
        'string slot = 22 [(datahem.column) = {local_to_utc: {time_zone: "Europe/Stockholm"}}];',
    ),
    rules.LABEL_RESERVED: Example(
        PROTO,
        'option (datahem.table) = {labels: {key: "datahem_migration" value: "0001"}};',
        'option (datahem.table) = {labels: {key: "domain" value: "commerce"}};',
    ),
    rules.TOO_MANY_LABELS: Example(
        PROTO,
        'option (datahem.table) = {labels: [{key: "l01" value: "x"}, ... 61 labels]};',
        'option (datahem.table) = {labels: [{key: "l01" value: "x"}, ... at most 60 labels]};',
    ),
    rules.SECRET_VALUE: Example(
        PROTO,
        'string email = 3 [(datahem.column) = {pseudonymize: {key_secret: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"}}];',
        'string email = 3 [(datahem.column) = {pseudonymize: {key_secret: "datahem-pseudonymization-key"}}];',
    ),
    rules.ATTRIBUTE_UNKNOWN: Example(
        PROTO,
        'string hit_id = 1 [(datahem.column) = {from_attribute: "uid"}];',
        'string hit_id = 1 [(datahem.column) = {from_attribute: "uuid"}];',
    ),
    rules.TIME_FORMAT_INVALID: Example(
        PROTO,
        'string slot = 22 [(datahem.column) = {local_to_utc: {time_zone: "Europe/Stockholm" format: "%H:%M"}}];',
        'string slot = 22 [(datahem.column) = {local_to_utc: {time_zone: "Europe/Stockholm" '
        'format: "%Y-%m-%d %H:%M"}}];',
    ),
    # -- compatibility (before → after) ----------------------------------------------------------------------------
    rules.FIELD_REMOVED: Example(
        PROTO,
        "// before\ngoogle.protobuf.Timestamp updated_at = 6;\n// after: the line deleted",
        "google.protobuf.Timestamp updated_at = 6 [deprecated = true];\n# or, in sources.yaml, once nobody sends it:\n"
        + _accept("FIELD_REMOVED", "grocer.commerce.v1.Order.updated_at"),
    ),
    rules.FIELD_NUMBER_CHANGED: Example(
        PROTO, "// before\nstring store_id = 4;\n// after\nstring store_id = 40;", "string store_id = 4;"
    ),
    rules.FIELD_NUMBER_REUSED: Example(
        PROTO,
        "// before\nstring coupon = 12;\n// after\nint64 discount_cents = 12;",
        'reserved 12;\nreserved "coupon";\nint64 discount_cents = 27;',
    ),
    rules.FIELD_TYPE_CHANGED: Example(
        PROTO,
        "// before\nint64 quantity = 3;\n// after\ndouble quantity = 3;",
        "int64 quantity = 3;\ndouble quantity_kg = 28;  // a new field for the new meaning",
    ),
    rules.ENUM_VALUE_RENUMBERED: Example(
        PROTO, "// before\nDELIVERED = 3;\n// after\nDELIVERED = 4;", "DELIVERED = 3;\nRETURNED = 4;"
    ),
    rules.MESSAGE_RENAMED: Example(
        YAML,
        "# before\n    message: grocer.commerce.v1.Order\n# after\n    message: grocer.commerce.v1.Purchase",
        "    message: grocer.commerce.v1.Order   # and a new source for grocer.commerce.v1.Purchase",
    ),
    rules.SOURCE_REMOVED: Example(
        YAML, "# before\n  - name: members\n    ...\n# after: the source deleted", _accept("SOURCE_REMOVED", "members")
    ),
    rules.ROUTE_REMOVED: Example(
        YAML,
        "# before\n    methods: [GET, POST]\n# after\n    methods: [POST]",
        "    methods: [GET, POST]   # add new routes beside the old ones",
    ),
    rules.FIELD_RENAMED: Example(
        PROTO,
        "// before\nstring email = 6;\n// after\nstring mail = 6;",
        "string email = 6;\n# or, in sources.yaml, one entry for the field and its column:\n"
        + _accept("FIELD_RENAMED", "shop.v1.Click.email"),
    ),
    rules.JSON_NAME_CHANGED: Example(
        PROTO,
        '// before\nstring member_id = 2 [json_name = "memberId"];\n// after\nstring member_id = 2 [json_name = "member"];',
        'string member_id = 2 [json_name = "memberId"];',
    ),
    rules.ENUM_VALUE_REMOVED: Example(
        PROTO,
        "// before\nCANCELLED = 4;\n// after: the line deleted",
        "// No longer sent since 2024; kept for stored rows.\nCANCELLED = 4;",
    ),
    rules.ENUM_VALUE_ADDED: Example(PROTO, "(nothing to avoid: safe)", "RETURNED = 5;"),
    rules.FIELD_CARDINALITY_CHANGED: Example(
        PROTO,
        "// before\nstring tag = 7;\n// after\nrepeated string tag = 7;",
        "string tag = 7;\nrepeated string tags = 29;",
    ),
    rules.FIELD_MADE_REQUIRED: Example(
        PROTO,
        "// before\nstring store_id = 4;\n// after\nstring store_id = 4 [(datahem.column) = {required: true}];",
        "string store_id = 4;   // or a new major version: package grocer.commerce.v2;",
    ),
    rules.ONEOF_MADE_REQUIRED: Example(
        PROTO,
        "oneof payment {\n  option (datahem.oneof) = {required: true};  // new: orders without a payment are refused\n"
        "  ...\n}",
        "oneof payment {\n  ...\n}\n# or, if such events were never valid, in sources.yaml:\n"
        + _accept("ONEOF_MADE_REQUIRED", "grocer.commerce.v1.Order.payment"),
    ),
    rules.COLUMN_ADDED: Example(PROTO, "(nothing to avoid: a migration)", "string campaign_code = 27;"),
    rules.NESTED_COLUMN_ADDED: Example(
        PROTO, "(nothing to avoid: a migration)", "message Line {\n  ...\n  int32 picked_grams = 10;\n}"
    ),
    rules.REQUIRED_COLUMN_ADDED: Example(
        PROTO,
        "string channel = 27 [(datahem.column) = {required: true}];",
        "string channel = 27;",
    ),
    rules.COLUMN_RELAXED: Example(
        PROTO,
        "(nothing to avoid: a migration)",
        "// before\nstring member_id = 2 [(datahem.column) = {required: true}];\n// after\nstring member_id = 2;",
    ),
    rules.COLUMN_TYPE_WIDENED: Example(
        PROTO,
        "(nothing to avoid: a migration)",
        'int32 loyalty_points_used = 15 [(datahem.column) = {type: "NUMERIC"}];  // was INT64',
    ),
    rules.COLUMN_TYPE_CHANGED: Example(
        PROTO,
        '// before\nint64 amount = 3;\n// after\nint64 amount = 3 [(datahem.column) = {type: "STRING"}];',
        'int64 amount = 3;\nint64 amount_text = 30 [(datahem.column) = {type: "STRING"}];',
    ),
    rules.COLUMN_RENAMED: Example(
        PROTO,
        "// before\nstring delivery_instructions = 24;\n// after\n"
        'string delivery_instructions = 24 [(datahem.column) = {name: "driver_notes"}];',
        "string delivery_instructions = 24;\n# or, in sources.yaml:\n"
        + _accept("COLUMN_RENAMED", "events.orders.delivery_instructions"),
    ),
    rules.COLUMN_REMOVED: Example(
        PROTO,
        "// before\nstring idempotency_key = 25;\n// after\nstring idempotency_key = 25 [(datahem.column) = {hidden: true}];",
        "string idempotency_key = 25;",
    ),
    rules.COLUMN_DESCRIPTION_CHANGED: Example(
        PROTO, "(nothing to avoid: a migration)", '// Store that packs the order, e.g. "STO-12".\nstring store_id = 4;'
    ),
    rules.TABLE_WOULD_BE_REPLACED: Example(
        PROTO,
        '// before\noption (datahem.table) = {name: "orders"};\n// after\noption (datahem.table) = {name: "purchases"};',
        'option (datahem.table) = {name: "orders"};   // or package grocer.commerce.v2; for a new table',
    ),
    rules.CLUSTERING_CHANGED: Example(
        PROTO, "(nothing to avoid: safe)", 'option (datahem.table) = {clustering: ["member_id", "store_id"]};'
    ),
    rules.TABLE_OPTIONS_CHANGED: Example(
        PROTO, "(nothing to avoid: safe)", 'option (datahem.table) = {labels: {key: "domain" value: "commerce"}};'
    ),
    rules.UNKNOWN_FIELDS_RELAXED: Example(
        PROTO, "(nothing to avoid: safe)", "option (datahem.table) = {unknown_fields: KEEP};  // was REJECT"
    ),
    rules.UNKNOWN_FIELDS_TIGHTENED: Example(
        PROTO,
        "// before\noption (datahem.table) = {unknown_fields: KEEP};\n// after\noption (datahem.table) = {};",
        "option (datahem.table) = {unknown_fields: KEEP};\n# or, in sources.yaml:\n"
        + _accept("UNKNOWN_FIELDS_TIGHTENED", "events.ua_hits:unknown_fields"),
    ),
    rules.TABLE_ADDED: Example(PROTO, "(nothing to avoid: safe)", "message Return { ... }  // and a source for it"),
    rules.MAJOR_VERSION_ADDED: Example(
        PROTO,
        "(nothing to avoid: safe)",
        "package grocer.delivery.v2;   // and the source's message: grocer.delivery.v2.CarTemperature",
    ),
    rules.CATEGORY_CHANGED: Example(
        PROTO,
        "(nothing to avoid: an access change, called out in the plan)",
        'string email = 6 [(datahem.column) = {category: "pii_email"}];',
    ),
    rules.CATEGORY_ACCESS_CHANGED: Example(
        YAML,
        "(nothing to avoid: an access change, called out in the plan)",
        "  pii_email:\n    readers: [group:customer-service@grocer.example, group:sales@grocer.example]",
    ),
    # -- schemas/**/*.examples.yaml (`datahem test`) ----------------------------------------------------------------
    rules.EXAMPLE_DUPLICATE_NAME: Example(
        EXAMPLES_FILE,
        'valid:\n  - name: created\n    payload: \'{"sku": "1"}\'\n  - name: created\n    payload: \'{"sku": "2"}\'',
        'valid:\n  - name: created\n    payload: \'{"sku": "1"}\'\n  - name: created_again\n    payload: \'{"sku": "2"}\'',
    ),
    rules.EXAMPLE_UNKNOWN_MESSAGE: Example(
        EXAMPLES_FILE, "message: grocer.commerce.v1.Prodcut", "message: grocer.commerce.v1.Product"
    ),
    rules.EXAMPLE_NOT_A_ROW: Example(
        EXAMPLES_FILE,
        'valid:\n  - name: created\n    payload: \'{"skew": "1"}\'  # unknown field: a dead letter',
        'valid:\n  - name: created\n    payload: \'{"sku": "1"}\'',
    ),
    rules.EXAMPLE_NOT_REJECTED: Example(
        EXAMPLES_FILE,
        'invalid:\n  - name: no_sku\n    why: ...\n    stage: validate\n    reason: missing\n    payload: \'{"sku": "1"}\'',
        "invalid:\n  - name: no_sku\n    why: ...\n    stage: validate\n    reason: missing\n    payload: '{}'",
    ),
    rules.EXAMPLE_WRONG_STAGE: Example(
        EXAMPLES_FILE,
        "invalid:\n  - name: cut_off\n    why: not JSON\n    stage: validate\n    reason: invalid JSON\n    payload: '{'",
        "invalid:\n  - name: cut_off\n    why: not JSON\n    stage: parse\n    reason: invalid JSON\n    payload: '{'",
    ),
    rules.EXAMPLE_WRONG_REASON: Example(
        EXAMPLES_FILE,
        "invalid:\n  - name: cut_off\n    why: not JSON\n    stage: parse\n    reason: bad body\n    payload: '{'",
        "invalid:\n  - name: cut_off\n    why: not JSON\n    stage: parse\n    reason: invalid JSON\n    payload: '{'",
    ),
}
