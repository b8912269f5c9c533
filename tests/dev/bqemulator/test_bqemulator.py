"""The local BigQuery API emulator (bqemulator in .venv-bq/) against the main venv's google-cloud-bigquery client.

These tests pin down what the emulator does with DataHem's generated schemas, DDL and streaming inserts, so that
pipeline tests built on it know which behaviours are BigQuery's and which are the emulator's own (see
datahem/dev/bqemulator/README.md). A missing .venv-bq fails the tests with a clear message: they are never skipped.

Calls that may get an HTTP 500 pass a short retry: the client's default retry would resend a failing request for up to
600 s, which looks like a hang.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests import emulators
from tests.conftest import EXAMPLE, ROOT
from tests.emulators import bigquery_emulator

EVENTS = EXAMPLE / "generated" / "bigquery" / "events"
PROJECT = "demo-project"
SHORT_RETRY = bigquery.DEFAULT_RETRY.with_deadline(5)


@pytest.fixture(scope="module")
def emulator_url():
    with bigquery_emulator(PROJECT) as url:
        yield url


def make_client(url: str) -> bigquery.Client:
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


@pytest.fixture
def client(emulator_url):
    c = make_client(emulator_url)
    yield c
    c.close()


@pytest.fixture
def dataset(client):
    """A fresh dataset per test, so tests do not see each other's tables."""
    ds = client.create_dataset(f"t_{uuid.uuid4().hex[:10]}")
    return ds.dataset_id


def api_fields(name: str) -> list[dict]:
    """The REST API fields of a generated table schema (its top-level key "fields")."""
    return json.loads((EVENTS / f"{name}.schema.json").read_text())["fields"]


def without_policy_tags(fields: list[dict]) -> list[dict]:
    out = []
    for field in copy.deepcopy(fields):
        field.pop("policyTags", None)
        if "fields" in field:
            field["fields"] = without_policy_tags(field["fields"])
        out.append(field)
    return out


def has_policy_tags(fields: list[dict]) -> bool:
    return any("policyTags" in f or has_policy_tags(f.get("fields", [])) for f in fields)


def shape(fields) -> list[tuple]:
    """Name, type, mode and description of every field, nested fields included."""
    return [
        (f["name"], f["type"], f.get("mode", "NULLABLE"), f.get("description"), shape(f.get("fields", [])))
        for f in fields
    ]


def create_table(client: bigquery.Client, table_id: str, fields: list[dict]) -> bigquery.Table:
    schema = [bigquery.SchemaField.from_api_repr(f) for f in fields]
    return client.create_table(bigquery.Table(table_id, schema=schema))


def order_row(uuid_: str, **changes) -> dict:
    """A valid row of events.orders, with nested and repeated records, NUMERIC, INTERVAL and TIMESTAMP values."""
    row = {
        "_uuid": uuid_,
        "_received_at": "2024-06-01T12:00:00Z",
        "_source": "orders",
        "_attributes": [{"key": "uuid", "value": "e-1"}, {"key": "empty"}],
        "order_id": "ORD-2024-0001234",
        "member_id": "M-1",
        "created_at": "2024-06-01T11:59:00.123456Z",
        "lines": [
            {
                "line_number": 1,
                "sku": "7310865004703",
                "quantity": 1.5,
                "unit_price": {"currency_code": "SEK", "units": 349, "nanos": 500000000},
                "substitution_allowed": True,
            },
            {"line_number": 2, "sku": "7310865004710"},
        ],
        "gross_margin": "12.345",
        "voucher_codes": ["SUMMER", "WELCOME"],
        "delivery_window_length": "0-0 0 1:0:0",
        "delivery_address": {"street": "Storgatan 12 B", "city": "Stockholm", "country_code": "SE"},
    }
    row.update(changes)
    return row


def uuids(client: bigquery.Client, table_id: str) -> list[str]:
    return [r["_uuid"] for r in client.query(f"SELECT _uuid FROM `{table_id}` ORDER BY _uuid").result()]


