"""The contract of generated/infra/platform.json between the compiler (which writes it) and the deploy library."""

from __future__ import annotations

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
