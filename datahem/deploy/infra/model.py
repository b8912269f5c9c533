"""Plain-Python helpers of the stacks (no cdktf import, so they are cheap to test): reading platform.json, Terraform
resource addresses, escaping free text for Terraform, and the table schema string with policy-tag references.
"""

from __future__ import annotations

import json
from pathlib import Path

# FORMAT: the platform.json format the compiler writes; the others (resource names, the table schema string) are
# shared with the compiler, which patches stacks with them
from datahem.runtime.contracts.platform import FORMAT, category_of, logical_id, table_schema, tf_literal

__all__ = ["FORMAT", "category_of", "load", "logical_id", "member", "table_schema", "tf_literal"]


def load(path: Path) -> dict:
    """Read platform.json, refusing a format this library does not know (a stale generated/ or library)."""
    platform = json.loads(path.read_text(encoding="utf-8"))
    if platform.get("format") != FORMAT:
        raise ValueError(
            f"{path} has format {platform.get('format')!r}, this library reads {FORMAT}; run `datahem build`"
        )
    return platform


def member(email: str) -> str:
    return f"serviceAccount:{email}"
