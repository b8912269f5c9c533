"""Migrations: `registry/history.json` (the registry's history of migrations, accepted breaks and retired tables) and
the migration files under `bigquery/migrations/`, from the model's evolution (`datahem/compiler/evolution/migrations.py`).

Files of earlier builds are carried over byte for byte; only this build's migration, if any, is rendered here."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header, header_text, to_json
from datahem.compiler.evolution.migrations import Evolution
from datahem.compiler.evolution.snapshot import HISTORY
from datahem.compiler.model.resolved import Model


def emit(model: Model) -> list[OutputFile]:
    evolution = model.evolution if isinstance(model.evolution, Evolution) else None
    history = evolution.history if evolution else {"format": 1, "migrations": [], "retired_tables": []}
    sources = model.provenance
    out = [OutputFile(HISTORY, to_json({"comment": header_text(sources), **history}))]
    if evolution is None:
        return out
    out += [OutputFile(path, data) for path, data in evolution.carried]
    table_sources = dict(evolution.new_tables)
    for path, content in evolution.new_files:
        src = list(table_sources.get(path, ("sources.yaml",)))
        if isinstance(content, dict):
            out.append(OutputFile(path, to_json({"comment": header_text(src), **content})))
        else:
            out.append(OutputFile(path, (header("sql", src) + "\n" + content).encode()))
    return out
