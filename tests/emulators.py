"""The local stand-ins tests use. The code lives in datahem/dev/emulators.py (shared with `datahem dev`); this name
is an alias of that very module, not a copy, so a test that monkeypatches `tests.emulators.X` changes what the
start-up code reads."""

import sys

from datahem.dev import emulators

sys.modules[__name__] = emulators
