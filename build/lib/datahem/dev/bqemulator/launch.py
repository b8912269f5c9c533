"""Start bqemulator (BigQuery REST + gRPC APIs on DuckDB) offline, for tests and local development.

Run it with the interpreter of `.venv-bq/`, by path from anywhere, or with -m from the repository root::

    .venv-bq/bin/python -m datahem.dev.bqemulator.launch --port 9050 --project demo-project [--data-dir DIR]

Once both servers listen it prints one line, ``bqemulator ready rest=http://HOST:PORT grpc=HOST:PORT project=ID``,
and it stops cleanly on SIGTERM or SIGINT.

Why a launcher rather than bqemulator's own console script (``bqemulator start``, the same as ``python -m
bqemulator start``): at start-up bqemulator runs ``INSTALL spatial; LOAD spatial`` (DuckDB's spatial extension, used
only for GEOGRAPHY) and fails if that download fails, and it tries ``INSTALL avro`` (Avro load/extract jobs). Both
download from DuckDB's extension repository, which is unreachable here, and nothing may download at run time anyway.
This module therefore, before the server is built,

- replaces ``DuckDBEngine._load_spatial`` with a no-op (GEOGRAPHY and ST_* functions are then unavailable),
- makes the GEOGRAPHY value converter (``types.geography._ensure_conv_conn``, which would ``INSTALL spatial`` on
  first use) raise a clear ``ValueError`` instead,
- turns the Avro loader off through bqemulator's own ``enable_format_extensions`` setting, and
- sets DuckDB's ``autoinstall_known_extensions = false`` so no query can trigger a download later.

It runs inside `.venv-bq/` only (bqemulator pins grpcio-tools<1.81 and sqlglot<30.12, which clash with the main
venv), so it imports nothing from the main venv or from the rest of DataHem: only the standard library and
bqemulator, and bqemulator only inside functions, so that ``--help`` works anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

GEOGRAPHY_UNAVAILABLE = (
    "GEOGRAPHY is unavailable in this emulator: DuckDB's spatial extension would have to be downloaded, and the "
    "offline launcher (datahem/dev/bqemulator/launch.py) skips it"
)


def _skip_spatial(self: Any) -> None:
    """Stand-in for ``DuckDBEngine._load_spatial``: loading it would download the extension."""
    from bqemulator.observability.logging_ import get_logger

    get_logger(__name__).warning("duckdb.spatial_skipped", reason=GEOGRAPHY_UNAVAILABLE)


def _refuse_geography() -> Any:
    """Stand-in for ``types.geography._ensure_conv_conn``: a GEOGRAPHY value fails at once instead of downloading."""
    raise ValueError(GEOGRAPHY_UNAVAILABLE)


def _without_extension_downloads(original: Any) -> Any:
    """Wrap ``DuckDBEngine._apply_session_pragmas`` so DuckDB never fetches an extension on its own later."""

    def apply_session_pragmas(self: Any) -> None:
        original(self)
        self.connection.execute("SET autoinstall_known_extensions = false")

    return apply_session_pragmas


def patch_bqemulator() -> None:
    """Make bqemulator start and run without network access; call before its server is constructed."""
    from bqemulator.storage.engine import DuckDBEngine
    from bqemulator.types import geography

    # Written against bqemulator 1.4.0: fail loudly, rather than download, if a new version renamed what is patched.
    for owner, name in (
        (DuckDBEngine, "_load_spatial"),
        (DuckDBEngine, "_apply_session_pragmas"),
        (geography, "_ensure_conv_conn"),
    ):
        if not hasattr(owner, name):
            raise RuntimeError(
                f"bqemulator has no {owner.__name__}.{name} to patch; update datahem/dev/bqemulator/launch.py"
            )
    DuckDBEngine._load_spatial = _skip_spatial
    DuckDBEngine._apply_session_pragmas = _without_extension_downloads(DuckDBEngine._apply_session_pragmas)
    geography._ensure_conv_conn = _refuse_geography


def patch_location(location: str) -> None:
    """bqemulator has no locations: its not-found errors always say "in location US". Say the project's location
    (`bigquery.location`, where `datahem dev` creates the datasets) instead, so a message never names another one."""
    from bqemulator.jobs import error_mapper, executor

    original = error_mapper.translate_runtime_error

    def translate_runtime_error(*args: Any, **kwargs: Any) -> Any:
        err = original(*args, **kwargs)
        if "in location US" in getattr(err, "message", ""):
            err.message = err.message.replace("in location US", f"in location {location}")
            err.args = (err.message,)
        return err

    error_mapper.translate_runtime_error = translate_runtime_error
    executor.translate_runtime_error = translate_runtime_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m datahem.dev.bqemulator.launch",
        description="Start bqemulator (BigQuery REST + gRPC on DuckDB) without network access.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address of both servers (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9050, help="REST port (default 9050; 0 picks a free one)")
    parser.add_argument(
        "--grpc-port", type=int, default=0, help="gRPC port, Storage Read/Write API (default 0: a free one)"
    )
    parser.add_argument(
        "--project", default="demo-project", help="project id used when a request names none (default demo-project)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep datasets and tables in DIR/bqemulator.duckdb across restarts (default: in memory, lost on exit)",
    )
    parser.add_argument("--location", default="US", help="the location errors name (default US)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="stop when this process is gone (a test run killed before its clean-up must not leave the emulator)",
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Any:
    """bqemulator's Settings for the parsed flags; explicit values win over BQEMU_* variables and .bqemu.toml."""
    from bqemulator.config import LogLevel, PersistenceMode, Settings

    return Settings(
        rest_host=args.host,
        rest_port=args.port,
        grpc_host=args.host,
        grpc_port=args.grpc_port,
        default_project_id=args.project,
        persistence_mode=PersistenceMode.PERSISTENT if args.data_dir else PersistenceMode.EPHEMERAL,
        data_dir=args.data_dir,
        enable_format_extensions=False,
        log_level=LogLevel(args.log_level),
    )


async def serve(settings: Any, parent_pid: int | None = None) -> None:
    """Run the server until SIGTERM/SIGINT (or until parent_pid is gone), announcing the bound endpoints once both
    servers listen."""
    from bqemulator.server import EmulatorServer

    server = EmulatorServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    await server.start()
    try:
        print(
            f"bqemulator ready rest={server.rest_url} grpc={server.grpc_endpoint} "
            f"project={settings.default_project_id}",
            flush=True,
        )
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    """Set stop once process pid has exited: it runs in another session, so no terminal signal reaches us."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set()
            return
        except PermissionError:
            pass  # alive, but owned by someone else
        await asyncio.sleep(1)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    patch_bqemulator()
    if args.location != "US":
        patch_location(args.location)
    asyncio.run(serve(settings_from(args), args.parent_pid))


if __name__ == "__main__":
    sys.exit(main())
