"""The IAM vocabulary of platform.json that the source kinds and the infra emitter share: service-account ids,
the roles granted, and the shape of an account entry."""

from __future__ import annotations

import hashlib
from typing import Any


def dataflow_worker(job: str) -> tuple[dict[str, Any], ...]:
    """What every Dataflow worker needs besides its pipeline's own resources: run as a Dataflow worker (project-wide
    by nature), read the template spec and descriptor set, pull the pipeline image, and write its temporary and
    staging files under its own job's prefix of the Dataflow bucket (an IAM condition: no job reads another's)."""
    return (
        {"role": "roles/dataflow.worker", "project": "self"},
        {"role": "roles/storage.objectViewer", "bucket": "registry"},
        {"role": "roles/storage.objectAdmin", "bucket": "dataflow", "prefix": f"{job}/"},
        {"role": "roles/artifactregistry.reader", "repository": "images"},
    )


PUBLISHER = "roles/pubsub.publisher"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
# Writes rows, reads none, deletes nothing: what a pipeline needs on the tables that hold every source's raw payloads
# (backup, dead letters), so no pipeline account can read another source's payloads or drop the table. A project
# custom role (`custom:<id>` in platform.json; the stacks create it from CUSTOM_ROLES).
ROW_WRITER = "custom:datahemRowWriter"
CUSTOM_ROLES = (
    {
        "id": "datahemRowWriter",
        "title": "DataHem row writer",
        "description": "Streams rows into a table (insertAll); cannot read or delete them.",
        "permissions": ["bigquery.tables.get", "bigquery.tables.updateData"],
    },
)
COLLECTOR_MAX_INSTANCES = 20


def account_id(kind: str, name: str = "") -> str:
    """A service account id (6-30 characters: lower-case letters, digits, `-`): `dh-<kind>-<name>`, shortened with
    a hash suffix when too long so distinct names never share an account."""
    base = "-".join(p for p in ("dh", kind, name.replace("_", "-")) if p)
    if len(base) <= 30:
        return base
    return f"{base[:23].rstrip('-')}-{hashlib.sha256(base.encode()).hexdigest()[:6]}"


def grants(*grants: dict[str, Any]) -> list[dict[str, Any]]:
    """Grants without duplicates, in a stable order."""
    unique = {tuple(sorted(g.items())) for g in grants}
    return [dict(g) for g in sorted(unique, key=lambda g: (dict(g)["role"], g))]


def account(sa_id: str, display: str, description: str, granted: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": sa_id, "display_name": display, "description": description, "grants": grants(*granted)}
