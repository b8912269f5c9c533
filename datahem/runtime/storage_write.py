"""Rows into BigQuery through the Storage Write API (`google-cloud-bigquery-storage`'s BigQueryWriteClient over gRPC,
no Java): the table's row message (`rowproto`) is the writer schema, rows are appended in requests of serialized row
messages.

- `default` stream (streaming sources): at-least-once; the pipeline's uuid de-duplication stays.
- `committed` stream (the backup): one committed stream per writer, every append at an explicit offset, so a retried
  append (its response lost, a time-out) is not written twice: the API answers ALREADY_EXISTS for an offset it has,
  which counts as written.

Failures, as in the `insertAll` writer (`beam/io.py`), never stall and never lose a row:
- a row the row message cannot carry (`rowproto.RowError`) is refused before anything is sent;
- `row_errors` of a response (the API refused those rows, and wrote none of the request) refuse those rows with
  BigQuery's reason, and the others are appended again;
- a request refused as a whole for its content (INVALID_ARGUMENT without row errors) is split in halves until each
  refused row is alone, as `insert_isolating` does;
- transient errors (UNAVAILABLE, INTERNAL, ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNKNOWN, connection
  errors) are retried with bounded backoff at the same offset, then raised (the runner retries the bundle);
- a writer schema the table does not match (the table not yet migrated to the release's columns, or a committed
  stream opened before a migration) is no fault of the rows: the writer refreshes (a committed stream is finalized
  and a new one opened, which sees the table's current schema) and retries with backoff, then raises; nothing is
  dead-lettered for it;
- anything else (NOT_FOUND, PERMISSION_DENIED, OUT_OF_RANGE: configuration or a lost offset, not data) is raised.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from datahem.runtime.rowproto import RowEncoder, RowError

MODES = ("default", "committed")
# google.rpc.Code values the AppendRows responses carry
OK, INVALID_ARGUMENT, ALREADY_EXISTS, OUT_OF_RANGE = 0, 3, 6, 11
TRANSIENT_CODES = {1, 2, 4, 8, 10, 13, 14}  # CANCELLED UNKNOWN DEADLINE_EXCEEDED RESOURCE_EXHAUSTED ABORTED INTERNAL
# UNAVAILABLE
MAX_REQUEST_BYTES = 9 * 1024 * 1024  # the API takes 10 MB per AppendRows request
MAX_REQUEST_ROWS = 10_000


class WriteFailed(RuntimeError):
    """An append the API refused for a reason that is not the rows' (raised: the bundle is retried)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"the Storage Write API refused the append (code {code}): {message}")
        self.code = code


class _Transient(Exception):
    pass


class _SchemaMismatch(_Transient):
    pass


