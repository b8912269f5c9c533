"""What each environment costs to run, from its infrastructure model (`generated/infra/platform.json`) and the
price table `datahem/compiler/prices.json` (list prices for one region, with their source and date): written to
`generated/cost/cost.json` by the build and compared before/after by `datahem plan`.

- **Floor** (`always_on`): what runs with no event at all: every Dataflow job's minimum workers (machine type and
  disk: Dataflow's defaults unless the job sets them), the collectors' minimum instances, the secrets' versions.
- **Per GiB** of events (`per_gib`): what each GiB an event source sends moves through the platform, as GiB per
  GiB of events (`factor`) times the price: Pub/Sub throughput (the publish, the backup and enrichment deliveries,
  the processed stream's publish), Dataflow Streaming Engine data (the source's branch, the backup branch, and a
  reader job where the source has one), BigQuery row writes (its table and the backup, by the environment's write
  method) and BigQuery storage (a month of those rows, kept for a month). `per_gib_day_month` is the monthly cost
  of 1 GiB/day; an environment's figure spreads that GiB evenly over its sources.

Left out (small or not driven by volume): free tiers, the collectors' per-request CPU (by request count, not
bytes), buckets and the image repository, network egress, Kinesis and SNS on the AWS side.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parents[1] / "prices.json"
PRICES_NAME = "datahem/compiler/prices.json"

# GiB moved per GiB of a source's events (see the module docstring)
PUBSUB_FACTOR = 4  # publish to the topic, backup delivery, enrichment delivery, publish to the processed topic
DATAFLOW_FACTOR = 2  # the source's branch and the backup branch read it
WRITE_FACTOR = 2  # a row in the source's table and one in the backup table
STORAGE_FACTOR = 2


@cache
def load_prices(path: Path = PRICES) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _money(x: float) -> float:
    return round(x + 0.0, 2)


def sources_of(platform: dict[str, Any]) -> list[str]:
    """The event sources the jobs of a platform.json process (also one written before jobs listed branches)."""
    names: set[str] = set()
    for p in platform.get("pipelines", []):
        names |= {b for b in (p.get("branches") or {}) if b != "backup"}
        if p.get("kind") == "source" and p.get("source"):
            names.add(p["source"])
    return sorted(names)


def job_of(platform: dict[str, Any], source: str) -> list[str]:
    """The jobs that carry a source's events: its branch's job and its reader job, if any."""
    return sorted(
        p["name"]
        for p in platform.get("pipelines", [])
        if source in (p.get("branches") or {}) or (p.get("source") == source and p.get("kind") != "backup")
    )


def _job(p: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    df = prices["dataflow"]
    machine = p.get("machine_type") or df["default_machine_type"]
    workers = p.get("min_workers") or df["default_min_workers"]
    disk = p.get("disk_gib") or df["default_disk_gib"]
    shape = df["machine_types"][machine]
    hourly = (
        shape["vcpus"] * df["streaming_vcpu_hour"]
        + shape["memory_gib"] * df["streaming_memory_gib_hour"]
        + disk * df["standard_disk_gib_hour"]
    )
    return {
        "resource": f"Dataflow job `{p['name']}`",
        "count": workers,
        "unit": f"{machine} worker ({shape['vcpus']} vCPU, {shape['memory_gib']} GiB) with {disk} GiB disk",
        "monthly": _money(workers * hourly * prices["hours_per_month"]),
    }


def _collector(c: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    run = prices["cloud_run"]
    count = int(c.get("min_instances") or 0)
    vcpu, memory = 1, 0.5  # the collectors' size (1 vCPU, 512 MiB)
    second = vcpu * run["idle_min_instance_vcpu_second"] + memory * run["idle_min_instance_memory_gib_second"]
    return {
        "resource": f"collector `{c['name']}` minimum instances",
        "count": count,
        "unit": "idle instance (1 vCPU, 0.5 GiB)",
        "monthly": _money(count * second * 3600 * prices["hours_per_month"]),
    }


def _per_gib(platform: dict[str, Any], env: dict[str, Any], source: str, prices: dict[str, Any]) -> dict[str, Any]:
    storage_write = "storage" in str(env.get("write_method") or "")
    bq = prices["bigquery"]
    readers = [
        p["name"] for p in platform.get("pipelines", []) if p.get("source") == source and p.get("kind") == "kinesis"
    ]
    rows = [
        ("Pub/Sub throughput", PUBSUB_FACTOR, prices["pubsub"]["throughput_gib"]),
        (
            "Dataflow Streaming Engine data",
            DATAFLOW_FACTOR + len(readers),
            prices["dataflow"]["streaming_engine_data_gib"],
        ),
        (
            "BigQuery Storage Write API" if storage_write else "BigQuery streaming inserts",
            WRITE_FACTOR,
            bq["storage_write_gib"] if storage_write else bq["streaming_inserts_gib"],
        ),
    ]
    items = [{"what": what, "factor": f, "rate": rate, "per_gib": round(f * rate, 6)} for what, f, rate in rows]
    once = sum(i["per_gib"] for i in items)
    days = prices["days_per_month"]
    storage = STORAGE_FACTOR * days * bq["active_logical_storage_gib_month"]
    return {
        "items": items,
        "per_gib": round(once, 6),
        "storage_per_gib_day_month": _money(storage),
        "per_gib_day_month": _money(once * days + storage),
    }


def environment(platform: dict[str, Any], env: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    always_on = [_job(p, prices) for p in sorted(platform.get("pipelines", []), key=lambda p: p["name"])]
    always_on += [_collector(c, prices) for _, c in sorted((platform.get("collectors") or {}).items())]
    secrets = platform.get("secrets") or []
    if secrets:
        replicas = max(1, len(env.get("secret_locations") or []))
        always_on.append(
            {
                "resource": "Secret Manager secret versions",
                "count": len(secrets) * replicas,
                "unit": f"active version in one location ({len(secrets)} secrets × {replicas} location(s))",
                "monthly": _money(len(secrets) * replicas * prices["secret_manager"]["active_version_replica_month"]),
            }
        )
    names = sources_of(platform)
    per_source = {s: _per_gib(platform, env, s, prices) for s in names}
    spread = [v["per_gib_day_month"] for v in per_source.values()]
    return {
        "always_on": always_on,
        "floor_month": _money(sum(i["monthly"] for i in always_on)),
        "per_gib_day_month": _money(sum(spread) / len(spread)) if spread else 0.0,
        "sources": per_source,
    }


def cost(platform: dict[str, Any], prices: dict[str, Any] | None = None) -> dict[str, Any]:
    prices = prices or load_prices()
    return {
        "prices": {
            "file": PRICES_NAME,
            "taken": prices["taken"],
            "region": prices["region"],
            "currency": prices["currency"],
            "note": "list prices for one region, without free tiers or discounts",
        },
        "environments": {
            e["name"]: environment(platform, e, prices)
            for e in sorted(platform.get("environments", []), key=lambda e: e["name"])
        },
    }
