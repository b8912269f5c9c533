"""The interface of a source kind: everything the compiler and `datahem dev` need to know about one way events
reach DataHem (an HTTP route, an SNS subscription, a Kinesis stream), in one frozen record of data and functions.

A kind's module builds one `SourceKind`; `datahem.compiler.sources.KINDS` registers it. The rest of the compiler
looks kinds up by name and never tests for one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.loader.yaml_strict import REQUIRED
from datahem.compiler.model.resolved import Source
from datahem.runtime.contracts.routing import Route


class RawKey(NamedTuple):
    """One key a source of this kind may have in sources.yaml (bound strictly; see `datahem.compiler.model.raw`).
    A NamedTuple, not a dataclass: its `default` may be REQUIRED (dataclasses.MISSING)."""

    name: str
    type: Any
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class RouteKey:
    """What must be unique across all sources (e.g. an HTTP path and method), where it is and how to name it."""

    key: tuple[str, ...]
    loc_key: str  # the sources.yaml key the diagnostic points at
    label: str


@dataclass(frozen=True)
class Secret:
    """A Secret Manager secret a source reads (its id, never its value)."""

    id: str
    loc_key: str  # the sources.yaml key the diagnostic points at
    label: str  # how the diagnostic names the key, e.g. auth.secret_env
    purpose: str
    kms: bool = False


@dataclass(frozen=True)
class Reader:
    """A Dataflow job that reads a source's external stream into its topic (a generated pipeline and a template)."""

    module: str  # generated/pipelines/<module>.py and pipelines/templates/<module>.json
    template: str  # the Jinja2 template of the module
    context: dict[str, Any]  # what the template reads
    job: str  # the Dataflow job name
    description: str
    parameters: tuple[str, ...]  # flex-template parameters, each documented by `help`
    help: str


@dataclass(frozen=True)
class PlatformPart:
    """What a kind adds to platform.json: service accounts, a collector (keyed by kind), Dataflow jobs and the
    ingestion settings of import topics (keyed by topic)."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    collectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    ingestion: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class DevWiring:
    """What `datahem dev` starts for this kind: a collector run by `datahem serve <kind>`, and/or a reader module run
    with `--routing-dir` on the DirectRunner when a source of this kind exists."""

    serve: bool = False
    reader_module: str | None = None


def _none(_source: Source) -> list[Any]:
    return []


def _not_imported(_source: Source) -> bool:
    return False


@dataclass(frozen=True)
class SourceKind:
    name: str  # the `kind:` value in sources.yaml
    label: str  # how messages name it, e.g. HTTP
    raw_keys: tuple[RawKey, ...]
    # the raw source (a RawSource) and its source name, message type and topic -> the routing entry
    resolve: Callable[[Any, str, str, str], Route]
    route_keys: Callable[[Source], list[RouteKey]]
    check: Callable[[Source, Diagnostics], None]
    routing_file: str  # generated/routing/<routing_file>
    routing_table: Callable[[list[Any], str], dict[str, Any]]  # the entries of every source and the header comment
    # readable keys of one route (`POST /collect`, `sns route orders`): evolution reports the keys a source loses
    change_keys: Callable[[Any], set[str]]
    # the same keys read back from this kind's routing table (parsed JSON) of an earlier build: source -> keys
    read_change_keys: Callable[[dict[str, Any]], dict[str, set[str]]]
    platform: Callable[[list[Source]], PlatformPart]  # called with the sources of this kind, when there are any
    secrets: Callable[[Source], list[Secret]] = _none
    readers: Callable[[Source], list[Reader]] = _none
    # whether a Pub/Sub import topic, not a collector, publishes the source's events (the pipeline then derives the
    # contract's attributes from Pub/Sub's own: `datahem.runtime.beam.pipeline.imported_attributes`)
    imported: Callable[[Source], bool] = _not_imported
    dev: DevWiring = DevWiring()
