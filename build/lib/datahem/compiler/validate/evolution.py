"""Safe evolution: the project compared with the baseline, the previous build in generated/ (committed, so what was
reviewed and deployed). Every difference is classified by a compatibility rule (`datahem rules`); breaking changes
are build errors at the proto line, unless the message moved to a new major version (a new table) or sources.yaml
accepts the break (`accepted_breaks`). The comparison itself lives in `datahem/compiler/evolution/`.

What still makes Terraform replace a table, and so stays TABLE_WOULD_BE_REPLACED: a new table id or dataset, and a
changed `time_partitioning` (column or granularity). Column changes no longer do: the stacks create each table with
its schema and then ignore `schema` (`lifecycle.ignore_changes`), and the migrations under
generated/bigquery/migrations/ change existing tables without losing data (`datahem migrate`).
"""

from __future__ import annotations

from dataclasses import replace

from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.evolution.migrations import Accepted, evolve
from datahem.compiler.model.raw import RawConfig
from datahem.compiler.model.resolved import Model


def accepted_breaks(raw: RawConfig) -> list[Accepted]:
    return [Accepted(a.rule, a.target, a.reason, a.locs.get("target", a.loc)) for a in (raw.accepted_breaks or [])]


def sources_loc(raw: RawConfig) -> Loc:
    return raw.locs.get("sources", Loc("sources.yaml", 1, 1))


def check_evolution(model: Model, raw: RawConfig, baseline: dict[str, bytes], d: Diagnostics) -> Model:
    """Compare with `baseline` (a generated/ tree), report what breaks into `d`, and return the model carrying its
    evolution for the migrations emitter."""
    evolution = evolve(model, baseline, accepted_breaks(raw), sources_loc(raw), d)
    return replace(model, evolution=evolution)
