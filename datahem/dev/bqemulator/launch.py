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
import functools
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


def _field_json(field: Any) -> dict[str, Any]:
    """A catalog TableFieldSchema as the REST field dict, nested fields included."""
    return {
        "name": field.name,
        "type": field.type,
        "mode": field.mode,
        "fields": [_field_json(f) for f in field.fields],
    }


def _table_arrow_schema_nested(table_meta: Any) -> Any:
    """Stand-in for ``write_servicer._table_arrow_schema``, which drops a RECORD's fields (every STRUCT column then
    fails the Storage Write API's insert with "a STRUCT with no fields"): the same schema with nested fields."""
    from bqemulator.api.routes.tabledata import _build_arrow_schema

    return _build_arrow_schema([_field_json(f) for f in table_meta.schema_.fields])


ROW_ERRORS = "datahem-row-errors:"


def _with_row_errors(original: Any) -> Any:
    """Wrap ``write_servicer._rows_for_request``: when a request's proto rows cannot be stored, find the rows at fault
    one by one and report them as the real API does (INVALID_ARGUMENT with ``row_errors``, nothing of the request
    written), instead of failing the whole gRPC stream with UNKNOWN (what bqemulator 1.4.0 does for a value it cannot
    convert, e.g. an ISO 8601 INTERVAL). A writer schema with top-level fields the table lacks is refused as BigQuery
    refuses it (INVALID_ARGUMENT, "Input schema has more fields than BigQuery schema"), where bqemulator dropped them."""
    import json

    def rows_for_request(request: Any, proto_decoder: Any, arrow_schema_bytes: Any, target_schema: Any) -> Any:
        from bqemulator.grpc_api import write_servicer
        from bqemulator.streaming.proto_deserializer import ProtoRowDecoder, proto_rows_to_arrow_table

        if write_servicer._has_field(request, "proto_rows") and write_servicer._has_field(
            request.proto_rows, "writer_schema"
        ):
            # BigQuery refuses a writer schema with fields the table lacks (SCHEMA_MISMATCH_EXTRA_FIELDS); bqemulator
            # would drop their values without a word
            sent = [f.name for f in request.proto_rows.writer_schema.proto_descriptor.field]
            extra = [name for name in sent if name not in target_schema.names]
            if extra:
                raise ValueError(
                    "Input schema has more fields than BigQuery schema, extra fields: "
                    + ", ".join(f"'{name}'" for name in extra)
                )
        try:
            return original(request, proto_decoder, arrow_schema_bytes, target_schema)
        except Exception:
            if not write_servicer._has_field(request, "proto_rows"):
                raise
            data = request.proto_rows
            decoder = proto_decoder
            if write_servicer._has_field(data, "writer_schema"):
                decoder = ProtoRowDecoder(data.writer_schema.proto_descriptor)
            if decoder is None:
                raise
            errors = []
            for index, raw in enumerate(data.rows.serialized_rows):
                try:
                    proto_rows_to_arrow_table(decoder, [raw], target_schema)
                except Exception as exc:  # noqa: BLE001 - any failure of a row is that row's error
                    errors.append([index, str(exc)])
            if not errors:
                raise
            raise ValueError(ROW_ERRORS + json.dumps(errors)) from None

    return rows_for_request


def _error_response_with_row_errors(original: Any) -> Any:
    """Wrap ``write_servicer._error_response``: an error carrying row errors (see `_with_row_errors`) becomes an
    AppendRowsResponse with ``row_errors`` (code FIELDS_ERROR, the row's reason)."""
    import json

    def error_response(stream_name: str, detail: str, status_code: Any = None) -> bytes:
        if not detail.startswith(ROW_ERRORS):
            return original(stream_name, detail) if status_code is None else original(stream_name, detail, status_code)
        from google.cloud.bigquery_storage_v1 import types
        from google.rpc import status_pb2

        errors = json.loads(detail.removeprefix(ROW_ERRORS))
        response = types.AppendRowsResponse(
            write_stream=stream_name,
            error=status_pb2.Status(code=3, message=f"{len(errors)} row(s) of the request cannot be stored"),
            row_errors=[
                types.RowError(index=i, code=types.RowError.RowErrorCode.FIELDS_ERROR, message=m) for i, m in errors
            ],
        )
        return types.AppendRowsResponse.serialize(response)

    return error_response


# The event loop both servers run on (set by `serve`): the Write API's DuckDB work is done on it, see `_on_loop`.
_LOOP: asyncio.AbstractEventLoop | None = None


async def _call(method: Any, args: tuple, kwargs: dict) -> Any:
    return method(*args, **kwargs)


def _on_loop(method: Any) -> Any:
    """Run a Write API handler step on the event loop's thread instead of the gRPC worker thread that called it.

    bqemulator 1.4.0 serves the REST API on the event loop and the Write API's (synchronous) handlers on worker
    threads, all on one DuckDB connection. An append inserts rows by scanning a registered Arrow table, which needs
    the GIL while it holds the connection; a REST query waiting for the connection holds the GIL: with two appends
    and a query at once the emulator hung for good (every later append DEADLINE_EXCEEDED). On the loop's thread every
    DuckDB call is serialized, as the REST API's already are."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        loop = _LOOP
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            return method(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(_call(method, args, kwargs), loop).result()

    return run


ON_LOOP = (
    "_bind_stream_to_target",
    "_perform_append",
    "_handle_create_write_stream",
    "_handle_get_write_stream",
    "_handle_finalize_write_stream",
    "_handle_batch_commit_write_streams",
    "_handle_flush_rows",
)


def patch_write_api() -> None:
    """Make the Storage Write API take rows of tables with STRUCT columns (bqemulator 1.4.0 drops nested fields) and
    report the rows it cannot store as ``row_errors``, as BigQuery does."""
    from bqemulator.grpc_api import write_servicer

    for name in ("_table_arrow_schema", "_rows_for_request", "_error_response", "_has_field"):
        if not hasattr(write_servicer, name):
            raise RuntimeError(f"bqemulator has no write_servicer.{name} to patch; update launch.py")
    for name in ON_LOOP:
        if not hasattr(write_servicer.BigQueryWriteHandler, name):
            raise RuntimeError(f"bqemulator has no BigQueryWriteHandler.{name} to patch; update launch.py")
        setattr(write_servicer.BigQueryWriteHandler, name, _on_loop(getattr(write_servicer.BigQueryWriteHandler, name)))
    write_servicer._table_arrow_schema = _table_arrow_schema_nested
    write_servicer._rows_for_request = _with_row_errors(write_servicer._rows_for_request)
    write_servicer._error_response = _error_response_with_row_errors(write_servicer._error_response)


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

    global _LOOP
    _LOOP = asyncio.get_running_loop()
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
    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` writes every thread's stack to the log (hangs)
    args = parse_args(argv)
    patch_bqemulator()
    patch_write_api()
    if args.location != "US":
        patch_location(args.location)
    asyncio.run(serve(settings_from(args), args.parent_pid))


if __name__ == "__main__":
    sys.exit(main())
