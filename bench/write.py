"""Benchmark: rows through the Storage Write API (the table's generated row message, `datahem.runtime.rowproto`, and
`StorageWriter` on the default stream) against legacy streaming inserts (`insert_rows_json`, what `insert_all`
writes), in one process, against the local BigQuery API emulator (REST and gRPC).

Rows: every valid example event of the example project through its generated converter, plus the metadata columns.
- Encoding CPU: per row, `RowEncoder.encode` (row dict -> row message bytes) vs `json.dumps(json_row(row))` (the JSON
  the insertAll request carries); interleaved rounds, this process's CPU time, median ratio.
- Throughput: the same rows, copied to ROWS rows with fresh uuids, written by each path in batches of 500; rows/s
  of wall time (the emulator's DuckDB dominates; a ratio, not a forecast for BigQuery) and rows lost (written but
  not found by a query afterwards).
Prints, last: `RESULT write cpu_per_row_vs_insertall=<x> rows_per_s=<n> insertall_rows_per_s=<m> lost=<n>`.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path

from bench import project_converters, project_registry
from datahem.runtime.beam import rows as meta_rows
from datahem.runtime.beam.convert import Context
from datahem.runtime.beam.io import insert_isolating, json_row
from datahem.runtime.beam.messages import message_class
from datahem.runtime.bigquery import bigquery_client
from datahem.runtime.rowproto import RowEncoder
from datahem.runtime.storage_write import StorageWriter
from tests.examples import load_examples

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT  # the project whose examples, converters and tables are measured
PROJECT = "demo-project"  # the Google Cloud project id on the emulator
KEYS = {"datahem-pseudonymization-key": b"bench-key"}
ROWS = 2000
BATCH = 500
REPEAT = 200
ROUNDS = 7


def example_rows() -> dict[str, list[dict]]:
    """table -> the rows of its valid examples (converter output + metadata columns)."""
    out: dict[str, list[dict]] = {}
    modules = project_converters(PROJECT_DIR)
    registry = project_registry(PROJECT_DIR)
    for e in load_examples(PROJECT_DIR):
        if not e.valid:
            continue
        module = modules[e.message]
        attributes = {"uuid": str(uuid.uuid4()), "timestamp": "2026-11-27T07:00:00Z", "source": "bench"}
        attributes |= e.attributes
        row, _ = module.convert(e.payload.encode(), Context(attributes, KEYS), message_class(e.message, registry))
        meta = meta_rows.metadata(attributes, "bench", "m-1", time.time())
        out.setdefault(module.TABLE, []).append({**meta, **row})
    return out


def encoding_ratio(tables: dict[str, list[dict]], encoders: dict[str, RowEncoder]) -> float:
    pairs = [(encoders[t], r) for t, rows in tables.items() for r in rows]

    def storage() -> None:
        for encoder, row in pairs:
            encoder.encode(row)

    def insert_all() -> None:
        for _, row in pairs:
            json.dumps({"json": json_row(row), "insertId": row["_uuid"]}, allow_nan=False)

    ratios = []
    for _ in range(ROUNDS):
        times = []
        for fn in (storage, insert_all):
            t0 = time.process_time()
            for _ in range(REPEAT):
                fn()
            times.append(time.process_time() - t0)
        ratios.append(times[0] / times[1])
    return statistics.median(ratios)


def copies(tables: dict[str, list[dict]], prefix: str) -> dict[str, list[dict]]:
    per_table = ROWS // len(tables)
    return {
        t: [{**rows[i % len(rows)], "_uuid": f"{prefix}-{t}-{i}"} for i in range(per_table)]
        for t, rows in tables.items()
    }


def main() -> None:
    from datahem.compiler.build import load_model
    from datahem.dev.emulators import bigquery_emulator
    from datahem.dev.layout import Layout
    from datahem.dev.supervisor import create_tables

    tables = example_rows()
    bigquery_dir = PROJECT_DIR / "generated" / "bigquery"
    encoders = {t: RowEncoder.for_table(bigquery_dir, t) for t in tables}
    ratio = encoding_ratio(tables, encoders)
    print(f"encoding CPU per row, row message vs insertAll JSON: {ratio:.2f}", flush=True)

    with bigquery_emulator(PROJECT) as url:
        create_tables(url, Layout.from_model(load_model(PROJECT_DIR), PROJECT), PROJECT_DIR / "generated")
        client = bigquery_client(PROJECT, url)
        storage_rows, json_rows = copies(tables, "sw"), copies(tables, "ia")
        writers = {t: StorageWriter(PROJECT, t, encoders[t], url.grpc) for t in tables}
        refused = 0
        t0 = time.perf_counter()
        for t, rows in storage_rows.items():
            for i in range(0, len(rows), BATCH):
                refused += len(writers[t].write(rows[i : i + BATCH]))
        storage_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        for t, rows in json_rows.items():
            for i in range(0, len(rows), BATCH):
                batch = [json_row(r) for r in rows[i : i + BATCH]]

                def insert(rs, ids, t=t):
                    return client.insert_rows_json(
                        f"{PROJECT}.{t}", rs, row_ids=ids, skip_invalid_rows=True, retry=None
                    )

                refused += len(insert_isolating(insert, batch, [r["_uuid"] for r in batch]))
        json_s = time.perf_counter() - t0

        found = {"sw": 0, "ia": 0}
        for t in tables:
            for prefix in found:
                sql = f"SELECT COUNT(DISTINCT _uuid) AS n FROM `{t}` WHERE STARTS_WITH(_uuid, '{prefix}-')"
                found[prefix] += next(iter(client.query(sql).result()))["n"]
    sent = sum(len(r) for r in storage_rows.values())
    lost = 2 * sent - found["sw"] - found["ia"]
    print(
        f"{sent} rows per path: storage write {storage_s:.2f} s, insertAll {json_s:.2f} s; "
        f"found {found}, refused {refused}",
        flush=True,
    )
    print(
        f"RESULT write cpu_per_row_vs_insertall={ratio:.2f} rows_per_s={sent / storage_s:.0f} "
        f"insertall_rows_per_s={sent / json_s:.0f} lost={lost}"
    )


if __name__ == "__main__":
    main()
