"""The schema registry: the descriptor set (with imports and source info) exactly as protoc wrote it, and an
index of message types (file, fingerprint, table and its options, topic, sources) that later builds compare against
(`datahem/compiler/evolution`). The registry's history of migrations, `registry/history.json`, is written by the migrations
emitter."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header_text, to_json
from datahem.compiler.model.resolved import Model, Table


def table_options(t: Table) -> dict:
    """The table settings evolution compares (partitioning replaces a table; the rest is updated in place)."""
    p = t.partitioning
    return {
        "partitioning": {
            "type": p.granularity,
            "field": p.column,
            "expiration_days": p.expiration_days,
            "require_filter": p.require_filter,
        },
        "clustering": list(t.clustering),
        "description": t.description,
        "labels": dict(t.labels),
    }


def emit(model: Model) -> list[OutputFile]:
    messages = {}
    for t in model.tables:
        messages[t.message] = {
            "file": f"schemas/{t.proto_file}",
            "fingerprint": t.fingerprint,
            "table": f"{t.dataset}.{t.name}",
            "topic": t.topic,
            "sources": [s.name for s in model.sources_of(t.message)],
            "options": table_options(t),
        }
    files = [f"schemas/{f}" for f in model.proto_files]
    index = {
        "comment": header_text(model.provenance),
        "descriptor_set": "descriptor_set.binpb",
        "files": files,
        "messages": messages,
    }
    return [
        OutputFile("registry/descriptor_set.binpb", model.descriptor_set),
        OutputFile("registry/index.json", to_json(index)),
    ]
