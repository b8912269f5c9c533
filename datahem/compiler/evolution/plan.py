"""`datahem plan`: what a change does, as Markdown for a pull-request comment (or JSON for scripts).

Breaking changes and access (policy-tag, category) changes first, with the principals that gain or lose clear or
masked read access per column; then per table the columns added, changed and removed (a new table: all its columns);
the migrations this change adds; routes (keys added and removed, a new topic or message type); what happens to each
Dataflow job (and, for the per-environment streaming job, which branch makes it update or relaunch); the cost per
environment before and after (`costs.py`); and the Terraform resources added, changed and destroyed per environment, from the synthesized stacks
of the baseline and of this build. Warnings: accepted_breaks entries that match no change, a branch that adds more
than one migration since its baseline (with the command that squashes them), a history that does not extend the
baseline's.

Who reads a column: its category's `readers` and those of its ancestors read clear values (policy-tag IAM is
inherited down the taxonomy); its category's `masked_readers` read masked values when the category has a masking rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datahem.compiler import rules
from datahem.compiler.diagnostics import RULES
from datahem.compiler.evolution import costs
from datahem.compiler.evolution.changes import Change
from datahem.compiler.evolution.migrations import Accepted, unmatched
from datahem.compiler.evolution.snapshot import MIGRATIONS, STACKS, Snapshot, snapshot
from datahem.compiler.projection.columns import ColumnSchema
from datahem.compiler.projection.platform import readers
from datahem.compiler.projection.project import PLATFORM, Projection
from datahem.runtime.contracts.routing import converter_module

CONVERTERS = "pipelines/converters/"
NEW_TABLE = (rules.TABLE_ADDED, rules.MAJOR_VERSION_ADDED)


@dataclass
class Plan:
    baseline: str
    changes: list[Change]
    old: Snapshot
    new: Snapshot
    current: dict[str, bytes] | None  # what `datahem build` writes; None when it fails against generated/
    build_problem: str = ""
    infra: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    dataflow: list[dict[str, Any]] = field(default_factory=list)
    migrations: list[tuple[str, str]] = field(default_factory=list)
    history_note: str = ""
    stale: list[Accepted] = field(default_factory=list)  # accepted_breaks entries that match no change
    squash_note: str = ""
    cost: dict[str, Any] = field(default_factory=dict)  # evolution/costs.py: floor and 1 GiB/day, before and after

    @property
    def warnings(self) -> list[str]:
        out = [
            f"`accepted_breaks` entry `{a.rule}` `{a.target}` (`{a.loc.path}:{a.loc.line}`) matches no change since "
            f"`{self.baseline}`: remove it (its change is already in `{self.baseline}`, or the target is misspelled)."
            for a in self.stale
        ]
        return out + [n for n in (self.squash_note, self.history_note) if n]

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def blocking(self) -> list[Change]:
        return [c for c in self.changes if c.blocking]


def _resources(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for kind, items in (stack.get("resource") or {}).items():
        for name, body in items.items():
            out[f"{kind}.{name}"] = body
    return out


def _managed(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The arguments Terraform acts on: those the current configuration ignores (`lifecycle.ignore_changes`, the
    tables' schema) do not make a change."""
    ignored = set((current.get("lifecycle") or {}).get("ignore_changes") or [])
    return {k: v for k, v in body.items() if k not in ignored}


def infra_diff(old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, dict[str, list[str]]]:
    """Per stack: Terraform addresses added, changed (any argument differs) and destroyed; tables Terraform forgets
    (`removed` blocks) are listed as `forgotten`, not destroyed."""
    envs = sorted(
        {p.removeprefix(STACKS).split("/")[0] for p in (*old, *new) if p.startswith(STACKS) and p.endswith(".json")}
    )
    out = {}
    for env in envs:
        path = f"{STACKS}{env}/cdk.tf.json"
        a = json.loads(old[path]) if path in old else {}
        b = json.loads(new[path]) if path in new else {}
        ra, rb = _resources(a), _resources(b)
        forgotten = sorted(r["from"] for r in b.get("removed", []) if r["from"] in ra)
        out[env] = {
            "add": sorted(set(rb) - set(ra)),
            "change": sorted(k for k in set(ra) & set(rb) if _managed(ra[k], rb[k]) != _managed(rb[k], rb[k])),
            "destroy": sorted(set(ra) - set(rb) - set(forgotten)),
            "forget": forgotten,
        }
    return out