# --- the launcher and the helper ------------------------------------------------------------------------------------


def test_missing_venv_fails_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(emulators, "BQ_VENV_PYTHON", tmp_path / "no-such-venv" / "bin" / "python")
    with pytest.raises(FileNotFoundError, match=r"make \.venv-bq/\.installed"), bigquery_emulator():
        pass


@pytest.mark.slow
def test_emulator_stops_when_its_parent_is_killed(tmp_path):
    """A test process killed before its clean-up (SIGKILL, a CI time-out) must not leave the emulator running."""
    script = (
        "import sys, time\n"
        "from tests.emulators import bigquery_emulator\n"
        "with bigquery_emulator() as url:\n"
        "    print(url, flush=True)\n"
        "    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = parent.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        urllib.request.urlopen(f"{url}/healthz", timeout=5).close()
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
        except OSError:
            return
        time.sleep(0.2)
    pytest.fail(f"the emulator at {url} still answers 20 s after its parent was killed")


def test_dataset_is_created_and_listed(client):
    ds = client.create_dataset("events_created")
    assert ds.full_dataset_id == f"{PROJECT}:events_created"
    assert "events_created" in [d.dataset_id for d in client.list_datasets()]
    assert client.get_dataset("events_created").dataset_id == "events_created"


def test_bigquery_emulator_host_is_honoured(emulator_url, monkeypatch):
    """google-cloud-bigquery 3.47 reads BIGQUERY_EMULATOR_HOST (a full URL) as its API endpoint; credentials and the
    project must still be given (it does not switch to anonymous credentials by itself)."""
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emulator_url)
    c = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials())
    assert c._connection.API_BASE_URL == emulator_url
    c.create_dataset("via_env_var")
    assert "via_env_var" in [d.dataset_id for d in c.list_datasets()]


@pytest.mark.slow
def test_data_dir_keeps_tables_across_restarts(tmp_path):
    table_id = f"{PROJECT}.kept.orders"
    with bigquery_emulator(PROJECT, data_dir=tmp_path) as url:
        c = make_client(url)
        c.create_dataset("kept")
        create_table(c, table_id, without_policy_tags(api_fields("orders")))
        assert c.insert_rows_json(table_id, [order_row("u1")], row_ids=["u1"], retry=SHORT_RETRY) == []
    with bigquery_emulator(PROJECT, data_dir=tmp_path) as url:
        assert uuids(make_client(url), table_id) == ["u1"]


# --- tables from the generated schema JSON ----------------------------------------------------------------------------

SCHEMAS = sorted(p.name.removesuffix(".schema.json") for p in EVENTS.glob("*.schema.json"))


@pytest.mark.parametrize("name", SCHEMAS)
def test_table_from_schema_json_round_trips(client, dataset, name):
    """Every generated schema is accepted as sent, policy tags included, and read back with the same names, types
    (INTERVAL, JSON, NUMERIC, nested RECORD), modes and descriptions; policy tags are silently dropped."""
    fields = api_fields(name)
    table = create_table(client, f"{PROJECT}.{dataset}.{name}", fields)
    got = client.get_table(table)
    assert shape(f.to_api_repr() for f in got.schema) == shape(without_policy_tags(fields))
    assert not any(f.policy_tags for f in got.schema)


def test_orders_schema_has_the_types_this_suite_claims_to_cover():
    def types(fields):
        for f in fields:
            yield f["type"], f.get("mode", "NULLABLE")
            yield from types(f.get("fields", []))

    found = set(types(api_fields("orders")))
    assert {("RECORD", "REPEATED"), ("RECORD", "NULLABLE"), ("NUMERIC", "NULLABLE"), ("INTERVAL", "NULLABLE")} <= found
    assert has_policy_tags(api_fields("orders"))
    assert any(f["type"] == "JSON" for f in api_fields("survey_responses"))


