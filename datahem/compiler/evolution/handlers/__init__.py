"""One handler per compatibility rule, registered with its rule id (`datahem/compiler/evolution/registry.py`)."""
