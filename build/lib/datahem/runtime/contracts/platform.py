"""The contract of generated/infra/platform.json between the compiler (which writes it) and the deploy library."""

from __future__ import annotations

# platform.json format. datahem/deploy/infra/model.py checks the same number; it keeps its own literal because the
# compiler fingerprints that library's files as they are (changing its imports would change generated/infra/synth.json).
FORMAT = 1