def converter(message: str) -> str:
    """The generated converter of a message (`emitters/converters.py` names them so)."""
    return f"{CONVERTERS}{converter_module(message)}.py"


def _code(files: dict[str, bytes], path: str) -> bytes | None:
    """A generated file without its `Generated by` header (which lists inputs, not behaviour)."""
    data = files.get(path)
    if data is None:
        return None
    return b"\n".join(line for line in data.split(b"\n") if not line.startswith(b"# Generated by datahem"))


def _branches(p: dict[str, Any], snap: Snapshot) -> dict[str, dict[str, Any]]:
    """A job's branches (source name or `backup` → what it reads and writes), also for jobs of a platform.json
    written before jobs listed them (one source's job, or the backup job)."""
    branches = p.get("branches")
    if isinstance(branches, dict):
        return {str(k): v for k, v in branches.items() if isinstance(v, dict)}
    if p.get("kind") == "backup":
        return {"backup": {"subscriptions": sorted(f"{m}.backup" for m in snap.projection.roots)}}
    if p.get("kind") == "source" and p.get("source"):
        sub = (p.get("parameters") or {}).get("subscription")
        return {p["source"]: {"subscription": sub.get("subscription") if isinstance(sub, dict) else sub}}
    return {}


def _owners(snap: Snapshot) -> dict[str, str]:
    """Branch → the job that runs it."""
    return {b: name for name, p in snap.pipelines.items() for b in _branches(p, snap)}


def _branch_needs(
    branch: str,
    a: dict[str, Any],
    b: dict[str, Any],
    old: Snapshot,
    new: Snapshot,
    fingerprints: dict[str, dict[str, Any]],
) -> tuple[str, str] | None:
    """What a branch in both builds needs: (action, why), or None."""
    if branch == "backup" and "subscriptions" in b:
        subs_old, subs_new = set(a.get("subscriptions") or ()), set(b["subscriptions"])
        if subs_old - subs_new:
            return "relaunch", "a message type is gone: its backup read step cannot be dropped by an update"
        if subs_new - subs_old:
            return "update", "new message types: new backup read steps"
        imp_old, imp_new = set(a.get("imported") or ()), set(b.get("imported") or ())
        if imp_old - imp_new:
            return "relaunch", "a topic is no longer an import topic: its backup attribute step cannot be dropped"
        if imp_new - imp_old:
            return "update", "an import topic's backup read gets a step that gives its messages DataHem's attributes"
        return None
    moved = [k for k in ("subscription", "table", "processed_topic") if k in a and k in b and a[k] != b[k]]
    if moved:
        return "relaunch", f"branch `{branch}`: its subscription, topic or table changed"
    if a.get("imported_from") and not b.get("imported_from"):
        return "relaunch", f"branch `{branch}` reads no import topic any more: its attribute step cannot be dropped"
    if b.get("imported_from") and not a.get("imported_from"):
        return "update", f"branch `{branch}` reads an import topic: a new step gives its messages DataHem's attributes"
    message = new.projection.source_messages.get(branch)
    old_message = old.projection.source_messages.get(branch)
    if not message or not old_message:
        return None
    path = converter(message)
    if _code(old.files, converter(old_message)) != _code(new.files, path) and path in new.files:
        return "update", f"its converter changed (`generated/{path}`)"
    if fingerprints["old"].get(old_message) != fingerprints["new"].get(message):
        return "update", (
            f"the descriptor of `{message}` changed (the converter is the same): the update ships the new "
            "descriptor set"
        )
    return None