def is_schema_mismatch(message: str) -> bool:
    """The API's words for a writer schema the table does not match (SCHEMA_MISMATCH_EXTRA_FIELDS and its kin)."""
    text = message.lower()
    return "schema" in text and ("mismatch" in text or "more fields" in text or "extra field" in text)


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff: `attempts` tries in all, waiting first, first*factor, ... (at most `cap` s)."""

    attempts: int = 6
    first: float = 0.5
    factor: float = 2.0
    cap: float = 20.0

    def delays(self) -> list[float]:
        return [min(self.cap, self.first * self.factor**i) for i in range(self.attempts - 1)]


def storage_endpoint_from_env(explicit: str | None) -> str | None:
    """The Write API's gRPC endpoint (host:port) of an emulator: an explicit option wins, then
    BIGQUERY_STORAGE_EMULATOR_HOST; None for the real API."""
    value = explicit or os.environ.get("BIGQUERY_STORAGE_EMULATOR_HOST")
    return value.removeprefix("http://") if value else None


def write_client(endpoint: str | None) -> Any:
    from google.cloud.bigquery_storage_v1 import BigQueryWriteClient

    if not endpoint:
        return BigQueryWriteClient()
    import grpc
    from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport

    return BigQueryWriteClient(transport=BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(endpoint)))


def _is_transient_exception(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    transient = (
        gexc.ServiceUnavailable,
        gexc.InternalServerError,
        gexc.Aborted,
        gexc.DeadlineExceeded,
        gexc.Unknown,
        gexc.TooManyRequests,
        gexc.ResourceExhausted,
        gexc.Cancelled,
    )
    return isinstance(exc, (*transient, ConnectionError, TimeoutError))


class StorageWriter:
    """Appends rows of one table; `write(rows)` returns {index: reason} of the rows refused (the others are written)."""

    def __init__(
        self,
        project: str,
        table: str,
        encoder: RowEncoder,
        endpoint: str | None = None,
        mode: str = "default",
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 60.0,
        client: Any = None,
    ):
        if mode not in MODES:
            raise ValueError(f"write mode {mode!r}: expected one of {', '.join(MODES)}")
        from google.cloud.bigquery_storage_v1 import types

        self.types = types
        self.client = client or write_client(endpoint)
        dataset, name = table.split(".", 1)
        self.parent = self.client.table_path(project, dataset, name)
        self.encoder = encoder
        self.mode = mode
        self.backoff = backoff
        self.sleep = sleep
        self.timeout = timeout
        self.schema = types.ProtoSchema(proto_descriptor=encoder.descriptor)
        self.stream: str | None = f"{self.parent}/streams/_default" if mode == "default" else None
        self.offset = 0  # committed: the offset of the next append
        self.schema_refreshes = 0

    # --- the stream --------------------------------------------------------------------------------------------

    def _stream(self) -> str:
        if self.stream is None:
            t = self.types
            created = self.client.create_write_stream(
                parent=self.parent, write_stream=t.WriteStream(type_=t.WriteStream.Type.COMMITTED), timeout=self.timeout
            )
            self.stream, self.offset = created.name, 0
        return self.stream

    def refresh(self) -> None:
        """After a schema mismatch: a committed stream is replaced by a new one (its schema is the table's when it
        is created; rows are visible as soon as appended, so nothing is lost); the default stream follows the table."""
        self.schema_refreshes += 1
        if self.mode == "committed" and self.stream is not None:
            with contextlib.suppress(Exception):
                self.client.finalize_write_stream(name=self.stream, timeout=self.timeout)
            self.stream = None

    def close(self) -> None:
        """Finalize a committed stream (its rows are visible already); the default stream needs nothing."""
        if self.mode == "committed" and self.stream is not None:
            self.client.finalize_write_stream(name=self.stream, timeout=self.timeout)
            self.stream = None

    # --- appends -----------------------------------------------------------------------------------------------

    def write(self, rows: Sequence[dict]) -> dict[int, str]:
        refused: dict[int, str] = {}
        encoded: list[tuple[int, bytes]] = []
        for i, row in enumerate(rows):
            try:
                encoded.append((i, self.encoder.encode(row)))
            except RowError as exc:
                refused[i] = f"the row does not fit the table's row message: {exc}"
        start, size = 0, 0
        for j, (_, data) in enumerate(encoded):
            if j > start and (size + len(data) > MAX_REQUEST_BYTES or j - start >= MAX_REQUEST_ROWS):
                refused.update(self._append_isolating(encoded[start:j]))
                start, size = j, 0
            size += len(data) + 4
        if encoded[start:]:
            refused.update(self._append_isolating(encoded[start:]))
        return refused

    def _append_isolating(self, batch: list[tuple[int, bytes]]) -> dict[int, str]:
        refused: dict[int, str] = {}
        pending = [batch]
        while pending:
            part = pending.pop()
            code, message, row_errors = self._append_with_backoff([data for _, data in part])
            if code == OK:
                continue
            if row_errors:
                for index, reason in row_errors.items():
                    refused[part[index][0]] = f"BigQuery refused the row: {reason}"
                rest = [p for k, p in enumerate(part) if k not in row_errors]
                if rest:
                    pending.append(rest)
            elif code == INVALID_ARGUMENT:
                if len(part) == 1:
                    refused[part[0][0]] = f"the Write API refused the request with only this row: {message}"
                else:
                    mid = len(part) // 2
                    pending += [part[mid:], part[:mid]]
            else:
                raise WriteFailed(code, message)
        return refused

    def _append_with_backoff(self, serialized: list[bytes]) -> tuple[int, str, dict[int, str]]:
        for delay in [*self.backoff.delays(), None]:
            try:
                return self._append(serialized)
            except _SchemaMismatch as exc:
                if delay is None:
                    raise WriteFailed(INVALID_ARGUMENT, str(exc)) from None
                self.refresh()
                self.sleep(delay)
            except Exception as exc:
                if delay is None or not (isinstance(exc, _Transient) or _is_transient_exception(exc)):
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _append(self, serialized: list[bytes]) -> tuple[int, str, dict[int, str]]:
        """One AppendRows request (at the stream's next offset when committed): (code, message, {row: reason})."""
        t = self.types
        stream = self._stream()
        request = t.AppendRowsRequest(
            write_stream=stream,
            proto_rows=t.AppendRowsRequest.ProtoData(
                writer_schema=self.schema, rows=t.ProtoRows(serialized_rows=serialized)
            ),
        )
        if self.mode == "committed":
            request.offset = self.offset
        responses = list(
            # retry=None: the only retries are ours, at a known offset (the library's would resend a spent iterator)
            self.client.append_rows(
                iter([request]),
                retry=None,
                timeout=self.timeout,
                metadata=(("x-goog-request-params", f"write_stream={stream}"),),
            )
        )
        if not responses:
            raise _Transient("the Write API closed the stream without a response")
        response = responses[0]
        row_errors = {int(e.index): e.message or str(e.code) for e in response.row_errors}
        code = int(response.error.code) if "error" in response else OK
        if code == OK or (code == ALREADY_EXISTS and self.mode == "committed"):
            # ALREADY_EXISTS: this offset was written by an earlier try whose response was lost; not written twice
            self.offset += len(serialized)
            return OK, "", {}
        if code in TRANSIENT_CODES:
            raise _Transient(response.error.message)
        if not row_errors and is_schema_mismatch(response.error.message):
            raise _SchemaMismatch(response.error.message)
        return code, response.error.message, row_errors
