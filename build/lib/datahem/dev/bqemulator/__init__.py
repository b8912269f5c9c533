"""Local BigQuery API emulator (bqemulator) for tests and development; runs in its own venv, `.venv-bq/`.

Nothing here is imported by deployed code: the package only holds the launcher that `tests/emulators.py` and
developers start with `.venv-bq/bin/python -m datahem.dev.bqemulator.launch`.
"""