def dataflow(old: Snapshot, new: Snapshot, changes: list[Change]) -> list[dict[str, Any]]:
    """What each Dataflow job needs. A job runs branches: one source's (per_source deployment), the backup, or
    every source's and the backup (the per-environment streaming job). A job whose parameters or template change, or
    one of whose branches changes its Pub/Sub input or output table, or loses a branch (a read step an update cannot
    drop), is drained and relaunched (Dataflow's update check refuses a changed source); a job that gains a branch
    (new steps), or whose converter (`generated/pipelines/converters/`) or message descriptor changes, is updated in
    place with `--update`, and since DataHem's pipelines name their steps the same for every schema, the transform
    name mapping is empty."""
    fingerprints = {}
    for snap, key in ((old, "old"), (new, "new")):
        index = json.loads(snap.files.get("registry/index.json", b"{}") or b"{}").get("messages", {})
        fingerprints[key] = {m: e.get("fingerprint") for m, e in index.items() if isinstance(e, dict)}
    old_owner, new_owner = _owners(old), _owners(new)
    jobs: list[dict[str, Any]] = []
    for name in sorted(set(old.pipelines) | set(new.pipelines)):
        a, b = old.pipelines.get(name), new.pipelines.get(name)
        job = {"job": name, "address": f"google_dataflow_flex_template_job.dataflow_job_{name}"}
        if a is None:
            taken = sorted({old_owner[br] for br in _branches(b or {}, new) if br in old_owner})
            why = "new pipeline" + (
                f": takes over the branches of {', '.join(f'`{j}`' for j in taken)}" if taken else ""
            )
            jobs.append({**job, "action": "launch", "why": why})
            continue
        if b is None:
            moved = sorted({new_owner[br] for br in _branches(a, old) if br in new_owner})
            imported = _imports(new).get(str(a.get("source"))) if a.get("kind") != "source" else None
            if moved:
                why = f"its branches moved to {', '.join(f'`{j}`' for j in moved)} (Terraform drains the job)"
            elif imported:
                why = f"topic `{imported[0]}` ingests {imported[1]} itself now (Terraform drains the reader)"
            else:
                why = "its source is gone (Terraform drains the job)"
            jobs.append({**job, "action": "drain", "why": why})
            continue
        if a.get("parameters") != b.get("parameters") or a.get("template") != b.get("template"):
            jobs.append(
                {**job, "action": "relaunch", "why": "its subscription, topic or table changed: drain, then launch"}
            )
            continue
        ba, bb = _branches(a, old), _branches(b, new)
        needs: list[tuple[str, str]] = [
            ("relaunch", f"branch `{br}` removed: its read step cannot be dropped by an update")
            for br in sorted(set(ba) - set(bb))
        ]
        needs += [("update", f"new branch `{br}`: new steps") for br in sorted(set(bb) - set(ba))]
        for br in sorted(set(ba) & set(bb)):
            need = _branch_needs(br, ba[br], bb[br], old, new, fingerprints)
            if need:
                needs.append(need)
        if not needs:
            continue
        relaunch = [why for action, why in needs if action == "relaunch"]
        if relaunch:
            jobs.append({**job, "action": "relaunch", "why": "; ".join(relaunch) + ": drain, then launch"})
        else:
            why = "; ".join(why for _, why in needs)
            jobs.append({**job, "action": "update", "why": why, "transform_name_mapping": {}})
    return jobs


def _targets(files: dict[str, bytes]) -> dict[str, set[tuple[str, str]]]:
    """Per source: the (message type, topic) its routes deliver to, from every `routing/*.json`."""
    out: dict[str, set[tuple[str, str]]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("source"), str) and "topic" in node:
                out.setdefault(node["source"], set()).add((str(node.get("message_type")), str(node["topic"])))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in sorted(p for p in files if p.startswith("routing/") and p.endswith(".json")):
        try:
            walk(json.loads(files[path]))
        except ValueError:
            continue
    return out


