"""Routing tables for the collectors (serialized JSON, loaded at collector start-up), one per source kind, written
through the typed entries of `datahem.runtime.contracts.routing`: http.json (path → methods, source, topic, format,
auth, CORS, limits), sns.json (route value → allowed topic ARNs, source, topic) and kinesis.json (stream ARN →
source, topic). No secret values: only the names of the environment variables that hold them."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header_text, to_json
from datahem.compiler.model.resolved import Model
from datahem.compiler.sources import KINDS


def emit(model: Model) -> list[OutputFile]:
    comment = header_text(["sources.yaml"])
    return [
        OutputFile(
            f"routing/{kind.routing_file}",
            to_json(kind.routing_table([s.route for s in model.sources if s.kind == name], comment)),
        )
        for name, kind in KINDS.items()
    ]
