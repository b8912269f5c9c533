"""Benchmark the HTTP collector against a bare ASGI endpoint, both under uvicorn on localhost, in the same run.

    .venv/bin/python -m bench.collector [--requests N] [--rounds R] [--concurrency C] [--http h11 --loop asyncio]

Starts the real Pub/Sub emulator, the collector (the generated/routing tables of PROJECT_DIR, by default the
repository's project; one uvicorn worker in its own process, started exactly as on Cloud Run: uvloop and httptools with its head limits) and a bare ASGI app that answers 204 (same server
settings, own process; `--http h11 --loop asyncio` runs both on uvicorn's pure-Python stack instead). One load generator (asyncio + aiohttp with C keep-alive clients, each sending its next request when the
previous one is answered; httpx's async pool collapses to a few hundred requests/s at 50 connections) sends N
Universal Analytics hits per run, after a warm-up: as a form POST (204 from both endpoints) and as a pixel GET (the
collector answers with a 42-byte GIF, the bare endpoint still with 204). Runs alternate between the endpoints for R
rounds so that load from other processes on the machine hits both alike.

Every hit carries a unique id (`z`), so afterwards the ids on the topic are matched against the 2xx answers:
`lost` counts acknowledged hits missing from the topic (warm-up included). Prints, last:

    RESULT collector throughput_vs_bare=<x> p99_ms=<n> lost=<n>

for the POST runs (like for like: both endpoints answer 204); p99 is the collector's. The load generator, both
servers and the emulator (a JVM that spends about as much CPU per event as the collector) share the machine's
cores, so the CPU seconds per 1,000 requests of each process (the load generator's too) are printed as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT  # the project whose generated/routing tables the collector serves
PROJECT = "demo-project"  # the Google Cloud project id on the emulator
PATH = "/collect"
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def bare_app(scope, receive, send) -> None:
    """The baseline: the least an ASGI endpoint can do (read nothing, answer 204)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    latencies_ms: list[float]
    ok_ids: list[str]
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @classmethod
    def merge(cls, runs: list[Run]) -> Run:
        statuses: dict[int, int] = {}
        for run in runs:
            for status, n in run.statuses.items():
                statuses[status] = statuses.get(status, 0) + n
        return cls(
            runs[0].name,
            sum(r.seconds for r in runs),
            [ms for r in runs for ms in r.latencies_ms],
            [i for r in runs for i in r.ok_ids],
            statuses,
        )

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


LIMITED_HTTPTOOLS = "datahem.runtime.collectors.http.server:LimitedHttpToolsProtocol"


