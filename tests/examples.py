"""The example events of a project (default: the tests' example project, tests/fixtures/grocer), through the one strict loader
datahem/compiler/loader/examples.py that `datahem test` and `datahem dev --send-examples` use too."""

from __future__ import annotations

from pathlib import Path

from datahem.compiler.loader import examples as _loader
from datahem.compiler.loader.examples import STAGES, Example

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "grocer"  # tests.conftest.EXAMPLE


def load_examples(root: Path = EXAMPLE) -> list[Example]:
    return _loader.load_examples(root)


__all__ = ["STAGES", "Example", "load_examples"]
