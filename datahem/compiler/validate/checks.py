"""Checks over the resolved model. Each check reports under a rule id from `datahem.compiler.rules` and says how to fix
the problem. Checks never stop early: one run reports everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from datahem.compiler import options, rules
from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.model.resolved import METADATA_COLUMNS, METADATA_NAMES, Column, Model, Table
from datahem.compiler.options.base import unknown_category
from datahem.compiler.sources import KINDS
from datahem.compiler.suggest import did_you_mean
from datahem.compiler.validate.registry import check
from datahem.runtime import typemap
from datahem.runtime.contracts import platform
from datahem.runtime.contracts.attributes import CONTRACT_ATTRIBUTES, attributes_of

COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}\Z")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}\Z")
DATASET_NAME = re.compile(r"^[A-Za-z0-9_]{1,1024}\Z")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
PROJECT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]\Z")
GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}\Z")
IAM_MEMBER = re.compile(r"^(user|group|serviceAccount|domain):[^\s@]*@?[^\s]+\Z|^principal(Set)?://\S+\Z")
RESERVED_PREFIXES = ("_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER")
MAX_DESCRIPTION = 1024


def walk(columns: tuple[Column, ...], depth: int = 1) -> Iterator[tuple[Column, int]]:
    for c in columns:
        if c.hidden:
            continue
        yield c, depth
        yield from walk(c.fields, depth + 1)


# -- sources.yaml ----------------------------------------------------------------------------------


@check
def project_names(model: Model, d: Diagnostics) -> None:
    # positions come from the sources; project-level names are checked with the environment locations
    for env in model.environments:
        if not GCP_PROJECT.match(env.gcp_project):
            d.error(
                env.loc,
                rules.IDENTIFIER_INVALID,
                f"environment `{env.name}` has gcp_project `{env.gcp_project}`, which is not a GCP project id "
                "(6-30 lower-case letters, digits and hyphens, starting with a letter)",
            )
    bq = model.bigquery
    for key in ("dataset", "backup_dataset", "dead_letter_dataset"):
        value = getattr(bq, key)
        if not DATASET_NAME.match(value):
            d.error(
                model.locs.get(f"bigquery.{key}", Loc("sources.yaml", 1, 1)),
                rules.IDENTIFIER_INVALID,
                f"bigquery.{key} `{value}` is not a dataset name (letters, digits and underscores)",
            )


@check
def sources_unique(model: Model, d: Diagnostics) -> None:
    first: dict[str, Loc] = {}
    routes: dict[tuple[str, ...], tuple[str, Loc]] = {}
    for s in sorted(model.sources, key=lambda s: s.loc):
        if not SOURCE_NAME.match(s.name):
            d.error(
                s.locs.get("name", s.loc),
                rules.IDENTIFIER_INVALID,
                f"source name `{s.name}` must be lower-case letters, digits and `_`, starting with a letter, "
                "at most 40 characters",
            )
        if s.name in first:
            d.error(
                s.locs.get("name", s.loc),
                rules.SOURCE_DUPLICATE_NAME,
                f"source `{s.name}` is already defined at line {first[s.name].line}; rename one of them",
            )
        else:
            first[s.name] = s.loc
        keys = [(k.key, s.locs.get(k.loc_key, s.loc), k.label) for k in KINDS[s.kind].route_keys(s)]
        for key, loc, label in keys:
            if key in routes:
                other, other_loc = routes[key]
                d.error(
                    loc,
                    rules.ROUTE_DUPLICATE,
                    f"{label} is already taken by source `{other}` (line {other_loc.line}); give each source "
                    "its own route",
                )
            else:
                routes[key] = (s.name, loc)


@check
def source_values(model: Model, d: Diagnostics) -> None:
    for s in model.sources:
        KINDS[s.kind].check(s, d)


@check
def categories(model: Model, d: Diagnostics) -> None:
    names = {c.name for c in model.categories}
    for c in model.categories:
        if not re.match(r"^[a-z][a-z0-9_]{0,62}\Z", c.name):
            d.error(
                c.loc,
                rules.IDENTIFIER_INVALID,
                f"category `{c.name}` must be lower-case letters, digits and `_`, starting with a letter",
            )
        if c.parent is not None and c.parent not in names:
            d.error(
                c.loc,
                rules.CATEGORY_CYCLE,
                f"category `{c.name}` has parent `{c.parent}`, which is not a category"
                f"{did_you_mean(c.parent, names - {c.name}, end=' ') or '; '}known: {', '.join(sorted(names))}",
            )
        seen = {c.name}
        p = c.parent
        while p in names:
            if p in seen:
                d.error(c.loc, rules.CATEGORY_CYCLE, f"category `{c.name}` is its own ancestor; break the cycle")
                break
            seen.add(p)
            parent = model.category(p)  # found: p is in names
            p = parent.parent if parent is not None else None
        for who in c.readers + c.masked_readers:
            if not IAM_MEMBER.match(who):
                d.error(
                    c.loc,
                    rules.IAM_MEMBER_INVALID,
                    f"category `{c.name}` lists reader `{who}`, which is not an IAM member; write it as "
                    "user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:DOMAIN",
                )
        if c.masked_readers and not c.masking:
            d.error(
                c.loc,
                rules.YAML_MISSING_KEY,
                f"category `{c.name}` has masked_readers but no `masking` rule; add one (e.g. SHA256)",
            )


# -- tables and columns ------------------------------------------------------------------------------


@check
def tables_unique(model: Model, d: Diagnostics) -> None:
    seen: dict[tuple[str, str], Table] = {}
    for t in model.tables:
        key = (t.dataset.lower(), t.name.lower())
        if key in seen:
            other = seen[key]
            d.error(
                t.option_at("name"),
                rules.TABLE_DUPLICATE_NAME,
                f"`{t.message}` maps to table `{t.dataset}.{t.name}`, already used by `{other.message}` "
                f"({other.loc}); set a different `name` in its (datahem.table) option",
            )
        else:
            seen[key] = t
        if not TABLE_NAME.match(t.name):
            d.error(
                t.option_at("name"),
                rules.IDENTIFIER_INVALID,
                f"table name `{t.name}` must be letters, digits and `_`, not starting with a digit",
            )
        if not DATASET_NAME.match(t.dataset) and t.dataset != model.bigquery.dataset:  # that one: at bigquery.dataset
            d.error(
                t.option_at("dataset"), rules.IDENTIFIER_INVALID, f"dataset `{t.dataset}` must be letters, digits, `_`"
            )
        if len(t.description) > MAX_DESCRIPTION:
            d.error(
                t.loc,
                rules.DESCRIPTION_TOO_LONG,
                f"table description is {len(t.description)} characters; BigQuery allows {MAX_DESCRIPTION}",
            )
        _labels(t, d)


def _labels(t: Table, d: Diagnostics) -> None:
    for k, v in t.labels:
        if not LABEL_KEY.match(k) or not LABEL_VALUE.match(v):
            d.error(
                t.option_at("labels"),
                rules.LABEL_INVALID,
                f"label `{k}: {v}` must be lower-case letters, digits, `_` or `-`, at most 63 characters "
                "(keys start with a letter)",
            )
        elif k in platform.RESERVED_LABELS or k.startswith(platform.RESERVED_LABEL_PREFIXES):
            d.error(
                t.option_at("labels"),
                rules.LABEL_RESERVED,
                f"label key `{k}` of table `{t.name}` is one DataHem or Google writes "
                f"({', '.join(platform.RESERVED_LABELS)}, or starting with "
                f"{' or '.join(platform.RESERVED_LABEL_PREFIXES)}): rename it",
            )
    room = platform.MAX_LABELS - len(platform.TABLE_LABELS_ADDED)
    if len(t.labels) > room:
        d.error(
            t.option_at("labels"),
            rules.TOO_MANY_LABELS,
            f"table `{t.name}` has {len(t.labels)} labels; with the {len(platform.TABLE_LABELS_ADDED)} DataHem adds "
            f"({', '.join(platform.TABLE_LABELS_ADDED)}) that is over BigQuery's {platform.MAX_LABELS}: keep at "
            f"most {room}",
        )


@check
def column_names(model: Model, d: Diagnostics) -> None:
    done: set[int] = set()
    for t in model.tables:
        _names(t.columns, d, top=True, done=done)


def _names(columns: tuple[Column, ...], d: Diagnostics, top: bool, done: set[int]) -> None:
    """`done`: the identities of the nested column tuples checked already (the resolver shares a message type's
    columns wherever it appears; what they are told depends on them alone, and would only be repeated)."""
    if not top:
        if id(columns) in done:
            return
        done.add(id(columns))
    seen: dict[str, Column] = {}
    if top:
        seen = {c.name.lower(): c for c in METADATA_COLUMNS}
    for c in columns:
        if c.hidden:
            continue
        where = c.option_at("name") if c.name != c.field_name else c.loc
        if not COLUMN_NAME.match(c.name):
            d.error(
                where,
                rules.IDENTIFIER_INVALID,
                f"column name `{c.name}` must be letters, digits and `_`, not starting with a digit, at most "
                "300 characters; set a legal `name` in its (datahem.column) option",
            )
        elif c.name.upper().startswith(RESERVED_PREFIXES):
            d.error(
                where,
                rules.IDENTIFIER_RESERVED,
                f"column name `{c.name}` uses a prefix BigQuery reserves ({', '.join(RESERVED_PREFIXES)}); "
                "rename it with the `name` option",
            )
        elif top and c.name.startswith("_") and c.name.lower() not in METADATA_NAMES:
            d.error(
                where,
                rules.IDENTIFIER_RESERVED,
                f"top-level column `{c.name}` starts with `_`, which DataHem reserves for metadata columns; "
                "rename it with the `name` option",
            )
        key = c.name.lower()
        if key in seen:
            other = seen[key]
            what = (
                "DataHem's metadata column"
                if other.proto_type == "metadata"
                else f"field `{other.field_name}` ({other.loc})"
            )
            d.error(
                where,
                rules.COLUMN_DUPLICATE,
                f"column `{c.name}` (field `{c.field_name}`) collides with {what} "
                "(BigQuery column names are case-insensitive); rename one with the `name` option",
            )
        else:
            seen[key] = c
        if len(c.description) > MAX_DESCRIPTION:
            d.error(
                c.loc,
                rules.DESCRIPTION_TOO_LONG,
                f"description of `{c.field_name}` is {len(c.description)} characters; BigQuery allows "
                f"{MAX_DESCRIPTION}: shorten the comment or set a shorter `description` option",
            )
        if c.fields:
            _names(c.fields, d, top=False, done=done)


@check
def json_names(model: Model, d: Diagnostics) -> None:
    """A converter reads a field under its JSON name or its proto name: `foo_bar` and `fooBar` (which protoc accepts
    in proto2) would read the same key. Hidden fields count: they are read too. A message type's columns, shared
    wherever it appears, are checked once (`done`: their identities)."""
    done: set[int] = set()

    def visit(columns: tuple[Column, ...]) -> None:
        if id(columns) in done:
            return
        done.add(id(columns))
        seen: dict[str, Column] = {}
        for c in columns:
            for key in dict.fromkeys((c.json_name, c.field_name)):
                other = seen.setdefault(key, c)
                if other is not c:
                    d.error(
                        c.loc,
                        rules.JSON_NAME_DUPLICATE,
                        f"field `{c.field_name}` is read from JSON key `{key}`, which is also a name of field "
                        f"`{other.field_name}` ({other.loc}); rename one of them, or give it another `json_name`",
                    )
            if c.fields and not c.recursion_cut:
                visit(c.fields)

    for t in model.tables:
        visit(t.columns)


@check
def empty_structs(model: Model, d: Diagnostics) -> None:
    def visit(columns: tuple[Column, ...], parent: Column | None) -> None:
        for c in columns:
            if c.hidden:
                continue
            if c.bq_type == "STRUCT" and not any(not f.hidden for f in c.fields):
                owner = parent if parent is not None and parent.is_map else c
                d.error(
                    owner.loc,
                    rules.STRUCT_WITHOUT_COLUMNS,
                    f"field `{owner.field_name}` is a message ({c.type_name}) without visible fields, and BigQuery "
                    "has no empty STRUCT: hide the field, or give the message a field that is not hidden",
                )
            visit(c.fields, c)

    for t in model.tables:
        visit(t.columns, None)


@check
def clustering_partitioning(model: Model, d: Diagnostics) -> None:
    for t in model.tables:
        top = {c.name: c for c in t.bq_columns}
        if len(t.clustering) > 4:
            d.error(
                t.option_at("clustering"),
                rules.CLUSTERING_INVALID,
                f"table `{t.name}` clusters by {len(t.clustering)} columns; BigQuery allows 4",
            )
        for name in t.clustering:
            c = top.get(name)
            if c is None:
                why = "; nested columns cannot be clustered; " if "." in name else did_you_mean(name, top, end=" ")
                d.error(
                    t.option_at("clustering"),
                    rules.CLUSTERING_INVALID,
                    f"clustering column `{name}` is not a top-level column of `{t.name}`{why or '; '}top-level "
                    f"columns: {', '.join(sorted(top))}",
                )
            elif c.repeated or c.bq_type not in typemap.CLUSTERABLE:
                d.error(
                    t.option_at("clustering"),
                    rules.CLUSTERING_INVALID,
                    f"clustering column `{name}` is {'REPEATED ' if c.repeated else ''}{c.bq_type}; BigQuery "
                    f"clusters only single values of {', '.join(sorted(typemap.CLUSTERABLE))}",
                )
        p = t.partitioning
        if p.column is not None:
            c = top.get(p.column)
            if c is None:
                d.error(
                    p.loc,
                    rules.PARTITION_FIELD_INVALID,
                    f"partition field `{p.column}` is not a top-level column of `{t.name}`"
                    + did_you_mean(p.column, [n for n, c in top.items() if c.bq_type in typemap.PARTITIONABLE]),
                )
            elif c.repeated or c.bq_type not in typemap.PARTITIONABLE:
                d.error(
                    p.loc,
                    rules.PARTITION_FIELD_INVALID,
                    f"partition field `{p.column}` is {c.mode} {c.bq_type}; it must be a single TIMESTAMP, DATE "
                    "or DATETIME (or leave `field` empty to partition by ingestion time)",
                )
            elif c.bq_type == "DATE" and p.granularity == "HOUR":
                d.error(
                    p.loc,
                    rules.PARTITION_FIELD_INVALID,
                    f"partition field `{p.column}` is a DATE, which cannot be partitioned by HOUR",
                )


# -- field options ---------------------------------------------------------------------------------
# Each option checks itself (datahem.compiler.options); this runs them over every visible column.


@check
def column_options(model: Model, d: Diagnostics) -> None:
    names = {c.name for c in model.categories}
    # The identities of the columns without transforms checked already: their options are attributes of the column
    # (options/column.py), whose checks look at nothing of its table, and the resolver shares a message type's columns
    # among the tables that reach it, so checking one again would only repeat what was told of it.
    done: set[int] = set()
    for t in model.tables:
        kinds = {s.kind for s in model.sources_of(t.message)}
        carried = frozenset(CONTRACT_ATTRIBUTES).union(*(attributes_of(kind) for kind in kinds))
        where = options.Where(t, names, _field_paths(t.columns), carried)
        for c, _ in walk(t.columns):
            if not c.transforms.values:
                if id(c) in done:
                    continue
                done.add(id(c))
            options.check(c, where, d)
        for c in t.columns:
            if c.hidden and c.category and c.category not in names:
                unknown_category(c, names, d)


def _field_paths(columns: tuple[Column, ...], prefix: str = "") -> dict[str, Column]:
    out = {}
    for c in columns:
        out[prefix + c.field_name] = c
        if c.fields and not c.repeated:
            out.update(_field_paths(c.fields, prefix + c.field_name + "."))
    return out
