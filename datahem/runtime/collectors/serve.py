"""`datahem serve http|sns`: run a collector on this machine with a project's routing tables.

It publishes to real Pub/Sub (Application Default Credentials, project from GOOGLE_CLOUD_PROJECT), or to the
emulator when PUBSUB_EMULATOR_HOST is set; the emulator starts empty, so there the topics of the routing table
are created first. The HTTP collector runs under uvicorn exactly as on Cloud Run; the SNS collector runs through
functions-framework exactly as on Cloud Functions. Both refuse to start (CollectorConfigError) on a malformed
routing table or a missing setting, and shut down gracefully on SIGINT/SIGTERM: stop accepting, finish the
requests in flight, flush the publisher.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.routing import iter_topics

log = logging.getLogger(__name__)

SNS_MAIN = Path(__file__).resolve().parent / "sns" / "main.py"
KINDS = ("http", "sns")


def _environment(project_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    out.setdefault("DATAHEM_ROUTING_DIR", str(project_dir / "generated" / "routing"))
    if not out.get("GOOGLE_CLOUD_PROJECT"):
        raise CollectorConfigError(
            "environment variable GOOGLE_CLOUD_PROJECT is not set; it names the project that holds the Pub/Sub "
            "topics (with PUBSUB_EMULATOR_HOST, any id of 6 or more characters, e.g. demo-project)"
        )
    return out


def ensure_emulator_topics(emulator_host: str, project: str, topics: set[str]) -> list[str]:
    """Create the topics that do not exist yet on the emulator; returns the ones created."""
    import grpc
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    client = pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host)))
    created = []
    try:
        for topic in sorted(topics):
            with contextlib.suppress(gexc.AlreadyExists):
                client.create_topic(name=f"projects/{project}/topics/{topic}", timeout=10)
                created.append(topic)
    except gexc.GoogleAPIError as err:
        raise CollectorConfigError(f"cannot reach the Pub/Sub emulator at {emulator_host}: {err}") from None
    finally:
        client.transport.close()
    return created


def serve(kind: str, project_dir: Path, host: str = "127.0.0.1", port: int = 8080, env=None) -> None:
    """Run the collector until SIGINT/SIGTERM; raises CollectorConfigError before listening when unusable."""
    if kind not in KINDS:
        raise CollectorConfigError(f"unknown collector {kind!r}; choose one of {', '.join(KINDS)}")
    env = _environment(project_dir, os.environ if env is None else env)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    routing_dir = Path(env["DATAHEM_ROUTING_DIR"])
    if kind == "http":
        from datahem.runtime.collectors.http.app import HttpCollector, HttpSettings

        app = HttpCollector.create(HttpSettings.from_env(env), env)
        _prepare_emulator(env, routing_dir, kind)
        _serve_http(app, host, port)
    else:
        os.environ.update({k: v for k, v in env.items() if k.startswith(("DATAHEM_", "GOOGLE_", "PUBSUB_"))})
        import functions_framework

        app = functions_framework.create_app(target="collect", source=str(SNS_MAIN), signature_type="http")
        _prepare_emulator(env, routing_dir, kind)
        _serve_wsgi(app, host, port)


def _prepare_emulator(env: Mapping[str, str], routing_dir: Path, kind: str) -> None:
    emulator = env.get("PUBSUB_EMULATOR_HOST")
    if emulator:
        created = ensure_emulator_topics(emulator, env["GOOGLE_CLOUD_PROJECT"], set(iter_topics(routing_dir, (kind,))))
        if created:
            log.info("created on the emulator: %s", ", ".join(created))


def _serve_http(app, host: str, port: int) -> None:
    import uvicorn

    from datahem.runtime.collectors.http.server import LimitedHttpToolsProtocol

    log.info("HTTP collector on http://%s:%d (routes from %s)", host, port, app.settings.routing_dir)
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http=LimitedHttpToolsProtocol,  # as on Cloud Run: httptools, with the request head bounded
            lifespan="on",
            proxy_headers=False,  # the collector alone decides which X-Forwarded-For entry to trust
            timeout_graceful_shutdown=30,
            log_level="info",
            access_log=False,  # as on Cloud Run: a request line can carry an API key in its query string
        )
    ).run()


def _serve_wsgi(app, host: str, port: int) -> None:
    """Serve a WSGI app with threads; on a signal, stop accepting and join the requests in flight (each SNS
    request publishes synchronously, so once they are joined nothing is left unacknowledged)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    server.daemon_threads = False
    server.block_on_close = True
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="sns-collector", daemon=True)
    thread.start()
    log.info("SNS collector on http://%s:%d/?route=...", host, server.server_port)
    stop.wait()
    log.info("shutting down: finishing requests in flight")
    server.shutdown()
    server.server_close()
    thread.join()
    module = sys.modules.get("main")  # functions-framework loads the function's source as module `main`
    collector = getattr(module, "COLLECTOR", None)
    if collector is not None:
        collector.close()
