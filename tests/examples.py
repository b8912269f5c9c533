"""The example events of a project (default: the repository's example project), through the one strict loader
datahem/compiler/loader/examples.py that `datahem test` and `datahem dev --send-examples` use too."""

from __future__ import annotations

from pathlib import Path

from datahem.compiler.loader import examples as _loader
from datahem.compiler.loader.examples import STAGES, Example

ROOT = Path(__file__).resolve().parents[1]


def load_examples(root: Path = ROOT) -> list[Example]:
    return _loader.load_examples(root)


__all__ = ["STAGES", "Example", "load_examples"]