def _imports(snap: Snapshot) -> dict[str, tuple[str, str]]:
    """Per source fed by a Pub/Sub import topic (`via: pubsub_import`): (topic, the stream it ingests)."""
    try:
        topics = json.loads(snap.files.get(PLATFORM, b"{}") or b"{}").get("topics", [])
    except ValueError:
        return {}
    out = {}
    for t in topics if isinstance(topics, list) else []:
        for kind, settings in ((t.get("ingestion") or {}) if isinstance(t, dict) else {}).items():
            out[str(settings.get("source"))] = (str(t.get("topic")), f"{kind} `{settings.get('stream_arn')}`")
    return out


def route_changes(old: Snapshot, new: Snapshot) -> list[str]:
    """Route keys each source gains and loses, a new message type or topic its routes deliver to, and a topic that
    starts or stops ingesting its source's stream itself (an import topic instead of a reader job)."""
    lines = []
    a_imports, b_imports = _imports(old), _imports(new)
    for source in sorted(set(a_imports) | set(b_imports)):
        before, after = a_imports.get(source), b_imports.get(source)
        if after and before != after:
            lines.append(
                f"- `{source}`: topic `{after[0]}` now ingests {after[1]} itself (Pub/Sub import topic): no reader job"
            )
        elif before and not after:
            lines.append(
                f"- `{source}`: topic `{before[0]}` stops ingesting {before[1]} (no longer a Pub/Sub import topic)"
            )
    a_routes, b_routes = old.projection.routes, new.projection.routes
    a_targets, b_targets = _targets(old.files), _targets(new.files)
    for source in sorted(set(a_routes) | set(b_routes) | set(a_targets) | set(b_targets)):
        a, b = a_routes.get(source, set()), b_routes.get(source, set())
        lines += [f"- `{source}`: + `{r}`" for r in sorted(b - a)] + [f"- `{source}`: − `{r}`" for r in sorted(a - b)]
        ta, tb = a_targets.get(source, set()), b_targets.get(source, set())
        if ta and tb and ta != tb:
            was = ", ".join(f"`{m}` on topic `{t}`" for m, t in sorted(ta))
            now = ", ".join(f"`{m}` on topic `{t}`" for m, t in sorted(tb))
            lines.append(f"- `{source}`: its routes now deliver {now} (was {was})")
    return lines


def _flat(columns: tuple[ColumnSchema, ...], prefix: str = "") -> list[tuple[str, ColumnSchema]]:
    out = []
    for c in columns:
        out.append((prefix + c.name, c))
        out += _flat(c.fields, prefix + c.name + ".")
    return out


def access_changes(old: Projection, new: Projection) -> list[dict[str, Any]]:
    """Per column of a table in both builds: the principals that gain and lose clear or masked read access."""
    rows = []
    for ref in sorted(set(old.tables) & set(new.tables)):
        before = dict(_flat(old.tables[ref]))
        for path, col in _flat(new.tables[ref]):
            was = before.get(path)
            if was is None or (was.category is None and col.category is None):
                continue
            (oc, om), (nc, nm) = readers(old.categories, was.category), readers(new.categories, col.category)
            row = {
                "column": f"{ref}.{path}",
                "gains_clear": sorted(nc - oc),
                "loses_clear": sorted(oc - nc),
                "gains_masked": sorted(nm - om),
                "loses_masked": sorted(om - nm),
            }
            if any(row[k] for k in ("gains_clear", "loses_clear", "gains_masked", "loses_masked")):
                rows.append(row)
    return rows


