"""The SNS collector's Cloud Functions (gen 2) entry point: `functions-framework --target collect --source
datahem/runtime/collectors/sns/main.py`, or `datahem serve sns`.

Configuration comes from the environment (see SnsSettings.from_env and datahem/runtime/collectors/README.md). The
collector is built once per function instance, at cold start, so a malformed routing table stops the instance
before it answers anything; it is the instance's one long-lived object (publisher client and certificate cache),
never rebound.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import flask
import functions_framework

if importlib.util.find_spec("datahem") is None:
    # functions-framework puts this file's folder on sys.path, not the source root that holds datahem/runtime/ (Cloud
    # Functions deploys the repository's datahem/runtime/ and generated/ with this file as the function's source).
    sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from datahem.runtime.collectors.sns.collector import SnsCollector, SnsSettings  # noqa: E402

COLLECTOR = SnsCollector.create(SnsSettings.from_env(os.environ))


def _body(request: flask.Request, limit: int) -> bytes | None:
    """The raw body, or None when it is over the limit (checked while reading, not trusting Content-Length)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = request.stream.read(limit + 1)
    return None if len(data) > limit else data


@functions_framework.http
def collect(request: flask.Request):
    response = COLLECTOR.handle(
        request.method,
        request.args,
        {k.lower(): v for k, v in request.headers.items()},
        _body(request, COLLECTOR.settings.max_body_bytes),
    )
    return response.body, response.status, list(response.headers)
