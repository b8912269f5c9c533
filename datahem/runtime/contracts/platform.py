"""The contract of generated/infra/platform.json between the compiler (which writes it) and the deploy library: its
format, the labels DataHem reserves, and how the stacks name resources and write a table's schema (the deploy
library builds its stacks with these; the compiler patches the previous stacks with them when only table schemas
changed, see datahem/compiler/emitters/infra.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# platform.json format: the compiler writes it, datahem/deploy/infra/model.py refuses any other
FORMAT = 1

# Labels DataHem writes itself. Every table gets the provider's default labels (the deploy stacks), the migration
# ledger (`datahem migrate`) and the google provider's attribution label (`goog-terraform-provisioned`, on by
# default since provider 6); Dataflow jobs get the pipeline label. A table's own labels must leave room for these
# within BigQuery's 64, and none may use their keys: Terraform would overwrite migrate's ledger, or the reverse.
MANAGED_BY_LABEL = "managed_by"
PROJECT_LABEL = "datahem_project"
MIGRATION_LABEL = "datahem_migration"
ATTRIBUTION_LABEL = "goog-terraform-provisioned"
PIPELINE_LABEL = "datahem-pipeline"
TABLE_LABELS_ADDED = (MANAGED_BY_LABEL, PROJECT_LABEL, MIGRATION_LABEL, ATTRIBUTION_LABEL)
RESERVED_LABELS = (*TABLE_LABELS_ADDED, PIPELINE_LABEL)
RESERVED_LABEL_PREFIXES = ("goog-", "datahem")  # Google's own labels, and any key DataHem may add later
MAX_LABELS = 64  # BigQuery's limit per table

# Names the deploy stacks derive from platform.json, computed here so the compiler checks the very names the stacks
# create (datahem.compiler.validate.infra) and a bad one is a diagnostic at its sources.yaml line, not a failed apply.
BUCKETS = ("registry", "dataflow")


def taxonomy_display_name(project: str) -> str:
    """The Data Catalog taxonomy holding the project's categories as policy tags."""
    return f"DataHem {project}"


def data_policy_id(project: str, category: str) -> str:
    """The BigQuery data policy that masks a category's columns."""
    return f"{project.replace('-', '_')}_{category}"


def bucket_name(gcp_project: str, purpose: str) -> str:
    """A Cloud Storage bucket of an environment (`registry`, `dataflow`)."""
    return f"{gcp_project}-datahem-{purpose}"


_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def logical_id(kind: str, name: str) -> str:
    """The Terraform resource name of a resource: `<kind>_<name>`, with every character Terraform does not allow in
    names (dots in topic names, for instance) turned into `-`.

    Addresses are derived from names only (never from positions or construct paths), so adding a table or a source
    never renames the address of another resource: Terraform would destroy and re-create it.
    """
    return f"{kind}_{_NOT_ID.sub('-', name)}"


def tf_literal(text: str) -> str:
    """Escape text for a Terraform string: `${` and `%{` would start an interpolation or a directive.

    Descriptions come from proto comments and sources.yaml, so `costs ${price}` must stay text.
    """
    return text.replace("${", "$${").replace("%{", "%%{")


def category_of(placeholder: str, prefix: str) -> str:
    """`datahem:category/pii_email` → `pii_email` (the BigQuery emitter's policy-tag placeholder)."""
    if not placeholder.startswith(prefix):
        raise ValueError(f"policy tag `{placeholder}` is not a DataHem category placeholder ({prefix}<name>)")
    return placeholder[len(prefix) :]


def table_schema(fields: list[dict[str, Any]], prefix: str, tag_name: Callable[[str], str]) -> str:
    """The `schema` argument of a BigQuery table: the `fields` of the BigQuery emitter's schema JSON, serialized the
    same way (indent 2, sorted keys), with every policy-tag placeholder replaced by `tag_name(category)` (a reference
    to that category's policy tag) and every other string escaped for Terraform.
    """

    def walk(field: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in field.items():
            if key == "fields":
                out[key] = [walk(f) for f in value]
            elif key == "policyTags":
                out[key] = {"names": [tag_name(category_of(n, prefix)) for n in value["names"]]}
            elif isinstance(value, str):
                out[key] = tf_literal(value)
            else:
                out[key] = value
        return out

    return json.dumps([walk(f) for f in fields], indent=2, sort_keys=True, ensure_ascii=False)
