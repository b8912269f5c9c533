"""The example events of the project's schemas. The loader lives in datahem/dev/examples.py (shared with
`datahem dev --send-examples`); this name is an alias of that very module, not a copy."""

import sys

from datahem.dev import examples

sys.modules[__name__] = examples
