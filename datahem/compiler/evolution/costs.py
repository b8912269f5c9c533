"""The cost lines of `datahem plan`: each environment's monthly floor and the monthly cost of 1 GiB/day of events,
before and after the change, and per source added or removed what it adds to (or takes off) the floor and what each
GiB/day of its events costs. Both sides are priced with the same price table (the current one), from each build's
`infra/platform.json`, so the difference is the change's, not the prices'."""

from __future__ import annotations

from typing import Any

from datahem.compiler.projection.cost import cost, job_of, load_prices, sources_of
from datahem.compiler.projection.project import PLATFORM
from datahem.compiler.writer import read_json


def _usd(x: float) -> str:
    return f"${x:,.2f}"


def _delta(x: float, removing: bool = False) -> str:
    """A signed amount; zero keeps the direction of the change (`+$0` when adding, `−$0` when removing)."""
    if round(x, 2) == 0:
        return "−$0" if removing else "+$0"
    return f"{'+' if x > 0 else '−'}${abs(x):,.2f}"


def _names(jobs: set[str]) -> str:
    return ", ".join(f"`{j}`" for j in sorted(jobs))


def _jobs_floor(model: dict[str, Any], jobs: set[str]) -> float:
    return float(
        sum(i["monthly"] for i in model["always_on"] if any(i["resource"] == f"Dataflow job `{j}`" for j in jobs))
    )


def volumes_for(volumes: dict[str, Any] | None, env: str) -> dict[str, float]:
    """GiB/day per source for an environment: `{source: GiB/day}` for every environment, or
    `{environment: {source: GiB/day}}` (an environment's own mapping wins)."""
    if not volumes:
        return {}
    own = volumes.get(env)
    chosen = own if isinstance(own, dict) else {k: v for k, v in volumes.items() if not isinstance(v, dict)}
    return {str(k): float(v) for k, v in chosen.items()}


def at_volumes(model: dict[str, Any] | None, volumes: dict[str, float]) -> float | None:
    """The monthly cost of an environment at the given GiB/day per source (a source it lacks costs nothing)."""
    if model is None:
        return None
    flow: float = sum(
        v * float(model["sources"][s]["per_gib_day_month"]) for s, v in volumes.items() if s in model["sources"]
    )
    return round(float(model["floor_month"]) + flow, 2)


def compare(
    old_files: dict[str, bytes], new_files: dict[str, bytes], volumes: dict[str, Any] | None = None
) -> dict[str, Any]:
    prices = load_prices()
    a, b = read_json(old_files, PLATFORM), read_json(new_files, PLATFORM)
    before, after = cost(a, prices), cost(b, prices)
    old_jobs = {p["name"] for p in a.get("pipelines", [])}
    new_jobs = {p["name"] for p in b.get("pipelines", [])}
    old_sources, new_sources = set(sources_of(a)), set(sources_of(b))
    envs = sorted(after["environments"])
    per_env: dict[str, list[str]] = {}
    for env in envs:
        model_a, model_b = before["environments"].get(env), after["environments"][env]
        lines: list[str] = []
        for s in sorted(new_sources - old_sources):
            jobs = set(job_of(b, s))
            added = jobs - old_jobs
            where = f"new job{'s' if len(added) > 1 else ''} {_names(added)}" if added else f"same job {_names(jobs)}"
            floor, rate = _jobs_floor(model_b, added), model_b["sources"][s]["per_gib_day_month"]
            lines.append(f"adding source `{s}`: {_delta(floor)} floor ({where}), {_delta(rate)} per GiB/day")
        for s in sorted(old_sources - new_sources):
            jobs = set(job_of(a, s))
            gone = jobs - new_jobs
            where = f"job{'s' if len(gone) > 1 else ''} {_names(gone)} drained" if gone else f"job {_names(jobs)} stays"
            floor = _jobs_floor(model_a, gone) if model_a else 0.0
            rate = model_a["sources"][s]["per_gib_day_month"] if model_a and s in model_a["sources"] else 0.0
            lines.append(
                f"removing source `{s}`: {_delta(-floor, True)} floor ({where}), {_delta(-rate, True)} per GiB/day"
            )
        per_env[env] = lines
    distinct = {tuple(v) for v in per_env.values()}
    if len(distinct) == 1:
        source_lines = list(next(iter(distinct)))
    else:
        source_lines = [f"{line} (`{env}`)" for env, lines in per_env.items() for line in lines]
    rows = []
    for env in envs:
        x, y = before["environments"].get(env), after["environments"][env]
        row = {
            "environment": env,
            "floor_before": x["floor_month"] if x else None,
            "floor_after": y["floor_month"],
            "gib_day_before": x["per_gib_day_month"] if x else None,
            "gib_day_after": y["per_gib_day_month"],
        }
        if volumes is not None:
            mine = volumes_for(volumes, env)
            row |= {"volumes_before": at_volumes(x, mine), "volumes_after": at_volumes(y, mine)}
        rows.append(row)
    known = old_sources | new_sources
    unknown = sorted(
        {s for env in envs for s in volumes_for(volumes, env) if s not in known} if volumes is not None else set()
    )
    return {
        "prices": after["prices"],
        "environments": rows,
        "sources": source_lines,
        "volumes": volumes is not None,
        "unknown_volume_sources": unknown,
    }


def markdown(c: dict[str, Any]) -> list[str]:
    if not c["environments"]:
        return []
    p = c["prices"]
    out = [
        "### Cost (monthly)",
        "",
        f"List prices of {p['region']} taken {p['taken']} (`{p['file']}`), without free tiers or discounts. The floor "
        "is what runs with no events; 1 GiB/day is what each GiB a day of events adds (spread evenly over the "
        "sources, storage of a month's data included). Your volumes: see the README (What the platform costs).",
        "",
    ]
    if c["sources"]:
        out += [f"- {line}" for line in c["sources"]] + [""]
    keys = ["floor_before", "floor_after", "gib_day_before", "gib_day_after"]
    titles = ["floor before", "floor after", "1 GiB/day before", "1 GiB/day after"]
    if c.get("volumes"):
        keys += ["volumes_before", "volumes_after"]
        titles += ["your volumes before", "your volumes after"]
    out += [_row("environment", *titles), "|---" * (len(titles) + 1) + "|"]
    for r in c["environments"]:
        cells = [_usd(r[k]) if r[k] is not None else "—" for k in keys]
        if r["floor_before"] is not None and r["floor_after"] != r["floor_before"]:
            cells[1] += f" ({_delta(r['floor_after'] - r['floor_before'])})"
        if r["gib_day_before"] is not None and r["gib_day_after"] != r["gib_day_before"]:
            cells[3] += f" ({_delta(r['gib_day_after'] - r['gib_day_before'])})"
        if c.get("volumes") and r["volumes_before"] is not None and r["volumes_after"] != r["volumes_before"]:
            cells[5] += f" ({_delta(r['volumes_after'] - r['volumes_before'])})"
        out.append(_row(r["environment"], *cells))
    if c.get("unknown_volume_sources"):
        names = ", ".join(f"`{s}`" for s in c["unknown_volume_sources"])
        out += ["", f"> **Warning:** the volumes name {names}, which neither build has: not counted."]
    return out


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"