def test_table_options_set_through_the_api_are_kept_except_require_partition_filter(client, dataset):
    table = bigquery.Table(
        f"{PROJECT}.{dataset}.partitioned",
        schema=[bigquery.SchemaField("at", "TIMESTAMP"), bigquery.SchemaField("k", "STRING", description="key")],
    )
    table.time_partitioning = bigquery.TimePartitioning(field="at", type_="DAY")
    table.clustering_fields = ["k"]
    table.description = "d"
    table.labels = {"domain": "commerce"}
    table.require_partition_filter = True
    got = client.get_table(client.create_table(table))
    assert (got.time_partitioning.field, got.clustering_fields, got.description, got.labels) == (
        "at",
        ["k"],
        "d",
        {"domain": "commerce"},
    )
    assert got.schema[1].description == "key"
    assert not got.require_partition_filter  # dropped: queries without a partition filter are not refused
    assert list(client.query(f"SELECT COUNT(*) AS n FROM `{got}`").result())[0]["n"] == 0


# --- streaming inserts (tabledata.insertAll) -------------------------------------------------------------------------


@pytest.fixture
def orders(client, dataset):
    table_id = f"{PROJECT}.{dataset}.orders"
    create_table(client, table_id, without_policy_tags(api_fields("orders")))
    return table_id


def test_nested_rows_are_inserted_and_read_back(client, orders):
    rows = [order_row("u1"), order_row("u2", lines=[], voucher_codes=[], gross_margin=None)]
    assert client.insert_rows_json(orders, rows, row_ids=["u1", "u2"], retry=SHORT_RETRY) == []
    got = {r["_uuid"]: r for r in client.query(f"SELECT * FROM `{orders}` ORDER BY _uuid").result()}
    one = got["u1"]
    assert one["created_at"].isoformat() == "2024-06-01T11:59:00.123456+00:00"
    assert str(one["gross_margin"]) == "12.345000000"
    assert one["delivery_window_length"].hours == 1
    assert one["voucher_codes"] == ["SUMMER", "WELCOME"]
    assert one["_attributes"] == [{"key": "uuid", "value": "e-1"}, {"key": "empty", "value": None}]
    assert one["lines"][0]["unit_price"] == {"currency_code": "SEK", "units": 349, "nanos": 500000000}
    assert one["lines"][0]["substitution_allowed"] is True
    assert one["lines"][1]["quantity"] is None
    assert one["delivery_address"]["city"] == "Stockholm"
    assert got["u2"]["lines"] == [] and got["u2"]["gross_margin"] is None
    filtered = client.query(
        f"SELECT l.sku FROM `{orders}`, UNNEST(lines) AS l WHERE _uuid = @u ORDER BY l.line_number",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("u", "STRING", "u1")]),
    ).result()
    assert [r["sku"] for r in filtered] == ["7310865004703", "7310865004710"]


def test_json_column_takes_a_json_string_not_an_object(client, dataset, emulator_url):
    table_id = f"{PROJECT}.{dataset}.survey"
    create_table(client, table_id, without_policy_tags(api_fields("survey_responses")))
    row = {
        "_uuid": "s1",
        "_received_at": "2024-06-01T12:00:00Z",
        "_source": "survey",
        "response_id": "r1",
        "survey_id": "nps",
        "submitted_at": "2024-06-01T12:00:00Z",
        "metadata": json.dumps({"device": "ios", "tags": [1, 2]}),
    }
    assert client.insert_rows_json(table_id, [row], retry=SHORT_RETRY) == []
    (got,) = client.query(f"SELECT metadata, JSON_VALUE(metadata, '$.device') AS device FROM `{table_id}`").result()
    assert got["metadata"] == {"device": "ios", "tags": [1, 2]}
    assert got["device"] == "ios"
    # An object (not a string) for a JSON column is stored as Python's repr, which DuckDB cannot parse as JSON: the
    # whole request fails with HTTP 500, even with skipInvalidRows.
    with pytest.raises(gexc.InternalServerError):
        client.insert_rows_json(
            table_id, [dict(row, _uuid="s2", metadata={"a": 1})], skip_invalid_rows=True, retry=None
        )
    assert [r["_uuid"] for r in make_client(emulator_url).query(f"SELECT _uuid FROM `{table_id}`").result()] == ["s1"]


