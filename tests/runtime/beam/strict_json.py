"""A front for the BigQuery API emulator that refuses, as BigQuery does, a streaming insert whose body is not strict
JSON: the emulator parses a bare `NaN` / `Infinity` token and stores it, BigQuery answers 400 "Invalid JSON payload
received. Unexpected token." for the whole request (googleapis/python-bigquery#696). Everything else is passed on."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _reject_constant(token: str):
    raise ValueError(f"Unexpected token {token}")


def _is_strict_json(body: bytes) -> bool:
    try:
        json.loads(body, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def strict_json_front(upstream: str) -> Iterator[str]:
    """Yields the URL of a proxy to `upstream` (the emulator's REST endpoint) that refuses non-JSON insertAll bodies."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _relay(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "POST" and self.path.split("?")[0].endswith("/insertAll") and not _is_strict_json(body):
                error = {
                    "code": 400,
                    "message": "Invalid JSON payload received. Unexpected token.",
                    "status": "INVALID_ARGUMENT",
                }
                self._answer(400, json.dumps({"error": {**error, "errors": [{"reason": "invalid", **error}]}}).encode())
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
            request = urllib.request.Request(
                upstream + self.path, data=body or None, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    self._answer(response.status, response.read(), response.headers.get("Content-Type"))
            except urllib.error.HTTPError as exc:
                self._answer(exc.code, exc.read(), exc.headers.get("Content-Type"))

        def _answer(self, status: int, data: bytes, content_type: str | None = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