@contextlib.contextmanager
def uvicorn_process(target: str, env: dict[str, str], factory: bool, http: str, loop: str) -> Iterator[Server]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--no-proxy-headers", "--log-level", "warning", "--loop", loop, "--http", http]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start (exit {proc.poll()})")
            time.sleep(0.1)
        yield Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def load(name: str, base: str, method: str, requests: int, concurrency: int, warmup: int) -> Run:
    """`concurrency` clients, each sending its next request as soon as the previous one was answered."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as session:
        todo = [(i < warmup, uuid.uuid4().hex) for i in range(warmup + requests)]
        todo.reverse()
        latencies: list[float] = []
        ok_ids: list[str] = []
        statuses: dict[int, int] = {}
        started: list[float] = []

        async def client() -> None:
            while todo:
                warm, hit_id = todo.pop()
                if not warm and not started:
                    started.append(time.perf_counter())
                hit = {"v": "1", "tid": "UA-12345-1", "cid": "555.1234", "t": "pageview", "z": hit_id}
                t0 = time.perf_counter()
                if method == "GET":
                    request = session.get(PATH, params=hit)
                else:
                    request = session.post(PATH, data=urlencode(hit), headers=FORM)
                async with request as resp:
                    await resp.read()
                    status = resp.status
                elapsed_ms = (time.perf_counter() - t0) * 1000
                if status < 300:
                    ok_ids.append(hit_id)
                if not warm:
                    latencies.append(elapsed_ms)
                    statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started[0]
    return Run(name, seconds, latencies, ok_ids, statuses)


def read_back(pubsub, subscription: str, ok: set[str], timeout: float = 180) -> tuple[set[str], int]:
    """The hit ids on the topic, and how many messages were pulled: pulls until every acknowledged id was seen (a
    count alone would stop early when the emulator redelivers, or a retried Publish stored a duplicate)."""
    seen: set[str] = set()
    pulled = 0
    deadline = time.monotonic() + timeout
    while ok - seen and time.monotonic() < deadline:
        got = pubsub.pull(subscription, len(ok - seen), timeout=max(deadline - time.monotonic(), 1), settle=0.5)
        pulled += len(got)
        seen |= {r.json().get("z") for r in got}
    return seen, pulled


def cpu_seconds(process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per endpoint and method")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=2000, help="unmeasured requests first (JIT of the emulator)")
    parser.add_argument("--http", default="httptools", help="uvicorn's HTTP protocol for both servers (h11 to compare)")
    parser.add_argument("--loop", default="uvloop", help="uvicorn's event loop for both servers (asyncio to compare)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import psutil

    from datahem.runtime.collectors.routing import load_http_routes
    from tests.emulators import pubsub_emulator
    from tests.runtime.collectors.conftest import PubSub, emulator_process

    # as on Cloud Run: the collector runs httptools with its head limits (the bare endpoint: plain httptools)
    collector_http = LIMITED_HTTPTOOLS if args.http == "httptools" else args.http
    routing = PROJECT_DIR / "generated" / "routing"
    topic = load_http_routes(routing)[PATH].topic
    methods = ("POST", "GET")
    with pubsub_emulator() as host:
        pubsub = PubSub(host, PROJECT)
        subscription = pubsub.subscribe(topic)  # the one subscription: the emulator stores each event once
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "PUBSUB_EMULATOR_HOST": host,
            "DATAHEM_ROUTING_DIR": str(routing),
            "GA4_API_KEY": "bench-api-key",
            "SURVEY_WEBHOOK_SECRET": "bench-webhook-secret",
        }
        runs: dict[tuple[str, str], list[Run]] = {}
        cpu: dict[str, float] = {
            "bare": 0.0,
            "collector": 0.0,
            "emulator": 0.0,
            "load bare": 0.0,
            "load collector": 0.0,
        }
        warm_ok: list[str] = []
        with (
            uvicorn_process("bench.collector:bare_app", env, False, args.http, args.loop) as bare,
            uvicorn_process(
                "datahem.runtime.collectors.http.app:create_app_from_env", env, True, collector_http, args.loop
            ) as collector,
        ):
            servers = {name: psutil.Process(proc.pid) for name, proc in (("bare", bare), ("collector", collector))}
            emulator = emulator_process(host)
            this = psutil.Process()  # the load generator
            urls = {"bare": bare.url, "collector": collector.url}
            for name, url in urls.items():
                for method in methods:
                    warm = asyncio.run(load(name, url, method, args.warmup // 2, args.concurrency, args.warmup // 2))
                    if name == "collector":
                        warm_ok += warm.ok_ids
            for _ in range(args.rounds):
                for method in methods:
                    for name, url in urls.items():
                        before = cpu_seconds(servers[name]), cpu_seconds(emulator), cpu_seconds(this)
                        run = asyncio.run(load(name, url, method, args.requests, args.concurrency, 0))
                        cpu[name] += cpu_seconds(servers[name]) - before[0]
                        cpu[f"load {name}"] += cpu_seconds(this) - before[2]
                        if name == "collector":
                            cpu["emulator"] += cpu_seconds(emulator) - before[1]
                        runs.setdefault((name, method), []).append(run)
        ok = {i for (name, _), rs in runs.items() if name == "collector" for run in rs for i in run.ok_ids}
        ok.update(warm_ok)
        seen, pulled = read_back(pubsub, subscription, ok)
    lost = len(ok - seen)
    merged = {key: Run.merge(rs) for key, rs in runs.items()}
    for (name, method), run in merged.items():
        print(
            f"{method:>4} {name:>9}: {run.rps:6.0f} req/s  p50 {run.percentile(50):5.1f} ms  "
            f"p99 {run.percentile(99):5.1f} ms  statuses {dict(sorted(run.statuses.items()))}"
        )
    total = args.requests * args.rounds * len(methods) / 1000
    print(
        f"CPU seconds per 1,000 requests: bare server {cpu['bare'] / total:.2f}, collector {cpu['collector'] / total:.2f}"
        f" + emulator {cpu['emulator'] / total:.2f}; load generator {cpu['load bare'] / total:.2f} against the bare "
        f"server, {cpu['load collector'] / total:.2f} against the collector  ({os.cpu_count()} CPUs, load average now "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(
        f"{args.rounds} rounds x {args.requests} requests per endpoint and method, {args.concurrency} concurrent "
        f"clients; hits acknowledged {len(ok)}, found on the topic {len(seen & ok)} ({pulled - len(seen)} duplicates), "
        f"lost {lost}"
    )
    for method in methods:
        ratio = merged["collector", method].rps / merged["bare", method].rps
        print(f"{method}: collector/bare throughput {ratio:.2f}")
    headline = merged["collector", "POST"]
    ratio = headline.rps / merged["bare", "POST"].rps
    print(f"RESULT collector throughput_vs_bare={ratio:.2f} p99_ms={headline.percentile(99):.1f} lost={lost}")


if __name__ == "__main__":
    main()