def test_bad_rows_are_reported_per_row_with_skip_invalid_rows(client, orders):
    """With skipInvalidRows the good rows go in and each bad row comes back with its index and reason "invalid"
    (what a dead-letter route needs). The emulator's "location" and "message" are not the offending field: they
    name the row's first column (here _uuid), so match on index and reason only."""
    rows = [
        order_row("u1"),
        order_row("u2", loyalty_points_used="many"),  # STRING in an INTEGER column
        order_row("u3"),
        order_row("u4", created_at="not a time"),  # unparsable TIMESTAMP
        order_row("u5", gross_margin="1.0123456789123"),  # more than NUMERIC's 9 decimals
    ]
    errors = client.insert_rows_json(
        orders, rows, row_ids=[r["_uuid"] for r in rows], skip_invalid_rows=True, retry=SHORT_RETRY
    )
    assert [e["index"] for e in errors] == [1, 3, 4]
    assert {err["reason"] for e in errors for err in e["errors"]} == {"invalid"}
    assert errors[0]["errors"][0]["location"] == "_uuid"  # the emulator's quirk, see the docstring
    assert uuids(client, orders) == ["u1", "u3"]


def test_a_bad_row_without_skip_invalid_rows_fails_the_whole_request(client, orders, emulator_url):
    """BigQuery would answer 200 with the bad row's error and "stopped" for the others; the emulator answers HTTP 500
    (which the client's default retry resends for 600 s) and inserts nothing."""
    rows = [order_row("u1"), order_row("u2", loyalty_points_used="many")]
    with pytest.raises(gexc.InternalServerError):
        client.insert_rows_json(orders, rows, retry=None)
    assert uuids(make_client(emulator_url), orders) == []  # a new client: the server closed the failed connection


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"gross_margin": "abc"}, gexc.InternalServerError),  # unparsable NUMERIC: 500 even with skipInvalidRows
        ({"delivery_window_length": "PT1H"}, gexc.BadRequest),  # ISO 8601 INTERVAL: 400 for the whole request
    ],
    ids=["bad-numeric", "iso-interval"],
)
def test_some_bad_values_fail_the_whole_request_even_with_skip_invalid_rows(
    client, orders, emulator_url, changes, error
):
    rows = [order_row("u1"), order_row("u2", **changes)]
    with pytest.raises(error):
        client.insert_rows_json(orders, rows, skip_invalid_rows=True, retry=None)
    assert uuids(make_client(emulator_url), orders) == []


def test_rows_bigquery_would_reject_are_accepted(client, orders):
    """The emulator checks only that each value converts to its column's type. BigQuery rejects all of these; a test
    that expects a dead letter for them must not rely on the emulator."""
    rows = [
        order_row("u1", bogus_column=1),  # unknown column: dropped
        order_row("u2", lines=[{"sku": "S", "bogus": 1}]),  # unknown nested field: dropped
        order_row("u3", order_id=None),  # REQUIRED column null: stored as NULL
        order_row("u4", lines=[{"line_number": 1}]),  # REQUIRED nested field missing: stored as NULL
        order_row("u5", voucher_codes="AB"),  # string for a REPEATED column: split into characters
        order_row("u6", loyalty_points_used=1.7),  # float for INTEGER: truncated
        order_row("u7", store_id={"a": 1}),  # object for STRING: stored as Python's repr
        order_row("u8", lines=[{"sku": "S", "substitution_allowed": "perhaps"}]),  # any string for BOOL: False
        order_row("u9", updated_at=1717243200),  # a number for TIMESTAMP: microseconds, not seconds
    ]
    assert client.insert_rows_json(orders, rows, skip_invalid_rows=True, retry=SHORT_RETRY) == []
    got = {r["_uuid"]: r for r in client.query(f"SELECT * FROM `{orders}`").result()}
    assert got["u3"]["order_id"] is None
    assert got["u5"]["voucher_codes"] == ["A", "B"]
    assert got["u6"]["loyalty_points_used"] == 1
    assert got["u7"]["store_id"] == "{'a': 1}"
    assert got["u8"]["lines"][0]["substitution_allowed"] is False
    assert got["u9"]["updated_at"].isoformat() == "1970-01-01T00:28:37.243200+00:00"


