"""Plain-Python helpers of the stacks (no cdktf import, so they are cheap to test): reading platform.json, Terraform
resource addresses, escaping free text for Terraform, and the table schema string with policy-tag references.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from datahem.runtime.contracts.platform import FORMAT  # the platform.json format the compiler writes

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def load(path: Path) -> dict:
    """Read platform.json, refusing a format this library does not know (a stale generated/ or library)."""
    platform = json.loads(path.read_text(encoding="utf-8"))
    if platform.get("format") != FORMAT:
        raise ValueError(
            f"{path} has format {platform.get('format')!r}, this library reads {FORMAT}; run `datahem build`"
        )
    return platform


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


def table_schema(fields: list[dict], prefix: str, tag_name: Callable[[str], str]) -> str:
    """The `schema` argument of a BigQuery table: the `fields` of the BigQuery emitter's schema JSON, serialized the
    same way (indent 2, sorted keys), with every policy-tag placeholder replaced by `tag_name(category)` (a reference
    to that category's policy tag) and every other string escaped for Terraform.
    """

    def walk(field: dict) -> dict:
        out: dict = {}
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


def member(email: str) -> str:
    return f"serviceAccount:{email}"
