"""`datahem dev --send-examples` and `datahem dev --query`: talk to the platform a running `datahem dev` started,
found through its state file (PROJECT/.datahem/dev.json).

Examples travel through the real collectors, as their senders would send them: HTTP requests with the route's
auth, SNS notifications signed with the local key, Kinesis records put into moto. An example that its collector
cannot carry as one event is reported and not sent: on a UA route only flat string objects can be form-encoded,
the HTTP collector itself rejects a body that is not a JSON object (400, at the edge, before Pub/Sub), and on SNS a
JSON array Message is a batch (one event per element), not one invalid event.

The collectors assign each event's uuid, so sent events are matched to what arrived through the backup table, by
source and payload (for UA hits, by the decoded form), then looked up by uuid in their table or the dead letters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from datahem.dev.layout import Layout, SourceLayout
from datahem.dev.sns_local import signed_notification
from datahem.dev.supervisor import DevError, read_state
from datahem.runtime.bigquery import bigquery_client


@dataclass
class Sent:
    """One example and what became of it."""

    source: SourceLayout
    example: object  # datahem.compiler.loader.examples.Example (duck-typed: dev does not import the compiler)
    collector: str
    status: str  # "accepted", or why it was not sent / was refused
    sent_at: float = 0.0
    uuid: str | None = None
    arrived: dict = field(default_factory=dict)  # "row" or "dead_letter": the stored row

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


def query(state: dict, sql: str) -> list[dict]:
    """Rows of sql on the running platform's BigQuery emulator, in the project's location; DevError (one line) when
    BigQuery refuses the query."""
    from google.api_core import exceptions
    from google.cloud import bigquery

    client = bigquery_client(state["layout"]["gcp_project"], state["endpoints"]["bigquery"])
    location = state["layout"].get("location", "US")
    try:
        job = client.query(sql, location=location, retry=bigquery.DEFAULT_RETRY.with_deadline(30))
        return [dict(r.items()) for r in job.result()]
    except exceptions.GoogleAPIError as err:
        text = getattr(err, "message", None) or str(err)
        raise DevError(f"query failed: {' '.join(str(text).split())}") from None


def _flat_strings(payload: str) -> dict[str, str] | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    if isinstance(doc, dict) and all(isinstance(v, str) for v in doc.values()):
        return doc
    return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _sign(auth: dict, body: bytes, secret: str) -> str:
    import base64

    digest = hmac.new(secret.encode(), body, getattr(hashlib, auth["algorithm"])).digest()
    text = base64.b64encode(digest).decode() if auth.get("encoding") == "base64" else digest.hex()
    return auth.get("prefix", "") + text


def send_http(state: dict, source: SourceLayout, ex) -> Sent:
    routes = json.loads((Path(state["routing_dir"]) / "http.json").read_text())["routes"]
    route = next(r for r in routes if r["source"] == source.name)
    if route["format"] in ("ua", "form"):
        flat = _flat_strings(ex.payload)
        if flat is None:
            return Sent(source, ex, "http", "not sent: not a flat object of strings, cannot be form-encoded")
        body, ctype = urlencode(flat).encode(), "application/x-www-form-urlencoded"
    else:
        body, ctype = ex.payload.encode(), "application/json"
    headers = {"Content-Type": ctype}
    auth = route["auth"]
    if auth["type"] == "api_key":
        headers[auth["header"]] = state["secrets"][auth["secret_env"]]
    elif auth["type"] == "hmac":
        headers[auth["header"]] = _sign(auth, body, state["secrets"][auth["secret_env"]])
    method = "POST" if "POST" in route["methods"] else route["methods"][0]
    if method != "POST":
        return Sent(source, ex, "http", f"not sent: the route takes {method} only")
    t = time.time()
    status = _post(state["endpoints"]["http"] + route["path"], body, headers)
    return Sent(source, ex, "http", "accepted" if status < 300 else f"refused by the collector: HTTP {status}", t)


def send_sns(state: dict, source: SourceLayout, ex) -> Sent:
    doc = json.loads((Path(state["routing_dir"]) / "sns.json").read_text())
    name, route = next((k, r) for k, r in doc["routes"].items() if r["source"] == source.name)
    with_array = ex.payload.lstrip().startswith("[")
    if with_array:
        return Sent(source, ex, "sns", "not sent: a JSON array Message is an SNS batch (one event per element)")
    note = signed_notification(
        ex.payload, route["topic_arns"][0], Path(state["sns"]["signing_key"]), state["sns"]["cert_url"]
    )
    url = f"{state['endpoints']['sns']}/?{doc['query_parameter']}={name}"
    t = time.time()
    status = _post(url, json.dumps(note).encode(), {"Content-Type": "text/plain; charset=UTF-8"})
    ok = status < 300
    sent = Sent(source, ex, "sns", "accepted" if ok else f"refused by the collector: HTTP {status}", t)
    sent.uuid = note["MessageId"] if ok else None
    return sent


def send_kinesis(state: dict, source: SourceLayout, ex, clients: dict) -> Sent:
    import boto3

    from datahem.runtime.collectors.kinesis.publish import RECORD_NAMESPACE

    doc = json.loads((Path(state["routing_dir"]) / "kinesis.json").read_text())
    arn, stream = next((a, s) for a, s in doc["streams"].items() if s["source"] == source.name)
    if arn not in clients:
        clients[arn] = boto3.client(
            "kinesis",
            endpoint_url=state["endpoints"]["moto"],
            region_name=stream["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    t = time.time()
    put = clients[arn].put_record(StreamARN=arn, Data=ex.payload.encode(), PartitionKey=ex.name)
    import uuid

    sent = Sent(source, ex, "kinesis", "accepted", t)
    sent.uuid = str(uuid.uuid5(RECORD_NAMESPACE, f"{arn}/{put['ShardId']}/{put['SequenceNumber']}"))
    return sent


# How an example reaches each source kind's collector (the kinds: datahem.compiler.sources.KINDS)
SENDERS = {
    "http": lambda state, source, ex, _clients: send_http(state, source, ex),
    "sns": lambda state, source, ex, _clients: send_sns(state, source, ex),
    "kinesis": send_kinesis,
}


def send_examples(state: dict, examples: list) -> list[Sent]:
    """Send every example of every source through its collector; returns what was sent and how it was answered."""
    layout = Layout.from_json(state["layout"])
    clients: dict = {}
    out = []
    for source in layout.sources:
        for ex in (e for e in examples if e.message == source.message):
            send = SENDERS.get(source.kind)
            if send is None:
                out.append(Sent(source, ex, source.kind, f"not sent: datahem dev has no sender for kind {source.kind}"))
            else:
                out.append(send(state, source, ex, clients))
    return out


def _same_payload(sent: Sent, stored: bytes) -> bool:
    if stored == sent.example.payload.encode():
        return True
    try:  # a UA hit arrives as the JSON of its decoded form
        return json.loads(stored) == json.loads(sent.example.payload)
    except ValueError:
        return False


def collect(state: dict, sent: list[Sent], timeout: float) -> bool:
    """Wait until every accepted event is in the backup table and in its table or the dead letters; fills
    Sent.uuid and Sent.arrived. Returns whether everything arrived in time."""
    import base64

    layout = Layout.from_json(state["layout"])
    accepted = [s for s in sent if s.accepted]
    deadline = time.monotonic() + timeout
    while True:
        backup = query(state, f"SELECT uuid, source, payload, publish_time FROM `{layout.backup_table}`")
        for s in accepted:
            if s.uuid is None:
                taken = {x.uuid for x in accepted}
                for row in backup:
                    payload = row["payload"] if isinstance(row["payload"], bytes) else base64.b64decode(row["payload"])
                    earlier = row["publish_time"].timestamp() < s.sent_at - 1  # the same example sent by a past run
                    if earlier or row["source"] != s.source.name or row["uuid"] in taken:
                        continue
                    if _same_payload(s, payload):
                        s.uuid = row["uuid"]
                        break
        backed = {row["uuid"] for row in backup}
        by_table: dict[str, list[Sent]] = {}
        for s in accepted:
            if s.uuid and not s.arrived:
                by_table.setdefault(s.source.table if s.example.valid else layout.dead_letter_table, []).append(s)
        for table, waiting in by_table.items():
            column = "uuid" if table == layout.dead_letter_table else "_uuid"
            ids = ", ".join(f"'{s.uuid}'" for s in waiting)
            rows = {r[column]: r for r in query(state, f"SELECT * FROM `{table}` WHERE {column} IN ({ids})")}
            for s in waiting:
                if s.uuid in rows:
                    s.arrived = {"row" if column == "_uuid" else "dead_letter": rows[s.uuid]}
        if all(s.uuid in backed and s.arrived for s in accepted):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


def send_and_report(project_dir: Path, examples: list, console, timeout: float) -> bool:
    """Send every example (the CLI loads them: datahem.compiler.loader.examples), wait for them, print what arrived;
    False when something did not arrive in time."""
    state = read_state(project_dir)
    sent = send_examples(state, examples)
    accepted = [s for s in sent if s.accepted]
    console.print(f"sent {len(sent)} example events; {len(accepted)} accepted by their collectors")
    for s in sent:
        if not s.accepted:
            console.print(f"  [yellow]{s.source.name}/{s.example.name}[/yellow]: {s.status}", markup=True)
    complete = collect(state, sent, timeout)
    _report(state, sent, console)
    if not complete:
        missing = [f"{s.source.name}/{s.example.name}" for s in accepted if not s.arrived]
        console.print(f"[red]not arrived within {timeout:.0f}s:[/red] {', '.join(missing)}")
        _name_logs(state, [s for s in accepted if not s.arrived], console)
    return complete


def _name_logs(state: dict, missing: list[Sent], console) -> None:
    """Where to look: an event missing from the backup table never left its collector or Pub/Sub; one in the backup
    table but in neither its table nor the dead letters is stuck in the pipelines."""
    import psutil

    logs = Path(state["logs"])
    dead = [p for p in state.get("children", []) if not psutil.pid_exists(p)]
    if dead:
        console.print(f"[red]{len(dead)} process(es) of datahem dev are gone (pids {dead})[/red]; see its display")
    collectors = sorted({s.collector for s in missing if s.uuid is None})
    for kind in collectors:
        log = logs / (f"{kind}-collector.log" if kind != "kinesis" else "kinesis-reader.log")
        console.print(f"  not in the backup table ({kind}): see {log}")
    if any(s.uuid for s in missing) or not collectors:
        console.print(f"  not in their table nor the dead letters: see {logs / 'pipelines.log'}")


def _report(state: dict, sent: list[Sent], console) -> None:
    from rich.table import Table

    layout = Layout.from_json(state["layout"])
    table = Table(title="what arrived")
    for column in ("table", "rows", "dead letters", "examples"):
        table.add_column(column)
    for source in layout.sources:
        mine = [s for s in sent if s.source == source and s.accepted]
        rows = [s for s in mine if "row" in s.arrived]
        dead = [s for s in mine if "dead_letter" in s.arrived]
        lines = [f"row  {s.example.name}" for s in rows[:3]]
        lines += [f"dead {s.example.name}: {s.arrived['dead_letter']['stage']}: {_error(s)}" for s in dead[:3]]
        expected_rows = sum(1 for s in mine if s.example.valid)
        table.add_row(
            source.table, f"{len(rows)}/{expected_rows}", f"{len(dead)}/{len(mine) - expected_rows}", "\n".join(lines)
        )
    console.print(table)
    total = query(state, f"SELECT COUNT(*) AS n FROM `{layout.backup_table}`")[0]["n"]
    console.print(f"backup table {layout.backup_table}: {total} rows")


def _error(s: Sent) -> str:
    return str(s.arrived["dead_letter"].get("error", ""))[:80]


def print_query(project_dir: Path, sql: str, console) -> None:
    """Print sql's rows as a table; DevError (one line) when the query fails."""
    from rich.table import Table

    rows = query(read_state(project_dir), sql)
    table = Table(caption=f"{len(rows)} row(s)")
    for column in rows[0] if rows else ["(no rows)"]:
        table.add_column(str(column), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)


def _cell(value) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."