def test_row_ids_do_not_deduplicate(client, orders):
    """BigQuery drops a repeated insertId (best effort, about a minute); the emulator ignores insertId."""
    assert client.insert_rows_json(orders, [order_row("u1")], row_ids=["same"], retry=SHORT_RETRY) == []
    assert client.insert_rows_json(orders, [order_row("u1")], row_ids=["same"], retry=SHORT_RETRY) == []
    assert uuids(client, orders) == ["u1", "u1"]


# --- DDL through client.query --------------------------------------------------------------------------------------

DDLS = sorted(p.stem for p in EVENTS.glob("*.sql"))


def relax_nested_not_null(ddl: str) -> str:
    """Drop NOT NULL from fields inside STRUCT<...> (indented deeper than the top-level columns)."""
    return re.sub(r"^(\s{4,}`\w+` [^\n]*?) NOT NULL", r"\1", ddl, flags=re.MULTILINE)


def test_not_null_inside_a_struct_is_rejected(client, dataset):
    """DuckDB has no NOT NULL inside STRUCT, and the emulator passes it through: a parse error (400)."""
    with pytest.raises(gexc.BadRequest, match="NOT"):
        client.query(f"CREATE TABLE `{dataset}.s` (a STRUCT<b STRING NOT NULL>)").result()
    client.query(f"CREATE TABLE `{dataset}.s` (a STRUCT<b STRING>, c STRING NOT NULL)").result()


@pytest.mark.parametrize("name", DDLS)
def test_generated_ddl_runs_once_nested_not_null_is_dropped(client, dataset, name):
    """The generated CREATE TABLE statements run through client.query() when their STRUCT fields lose NOT NULL
    (they all have one: _attributes.key). The table then has the schema JSON's top-level columns and REQUIRED
    modes; JSON and INTERVAL columns come back as STRING, and column descriptions, clustering and labels are lost."""
    ddl = (EVENTS / f"{name}.sql").read_text().replace("`events.", f"`{dataset}.")
    try:
        client.query(ddl).result()
    except gexc.BadRequest as exc:
        assert "NOT" in str(exc), exc
        client.query(relax_nested_not_null(ddl)).result()
    got = client.get_table(f"{PROJECT}.{dataset}.{name}")
    fields = api_fields(name)
    assert [f.name for f in got.schema] == [f["name"] for f in fields]
    assert [f.mode for f in got.schema] == [f.get("mode", "NULLABLE") for f in fields]
    expected = ["STRING" if f["type"] in ("JSON", "INTERVAL") else f["type"] for f in fields]
    assert [f.field_type for f in got.schema] == expected
    assert got.clustering_fields is None


def test_streaming_inserts_still_work_after_ddl(client, dataset, orders):
    """Guards the duckdb pin (requirements-bq.in): with duckdb 2.0.1 any DDL statement left the emulator's connection
    with an unfinished result, and every later insert, into any table, failed with HTTP 500."""
    client.query(f"CREATE TABLE `{dataset}.by_ddl` (a STRING, s STRUCT<x INT64>, r ARRAY<STRING>)").result()
    row = {"a": "x", "s": {"x": 1}, "r": ["p"]}
    assert client.insert_rows_json(f"{PROJECT}.{dataset}.by_ddl", [row], retry=SHORT_RETRY) == []
    assert client.insert_rows_json(orders, [order_row("u1")], retry=SHORT_RETRY) == []
    assert uuids(client, orders) == ["u1"]
    (row,) = client.query(f"SELECT a, s.x AS x, r FROM `{dataset}.by_ddl`").result()
    assert (row["a"], row["x"], row["r"]) == ("x", 1, ["p"])
