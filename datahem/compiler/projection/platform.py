"""The parts of `infra/platform.json` that are compared between builds: the data categories (each deployed as a
policy tag with its readers), parents before children."""

from __future__ import annotations

from typing import Any

from datahem.compiler.model.resolved import Category, Model


def _depth(model: Model, c: Category) -> int:
    depth, parent = 0, c.parent
    while parent is not None:
        found = model.category(parent)
        depth, parent = depth + 1, found.parent if found else None
    return depth


def categories(model: Model) -> list[dict[str, Any]]:
    ordered = sorted(model.categories, key=lambda c: (_depth(model, c), c.name))  # parents before children
    return [
        {
            "name": c.name,
            "description": c.description,
            "parent": c.parent,
            "masking": c.masking,
            "readers": sorted(c.readers),
            "masked_readers": sorted(c.masked_readers),
        }
        for c in ordered
    ]
