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


def readers(categories: dict[str, dict[str, Any]], name: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """(clear readers, masked readers) of a column of category `name`, from `categories` (name → entry as above):
    the readers of the category and of its ancestors read clear values (policy-tag IAM is inherited down the
    taxonomy); the category's masked readers read masked values when it has a masking rule (those who also read
    clear values read clear)."""
    clear: set[str] = set()
    seen: set[str] = set()
    current = name
    while current and current in categories and current not in seen:
        seen.add(current)
        clear |= set(categories[current].get("readers") or ())
        current = categories[current].get("parent")
    entry = categories.get(name or "") or {}
    masked = set(entry.get("masked_readers") or ()) if entry.get("masking") else set()
    return frozenset(clear), frozenset(masked - clear)
