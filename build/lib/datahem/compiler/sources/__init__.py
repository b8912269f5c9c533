"""Source kinds as plugins: one module per kind (`http`, `sns`, `kinesis`), each building a `SourceKind`
(`base.py`), registered in KINDS. Adding a kind is a module here, one line below, its routing contract in
`datahem.runtime.contracts.routing`, docs and tests."""

from __future__ import annotations

from datahem.compiler.sources import http, kinesis, sns
from datahem.compiler.sources.base import SourceKind

KINDS: dict[str, SourceKind] = {k.name: k for k in (http.KIND, sns.KIND, kinesis.KIND)}


def kind(name: str) -> SourceKind:
    return KINDS[name]
