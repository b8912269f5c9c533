"""`datahem dev`: start the whole platform on this machine, report where everything listens, stop it all on Ctrl-C.

Order matters: the emulators first (the topics, subscriptions and tables must exist before anything publishes or
reads), then the AWS stand-ins, the collectors, the Kinesis reader and the pipelines. Every process runs in a
session of its own and is stopped, group by group, in the reverse order when the supervisor gets SIGINT or
SIGTERM, so collectors flush into a still running Pub/Sub. The BigQuery emulator also watches the supervisor's pid,
so even a SIGKILLed supervisor leaves no emulator behind.

The state file (PROJECT/.datahem/dev.json) tells `--send-examples`, `--query` and tests where the running
platform is; it exists only while the platform is ready. Once ready the supervisor prints one machine-readable
line: `DATAHEM_DEV_READY {"state": PATH, "seconds": S}`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from datahem.compiler.sources import KINDS
from datahem.dev import emulators
from datahem.dev.layout import Layout
from datahem.dev.sns_local import certificate_server
from datahem.output import note, reporting, step
from datahem.runtime.bigquery import bigquery_client

READY_MARK = "DATAHEM_DEV_READY"
STATE_FILE = Path(".datahem") / "dev.json"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}
# A syntactically valid, unsigned JWT: moto's STS accepts any web-identity token.
DEV_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.ZGV2"


class DevError(Exception):
    """`datahem dev` cannot start or find the platform; the message says why and what to do."""


def state_path(project_dir: Path) -> Path:
    return project_dir / STATE_FILE


def read_state(project_dir: Path) -> dict:
    """The state of the running `datahem dev` of project_dir; DevError when none is running."""
    path = state_path(project_dir)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise DevError(f"no `datahem dev` is running for {project_dir} ({path} is missing); start one first") from None
    if not _alive(state["pid"]):
        raise DevError(f"the `datahem dev` that wrote {path} (pid {state['pid']}) is gone; start it again")
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_interrupt(*_) -> None:
    raise KeyboardInterrupt


# --- the platform's resources ----------------------------------------------------------------------------------


def create_topics(emulator_host: str, layout: Layout) -> int:
    """Topics, backup/enrichment subscriptions and processed topics, over an explicit plaintext channel."""
    import grpc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    pub = pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host)))
    sub = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(emulator_host)))
    project = layout.gcp_project
    created = 0
    for t in layout.topics:
        for topic in (t.topic, t.processed_topic):
            pub.create_topic(name=f"projects/{project}/topics/{topic}", timeout=30)
            created += 1
        for name in (t.backup_subscription, t.enrichment_subscription):
            sub.create_subscription(
                name=f"projects/{project}/subscriptions/{name}",
                topic=f"projects/{project}/topics/{t.topic}",
                ack_deadline_seconds=60,
                timeout=30,
            )
    pub.transport.close()
    sub.transport.close()
    return created


def _without_policy_tags(fields: list[dict]) -> list[dict]:
    out = []
    for f in fields:
        g = {k: v for k, v in f.items() if k != "policyTags"}
        if "fields" in g:
            g["fields"] = _without_policy_tags(g["fields"])
        out.append(g)
    return out


def create_tables(endpoint: str, layout: Layout, generated: Path) -> int:
    """Datasets and tables through the API from generated/bigquery/**/*.schema.json (the emulator cannot run the
    DDL; policy tags are dropped: there is no taxonomy locally)."""
    from google.cloud import bigquery

    client = bigquery_client(layout.gcp_project, endpoint)
    for dataset in sorted({t.split(".")[0] for t in layout.tables}):
        ds = bigquery.Dataset(f"{layout.gcp_project}.{dataset}")
        ds.location = layout.location
        client.create_dataset(ds, exists_ok=True)
    for table in layout.tables:
        dataset, name = table.split(".")
        doc = json.loads((generated / "bigquery" / dataset / f"{name}.schema.json").read_text())
        schema = [bigquery.SchemaField.from_api_repr(f) for f in _without_policy_tags(doc["fields"])]
        client.create_table(bigquery.Table(f"{layout.gcp_project}.{table}", schema=schema), exists_ok=True)
    return len(layout.tables)


def create_streams(moto_url: str, routing_dir: Path) -> list[str]:
    """The Kinesis streams of kinesis.json in moto (its default account is the ARNs' 123456789012 locally)."""
    import boto3

    doc = json.loads((routing_dir / "kinesis.json").read_text())
    made = []
    for arn, stream in sorted(doc.get("streams", {}).items()):
        client = boto3.client("kinesis", endpoint_url=moto_url, region_name=stream["region"], **_boto_keys())
        name = arn.rsplit("/", 1)[1]
        client.create_stream(StreamName=name, ShardCount=1)
        client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        made.append(arn)
    return made


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


@contextlib.contextmanager
def metadata_server() -> Iterator[str]:
    """A stand-in for the GCP metadata server's identity-token endpoint (the Kinesis reader federates to AWS with
    it); yields host:port for GCE_METADATA_HOST."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            ok = self.headers.get("Metadata-Flavor") == "Google" and "/identity?" in self.path
            body = DEV_IDENTITY_TOKEN.encode() if ok else b"forbidden"
            self.send_response(200 if ok else 403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="metadata", daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _wait_for_line(log: Path, text: str, proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise DevError(f"{log.stem} exited with {proc.returncode} while starting:\n{_tail(log)}")
        time.sleep(0.2)
    raise DevError(f"{log.stem} did not report `{text}` within {timeout}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- what to print ---------------------------------------------------------------------------------------------


def dev_secrets(routing_dir: Path) -> dict[str, str]:
    """Local values for the secrets the HTTP routes name (API keys, HMAC secrets): not secret, printed on purpose."""
    doc = json.loads((routing_dir / "http.json").read_text())
    names = {r["auth"]["secret_env"] for r in doc.get("routes", []) if r["auth"].get("secret_env")}
    return {name: f"dev-{name.lower().replace('_', '-')}" for name in sorted(names)}


def curl_commands(http_url: str, routing_dir: Path, secrets: dict[str, str], examples: dict[str, str]) -> list[str]:
    """A ready-to-paste curl per HTTP route and method, with its auth header (HMAC computed by openssl)."""
    doc = json.loads((routing_dir / "http.json").read_text())
    out = []
    for route in doc.get("routes", []):
        url = f"{http_url}{route['path']}"
        payload = examples.get(route["message_type"], "{}")
        flat = _flat_strings(payload)
        auth = route["auth"]
        for method in route["methods"]:
            if method == "GET":
                query = urlencode(flat or {})
                out.append(f"curl -i {shlex.quote(url + ('?' + query if query else ''))}")
                continue
            form = route["format"] in ("ua", "form")
            body = urlencode(flat or {}) if form else json.dumps(json.loads(payload), separators=(",", ":"))
            ctype = "application/x-www-form-urlencoded" if form else "application/json"
            parts = [f"curl -i -X {method} {shlex.quote(url)} -H 'Content-Type: {ctype}'"]
            if auth["type"] == "api_key":
                parts.append(f"-H {shlex.quote(auth['header'] + ': ' + secrets[auth['secret_env']])}")
            if auth["type"] == "hmac":
                digest = f"openssl dgst -{auth['algorithm']} -hmac {shlex.quote(secrets[auth['secret_env']])}"
                digest += " -binary | base64" if auth.get("encoding") == "base64" else " | awk '{print $NF}'"
                sig = f'{auth.get("prefix", "")}$(printf %s "$BODY" | {digest})'
                parts.append(f'-H "{auth["header"]}: {sig}" --data-raw "$BODY"')
                out.append(f"BODY={shlex.quote(body)}; " + " ".join(parts))
                continue
            parts.append(f"--data-raw {shlex.quote(body)}")
            out.append(" ".join(parts))
    return out


def _flat_strings(payload: str) -> dict[str, str] | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    if isinstance(doc, dict) and all(isinstance(v, str) for v in doc.values()):
        return doc
    return None


# --- the supervisor --------------------------------------------------------------------------------------------


def run(project_dir: Path, layout: Layout, examples: dict[str, str], console) -> None:
    """Start everything, print the endpoints, wait for SIGINT/SIGTERM, stop everything. `examples`: one valid
    example payload per message type, for the curl lines."""
    project_dir = project_dir.resolve()
    state_file = state_path(project_dir)
    if state_file.exists():
        try:
            running = read_state(project_dir)["pid"]
        except DevError:
            running = None  # a stale file of a platform that is gone
            _stop_leftovers(state_file, console)
        if running:
            raise DevError(f"`datahem dev` is already running for {project_dir} (pid {running}); stop it first")
    work = project_dir / ".datahem" / "dev"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    routing = project_dir / "generated" / "routing"
    python = sys.executable
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    endpoints: dict[str, str] = {}
    components: dict[int, tuple[str, Path | None]] = {}  # pid -> (what it is, its log)
    try:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(reporting(console))  # each component a step: a spinner, or a line in a log
                with step("starting the Pub/Sub emulator") as s:
                    pubsub = stack.enter_context(emulators.pubsub_emulator())
                    n = create_topics(pubsub, layout)
                    endpoints["pubsub"] = pubsub
                    s.done(f"Pub/Sub emulator on {pubsub}: {n} topics, {2 * len(layout.topics)} subscriptions")

                with step("starting the BigQuery emulator") as s:
                    emulators.ensure_bigquery_emulator_python(note)
                    bq = stack.enter_context(
                        emulators.bigquery_emulator(project=layout.gcp_project, location=layout.location)
                    )
                    n = create_tables(bq, layout, project_dir / "generated")
                    endpoints["bigquery"] = str(bq)
                    endpoints["bigquery_storage"] = bq.grpc  # the Storage Write API, where the pipelines write rows
                    s.done(f"BigQuery emulator on {bq} (Storage Write API on {bq.grpc}): {n} tables")

                with step("starting moto (Kinesis) and the SNS certificate server") as s:
                    moto_url, moto = stack.enter_context(emulators.moto_server(logs / "moto.log"))
                    components[moto.pid] = ("moto (Kinesis)", logs / "moto.log")
                    streams = create_streams(moto_url, routing)
                    sns_local = stack.enter_context(certificate_server(work / "sns"))
                    metadata = stack.enter_context(metadata_server())
                    endpoints |= {"moto": moto_url, "metadata": metadata, "sns_certificate": sns_local["cert_url"]}
                    s.done(
                        f"moto on {moto_url}: {len(streams)} Kinesis stream(s); SNS signing certificate served locally"
                    )

                secrets = dev_secrets(routing)
                env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME",)}
                env |= AWS_ENV | secrets
                env |= {
                    "GOOGLE_CLOUD_PROJECT": layout.gcp_project,
                    "PUBSUB_EMULATOR_HOST": pubsub,
                    # the Storage Write API of the BigQuery emulator (gRPC), where the pipelines write rows
                    "BIGQUERY_STORAGE_EMULATOR_HOST": bq.grpc,
                    "DATAHEM_ROUTING_DIR": str(routing),
                    "DATAHEM_AWS_ENDPOINT_URL": moto_url,
                    "GCE_METADATA_HOST": metadata,
                    "DATAHEM_SNS_TEST_ONLY_CERT_HOST_PATTERN": sns_local["DATAHEM_SNS_TEST_ONLY_CERT_HOST_PATTERN"],
                    "DATAHEM_SNS_TEST_ONLY_CA_FILE": sns_local["DATAHEM_SNS_TEST_ONLY_CA_FILE"],
                    "PYTHONUNBUFFERED": "1",
                }

                served = [k for k in KINDS.values() if k.dev.serve]
                with step("starting the collectors") as s:
                    for kind in served:
                        port = emulators.free_port()
                        command = [python, "-m", "datahem.cli", "serve", kind.name, "--port", str(port)]
                        command += ["--project", str(project_dir)]
                        log = logs / f"{kind.name}-collector.log"
                        proc = stack.enter_context(emulators.child_process(command, log, env))
                        components[proc.pid] = (f"{kind.label} collector", log)
                        emulators.wait_for_port(port, 60, proc)
                        endpoints[kind.name] = f"http://127.0.0.1:{port}"
                    s.done(", ".join(f"{k.label} collector on {endpoints[k.name]}" for k in served))

                with step("starting the Kinesis reader and the pipelines (DirectRunner)") as s:
                    for kind in KINDS.values():
                        if kind.dev.reader_module and any(src.kind == kind.name for src in layout.sources):
                            command = [python, "-m", kind.dev.reader_module, "--routing-dir", str(routing)]
                            command += ["--runner=DirectRunner"]
                            log = logs / f"{kind.name}-reader.log"
                            reader = stack.enter_context(emulators.child_process(command, log, env, project_dir))
                            components[reader.pid] = (f"{kind.label} reader", log)
                    pipelines_log = logs / "pipelines.log"
                    command = [python, "-m", "datahem.dev.pipelines", "--project-dir", str(project_dir)]
                    command += ["--gcp-project", layout.gcp_project, "--bigquery-endpoint", bq]
                    command += [src.name for src in layout.sources]
                    proc = stack.enter_context(emulators.child_process(command, pipelines_log, env, project_dir))
                    components[proc.pid] = ("pipelines", pipelines_log)
                    _wait_for_line(pipelines_log, "pipelines running", proc, 180)
                    s.done(f"{len(layout.sources)} source pipelines and the backup pipeline on the DirectRunner")

                seconds = time.monotonic() - started
                children = _descendants()
                state = {
                    "pid": os.getpid(),
                    "project_dir": str(project_dir),
                    "endpoints": endpoints,
                    "secrets": secrets,
                    "sns": {"cert_url": sns_local["cert_url"], "signing_key": sns_local["signing_key"]},
                    "routing_dir": str(routing),
                    "logs": str(logs),
                    "children": children,
                    "ready_seconds": round(seconds, 2),
                    "layout": layout.to_json(),
                }
                stack.callback(lambda: state_file.unlink(missing_ok=True))
                tmp = state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
                tmp.replace(state_file)
                _print_ready(console, state, routing, examples, layout)
                print(
                    f"{READY_MARK} {json.dumps({'state': str(state_file), 'seconds': round(seconds, 2)})}", flush=True
                )
                _wait(console, components)
            except KeyboardInterrupt:
                console.print("datahem dev: stopping")
            finally:
                # the stack stops everything now: a second Ctrl-C must not cut that short
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except (OSError, RuntimeError) as err:  # a missing emulator, a port never opened, a child that died
        raise DevError(f"could not start (everything started so far was stopped): {err}") from err
    console.print("datahem dev: stopped everything it started")


def _stop_leftovers(state_file: Path, console) -> None:
    """Kill what a killed `datahem dev` left running (the kernel's parent-death signal normally saw to it already;
    not on other systems, or for a process that was started by a child). A pid counts only if the process is still
    the one that was started: it began before the state file was written."""
    import psutil

    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    written = state_file.stat().st_mtime
    for pid in state.get("children", []):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.create_time() <= written:
                what = " ".join(Path(a).name for a in proc.cmdline()[:3])
                proc.kill()
                console.print(f"stopped pid {pid} left by a previous `datahem dev` ({what})")
    state_file.unlink(missing_ok=True)


def _descendants() -> list[int]:
    import psutil

    return sorted(p.pid for p in psutil.Process().children(recursive=True))


def _wait(console, components: dict[int, tuple[str, Path | None]]) -> None:
    """Until SIGINT/SIGTERM (raised here as KeyboardInterrupt); when a child exits on its own, say which one, how,
    and where its log is (the rest keeps running: Ctrl-C, fix, start again)."""
    import psutil

    watched = {p.pid: p for p in psutil.Process().children()}
    for pid, proc in watched.items():
        if pid not in components:  # the emulators: named by their command, their logs are in a temporary folder
            with contextlib.suppress(psutil.Error):
                components[pid] = (" ".join(Path(a).name for a in proc.cmdline()[:3]), None)
    reported: set[int] = set()
    while True:
        time.sleep(1)
        for pid, proc in watched.items():
            if pid in reported:
                continue
            try:
                gone = not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                gone = True
            if gone:
                reported.add(pid)
                name, log = components.get(pid, (f"pid {pid}", None))
                where = f"; its log: {log}" if log else ""
                last = _last_line(log) if log else ""
                console.print(f"[red]✗ {name} stopped on its own (pid {pid}){where}[/red]", soft_wrap=True)
                if last:
                    console.print(f"  {last}", markup=False, highlight=False)


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _print_ready(console, state: dict, routing: Path, examples: dict[str, str], layout: Layout) -> None:
    e = state["endpoints"]
    console.print()
    console.print(f"[bold]datahem dev is ready[/bold] in {state['ready_seconds']:.1f}s (project {layout.gcp_project})")
    console.print(f"  Pub/Sub emulator   PUBSUB_EMULATOR_HOST={e['pubsub']}")
    console.print(f'  BigQuery emulator  {e["bigquery"]}  (datahem dev --query "SELECT ...")')
    console.print(f"  HTTP collector     {e['http']}")
    sns = json.loads((routing / "sns.json").read_text())
    for route in sorted(sns.get("routes", {})):
        console.print(f"  SNS collector      {e['sns']}/?{sns['query_parameter']}={route}  (locally signed)")
    console.print(f"  moto (Kinesis)     {e['moto']}")
    console.print(f"  logs               {state['logs']}")
    console.print()
    console.print("Try it (or: datahem dev --send-examples):")
    for line in curl_commands(e["http"], routing, state["secrets"], examples):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    console.print("Ctrl-C stops everything.")