def build_plan(
    baseline_name: str,
    baseline: dict[str, bytes],
    changes: list[Change],
    current_files: dict[str, bytes],
    built: dict[str, bytes] | None,
    build_problem: str = "",
    accepted: list[Accepted] | None = None,
    volumes: dict[str, Any] | None = None,
) -> Plan:
    old = snapshot(baseline)
    new = snapshot(built if built is not None else current_files)
    plan = Plan(baseline_name, changes, old, new, built, build_problem)
    plan.stale = unmatched(accepted or [], changes) if not old.empty else []
    if built is not None:
        plan.infra = infra_diff(baseline, built)
        plan.migrations = [
            (p, built[p].decode()) for p in sorted(built) if p.startswith(MIGRATIONS) and p not in baseline
        ]
        old_numbers = [e.get("number") for e in old.history.get("migrations", [])]
        new_numbers = [e.get("number") for e in new.history.get("migrations", [])]
        if new_numbers[: len(old_numbers)] != old_numbers or any(
            baseline[p] != built.get(p) for p in baseline if p.startswith(MIGRATIONS)
        ):
            plan.history_note = (
                f"The migration history does not extend {baseline_name}'s: migrations were renumbered or changed. "
                f"Rebuild from it: `datahem build --against {baseline_name}`."
            )
        elif len(new_numbers) - len(old_numbers) > 1:
            added = new_numbers[len(old_numbers) :]
            plan.squash_note = (
                f"This branch adds {len(added)} migrations since `{baseline_name}` "
                f"({', '.join(f'{n:04d}' if isinstance(n, int) else str(n) for n in added)}); every table runs each "
                f"in turn. Squash them into one: `datahem build --against {baseline_name}`, then commit generated/."
            )
    plan.dataflow = dataflow(old, new, changes)
    plan.cost = costs.compare(baseline, built if built is not None else current_files, volumes)
    return plan


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _where(c: Change) -> str:
    return f"`{c.loc.path}:{c.loc.line}`" if c.loc.line else f"`{c.loc.path}`"


