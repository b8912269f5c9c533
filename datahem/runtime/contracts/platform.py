"""The contract of generated/infra/platform.json between the compiler (which writes it) and the deploy library."""

from __future__ import annotations

# platform.json format: the compiler writes it, datahem/deploy/infra/model.py refuses any other
FORMAT = 1
