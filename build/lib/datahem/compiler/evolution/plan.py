"""`datahem plan`: what a change does, as Markdown for a pull-request comment (or JSON for scripts).

Breaking changes and access (policy-tag, category) changes first; then per table the columns added, changed and
removed; the migrations this change adds; routes; what happens to each Dataflow job; and the Terraform resources
added, changed and destroyed per environment, from the synthesized stacks of the baseline and of this build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from datahem.compiler import rules
from datahem.compiler.diagnostics import RULES
from datahem.compiler.evolution.compare import Change
from datahem.compiler.evolution.snapshot import MIGRATIONS, STACKS, Snapshot, snapshot


@dataclass
class Plan:
    baseline: str
    changes: list[Change]
    old: Snapshot
    new: Snapshot
    current: dict[str, bytes] | None  # what `datahem build` writes; None when it fails against generated/
    build_problem: str = ""
    infra: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    dataflow: list[dict] = field(default_factory=list)
    migrations: list[tuple[str, str]] = field(default_factory=list)
    history_note: str = ""

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def blocking(self) -> list[Change]:
        return [c for c in self.changes if c.blocking]


def _resources(stack: dict) -> dict[str, dict]:
    out = {}
    for kind, items in (stack.get("resource") or {}).items():
        for name, body in items.items():
            out[f"{kind}.{name}"] = body
    return out


def _managed(body: dict, current: dict) -> dict:
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


def dataflow(old: Snapshot, new: Snapshot, changes: list[Change]) -> list[dict]:
    """What each Dataflow job needs. A job whose Pub/Sub input or output table changes is drained and relaunched
    (Dataflow's update check refuses a changed source); a job whose converter changes (its message's fingerprint) is
    updated in place with `--update`, and since DataHem's pipelines name their steps the same for every schema, the
    transform name mapping is empty; the backup job takes new subscriptions by update, but a removed one needs a
    drain and relaunch."""
    fingerprints = {}
    for snap, key in ((old, "old"), (new, "new")):
        index = json.loads(snap.files.get("registry/index.json", b"{}") or b"{}").get("messages", {})
        fingerprints[key] = {m: e.get("fingerprint") for m, e in index.items() if isinstance(e, dict)}
    jobs = []
    for name in sorted(set(old.pipelines) | set(new.pipelines)):
        a, b = old.pipelines.get(name), new.pipelines.get(name)
        job = {"job": name, "address": f"google_dataflow_flex_template_job.dataflow_job_{name}"}
        if a is None:
            jobs.append({**job, "action": "launch", "why": "new pipeline"})
            continue
        if b is None:
            jobs.append({**job, "action": "drain", "why": "its source is gone (Terraform drains the job)"})
            continue
        if a.get("parameters") != b.get("parameters") or a.get("template") != b.get("template"):
            jobs.append(
                {**job, "action": "relaunch", "why": "its subscription, topic or table changed: drain, then launch"}
            )
            continue
        if b.get("kind") == "backup":
            subs_old = {f"{m}.backup" for m in old.roots}
            subs_new = {f"{m}.backup" for m in new.roots}
            if subs_old - subs_new:
                jobs.append(
                    {
                        **job,
                        "action": "relaunch",
                        "why": "a message type is gone: its read step cannot be dropped by an update",
                    }
                )
            elif subs_new - subs_old:
                jobs.append(
                    {
                        **job,
                        "action": "update",
                        "why": "new message types: new read steps",
                        "transform_name_mapping": {},
                    }
                )
            continue
        source = b.get("source", "")
        message = new.source_messages.get(source)
        if message and fingerprints["old"].get(old.source_messages.get(source)) != fingerprints["new"].get(message):
            jobs.append(
                {
                    **job,
                    "action": "update",
                    "why": "its message schema changed (new converter)",
                    "transform_name_mapping": {},
                }
            )
    return jobs


def build_plan(
    baseline_name: str,
    baseline: dict[str, bytes],
    changes: list[Change],
    current_files: dict[str, bytes],
    built: dict[str, bytes] | None,
    build_problem: str = "",
) -> Plan:
    old = snapshot(baseline)
    new = snapshot(built if built is not None else current_files)
    plan = Plan(baseline_name, changes, old, new, built, build_problem)
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
    plan.dataflow = dataflow(old, new, changes)
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
    counts = {k: sum(1 for c in plan.changes if c.classification == k) for k in (rules.SAFE, rules.MIGRATION)}
    out.append(f"{counts[rules.MIGRATION]} change(s) need a migration, {counts[rules.SAFE]} are safe.")
    if plan.history_note:
        out += ["", f"> **Warning:** {plan.history_note}"]
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
    if access:
        out += ["", "### Access changes (policy tags and categories)", ""]
        out += [f"- `{c.rule}` {c.summary} ({_where(c)})" for c in access]
    tables = sorted({c.table for c in plan.changes if c.table})
    if tables:
        out += ["", "### Tables", ""]
        sources = {r.table: r.sources for r in plan.new.roots.values()}
        for ref in tables:
            names = ", ".join(sources.get(ref, ())) or "no source"
            out += [f"#### `{ref}` ({names})", "", _row("", "column", "change", "classification"), "|---|---|---|---|"]
            sign = {"added": "+", "removed": "−", "changed": "~"}
            for c in (c for c in plan.changes if c.table == ref):
                kind = c.classification + (" (accepted)" if c.accepted else "")
                out.append(_row(sign.get(c.kind, "~"), f"`{c.column}`" if c.column else "", c.summary, kind))
            out.append("")
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
    route_lines = []
    for source in sorted(set(plan.old.routes) | set(plan.new.routes)):
        added = sorted(plan.new.routes.get(source, set()) - plan.old.routes.get(source, set()))
        removed = sorted(plan.old.routes.get(source, set()) - plan.new.routes.get(source, set()))
        route_lines += [f"- `{source}`: + `{r}`" for r in added] + [f"- `{source}`: − `{r}`" for r in removed]
    out += ["### Routes", ""] + (route_lines or ["No route changes."]) + [""]
    out += ["### Dataflow", ""]
    if plan.dataflow:
        out += [_row("job", "action", "why"), "|---|---|---|"]
        for j in plan.dataflow:
            action = j["action"] + (" (`--update`, transform name mapping `{}`)" if j["action"] == "update" else "")
            out.append(_row(f"`{j['job']}`", action, j["why"]))
    else:
        out.append("No Dataflow job changes.")
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
        "infra": plan.infra,
        "history_note": plan.history_note,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def make_plan(project_dir: Path, against: str | None) -> Plan:
    """Compare the project with `against` (default: HEAD in a git work tree, else generated/)."""
    from datahem.compiler.build import Settings, load_model, load_project, render_all
    from datahem.compiler.diagnostics import CompileError
    from datahem.compiler.evolution import tree
    from datahem.compiler.evolution.migrations import current_files, evolve
    from datahem.compiler.validate.evolution import accepted_breaks, sources_loc

    model, raw = load_project(project_dir)
    name = against if against is not None else tree.default_against(project_dir)
    baseline = tree.read_baseline(project_dir, name)
    evolution = evolve(model, baseline, accepted_breaks(raw), sources_loc(raw))
    built, problem = None, ""
    try:
        built = render_all(load_model(project_dir), Settings(project_dir))
    except CompileError as err:
        problem = (
            f"`datahem build` fails against generated/ ({len(err.diagnostics)} error(s)), so the migrations and the "
            "Terraform change are not shown yet."
        )
    return build_plan(name or "generated/", baseline, list(evolution.changes), current_files(model), built, problem)