def markdown(plan: Plan) -> str:
    out = [f"## DataHem plan (against `{plan.baseline}`)", ""]
    blocking, accepted = plan.blocking, [c for c in plan.breaking if not c.blocking]
    if blocking:
        out.append(f"**{len(blocking)} breaking change(s)** — the build fails until each is fixed or accepted.")
    elif accepted:
        out.append(f"No unaccepted breaking change; {len(accepted)} accepted in sources.yaml.")
    else:
        out.append("No breaking change.")
    rest = [c for c in plan.changes if not c.breaking]
    migrated = sum(1 for c in rest if c.steps or c.classification == rules.MIGRATION)
    out.append(f"{migrated} change(s) need a migration, {len(rest) - migrated} need none.")
    for warning in plan.warnings:
        out += ["", f"> **Warning:** {warning}"]
    if plan.build_problem:
        out += ["", f"> {plan.build_problem}"]
    if plan.breaking:
        out += [
            "",
            "### Breaking changes",
            "",
            _row("rule", "target", "where", "what", "status"),
            "|---|---|---|---|---|",
        ]
        for c in plan.breaking:
            status = f"accepted: {c.accepted}" if c.accepted else "**blocks the build**"
            out.append(_row(f"`{c.rule}`", f"`{c.target}`", _where(c), c.summary, status))
    access = [c for c in plan.changes if RULES[c.rule].category == "access"]
    who = access_changes(plan.old.projection, plan.new.projection)
    if access or who:
        out += ["", "### Access changes (policy tags and categories)", ""]
        out += [f"- `{c.rule}` {c.summary} ({_where(c)})" for c in access]
        if who:
            out += [
                "",
                _row("column", "gains clear read", "loses clear read", "gains masked read", "loses masked read"),
                "|---|---|---|---|---|",
            ]
            for r in who:
                cells = [", ".join(f"`{p}`" for p in r[k]) for k in ("gains_clear", "loses_clear")]
                cells += [", ".join(f"`{p}`" for p in r[k]) for k in ("gains_masked", "loses_masked")]
                out.append(_row(f"`{r['column']}`", *cells))
        else:
            out += ["", "Nobody gains or loses read access to a column."]
    tables = sorted({c.table for c in plan.changes if c.table})
    if tables:
        out += ["", "### Tables", ""]
        sources = {r.table: r.sources for r in plan.new.projection.roots.values()}
        for ref in tables:
            names = ", ".join(sources.get(ref, ())) or "no source"
            out += [f"#### `{ref}` ({names})", "", _row("", "column", "change", "classification"), "|---|---|---|---|"]
            sign = {"added": "+", "removed": "−", "changed": "~"}
            for c in (c for c in plan.changes if c.table == ref):
                kind = c.classification + (" (accepted)" if c.accepted else "")
                out.append(_row(sign.get(c.kind, "~"), f"`{c.column}`" if c.column else "", c.summary, kind))
            out.append("")
            if any(c.table == ref and c.rule in NEW_TABLE for c in plan.changes) and ref in plan.new.projection.tables:
                columns = _flat(plan.new.projection.tables[ref])
                out += [
                    f"<details><summary>Columns of the new table `{ref}` ({len(columns)})</summary>",
                    "",
                    _row("column", "type", "mode", "category"),
                    "|---|---|---|---|",
                    *(
                        _row(f"`{path}`", c.type, c.mode, f"`{c.category}`" if c.category else "")
                        for path, c in columns
                    ),
                    "",
                    "</details>",
                    "",
                ]
    others = [c for c in plan.changes if not c.table and RULES[c.rule].category != "access" and not c.breaking]
    if others:
        out += ["### Other changes", ""] + [f"- `{c.rule}` {c.summary}" for c in others] + [""]
    if plan.migrations:
        out += ["### Migrations (`datahem migrate` applies them after `terraform apply`)", ""]
        for path, text in plan.migrations:
            lang = "sql" if path.endswith(".sql") else "json"
            out += [
                f"<details><summary><code>generated/{path}</code></summary>",
                "",
                f"```{lang}",
                text.rstrip(),
                "```",
                "",
                "</details>",
            ]
        out.append("")
    out += ["### Routes", ""] + (route_changes(plan.old, plan.new) or ["No route changes."]) + [""]
    out += ["### Dataflow", ""]
    if plan.dataflow:
        out += [_row("job", "action", "why"), "|---|---|---|"]
        for j in plan.dataflow:
            action = j["action"] + (" (`--update`, transform name mapping `{}`)" if j["action"] == "update" else "")
            out.append(_row(f"`{j['job']}`", action, j["why"]))
    else:
        out.append("No Dataflow job changes.")
    cost_lines = costs.markdown(plan.cost) if plan.cost else []
    if cost_lines:
        out += ["", *cost_lines]
    out += ["", "### Infrastructure (Terraform)", ""]
    if plan.current is None:
        out.append("Not available: the build fails against generated/ (see the breaking changes).")
    elif not plan.infra:
        out.append("No stacks.")
    else:
        out += [_row("stack", "add", "change", "destroy", "forget (kept, unmanaged)"), "|---|---|---|---|---|"]
        for env, d in plan.infra.items():
            out.append(_row(env, *(str(len(d[k])) for k in ("add", "change", "destroy", "forget"))))
        for env, d in plan.infra.items():
            lines = [f"- {k} `{a}`" for k in ("add", "change", "destroy", "forget") for a in d[k]]
            if lines:
                out += ["", f"<details><summary>{env}: resources</summary>", "", *lines, "", "</details>"]
    return "\n".join(out).rstrip() + "\n"


def as_json(plan: Plan) -> str:
    data = {
        "baseline": plan.baseline,
        "breaking": len(plan.blocking),
        "changes": [
            {
                "rule": c.rule,
                "classification": c.classification,
                "target": c.target,
                "summary": c.summary,
                "path": c.loc.path,
                "line": c.loc.line,
                "table": c.table,
                "column": c.column,
                "accepted": c.accepted,
            }
            for c in plan.changes
        ],
        "migrations": [p for p, _ in plan.migrations],
        "dataflow": plan.dataflow,
        "cost": plan.cost,
        "infra": plan.infra,
        "history_note": plan.history_note,
        "access": access_changes(plan.old.projection, plan.new.projection),
        "routes": route_changes(plan.old, plan.new),
        "stale_accepted_breaks": [{"rule": a.rule, "target": a.target} for a in plan.stale],
        "warnings": plan.warnings,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
