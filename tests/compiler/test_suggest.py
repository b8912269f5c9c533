"""Did-you-mean on unknown names (datahem.compiler.suggest), as the user meets it: a key of sources.yaml misspelt by one
edit (a letter inserted, dropped, changed, or two neighbours swapped) is reported with the key it misspells, also when
another key of the same mapping (`kind` among them) is misspelt too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from datahem.compiler import rules
from datahem.compiler.build import load_sources
from datahem.compiler.diagnostics import Diagnostics
from datahem.compiler.suggest import closest, distance

# A sources.yaml with every kind of mapping: the top level, project, an environment, bigquery, a category, sources of
# each kind (one with auth) and an accepted break. Each line `key: value` (or `- key: value`) is one key to misspell.
SOURCES = """\
project:
  name: shop
  environments:
    dev:
      gcp_project: shop-data-dev
      region: europe-north1
      state_bucket: shop-state
      network: shop-net
      subnetwork: regions/europe-north1/subnetworks/shop
bigquery:
  location: EU
  dataset: events
  backup_dataset: events_backup
  dead_letter_dataset: events_dead_letter
categories:
  pii:
    description: Personal data.
    masking: SHA256
    readers: [group:privacy@shop.example]
    masked_readers: [group:analysts@shop.example]
sources:
  - name: clicks
    kind: http
    message: shop.v1.Click
    description: Clicks.
    path: /click
    methods: [POST]
    cors_origins: ["https://shop.example"]
    max_body_bytes: 1000
    ip_anonymization: truncate
    auth:
      type: hmac
      header: X-Signature
      secret_env: CLICK_SECRET
      algorithm: sha256
      encoding: hex
  - name: orders
    kind: sns
    message: shop.v1.Order
    route: orders
    topic_arns: ["arn:aws:sns:eu-north-1:123456789012:orders"]
  - name: stock
    kind: kinesis
    message: shop.v1.Stock
    stream_arn: arn:aws:kinesis:eu-north-1:123456789012:stream/stock
    region: eu-north-1
accepted_breaks:
  - rule: FIELD_REMOVED
    target: shop.v1.Click.old
    reason: Nobody reads it.
"""
KEY_LINE = re.compile(r"^(?P<indent>\s*(?:- )?)(?P<key>[a-z_]+):")
LINES = SOURCES.splitlines()
ENTRY_NAMES = ("dev", "pii")  # names of entries (an environment, a category), not keys
KEY_LINES = [
    i for i, line in enumerate(LINES) if KEY_LINE.match(line) and line.split(":")[0].strip() not in ENTRY_NAMES
]
ALPHABET = "abcdefghijklmnopqrstuvwxyz_"
UNKNOWN = re.compile(
    r"unknown key `(?P<typo>[^`]+)` in `[^`]*`; (?:did you mean `(?P<hint>[^`]+)`\? )?allowed keys: (?P<allowed>.*)$"
)


@st.composite
def misspelling(draw: st.DrawFn, word: str) -> str:
    """`word` with one edit: a letter inserted, dropped or changed, or two neighbouring letters swapped."""
    op = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
    if op == "swap":
        i = draw(st.integers(0, len(word) - 2))
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    else:
        i = draw(st.integers(0, len(word) - (0 if op == "insert" else 1)))
        letter = "" if op == "delete" else draw(st.sampled_from(ALPHABET))
        typo = word[:i] + letter + word[i + (op != "insert") :]
    assume(typo != word)
    return typo


def indent(line: int) -> int:
    return len(LINES[line]) - len(LINES[line].lstrip(" -"))


KEYS = set()  # filled below


def key_of(line: int) -> str:
    m = KEY_LINE.match(LINES[line])
    assert m
    return m.group("key")


KEYS.update(key_of(i) for i in KEY_LINES)


def with_key(lines: list[str], line: int, key: str) -> None:
    m = KEY_LINE.match(lines[line])
    assert m
    lines[line] = m.group("indent") + key + lines[line][m.end("key") :]


def unknown_keys(tmp_path: Path, text: str) -> dict[int, re.Match[str]]:
    (tmp_path / "sources.yaml").write_text(text)
    diags = Diagnostics()
    load_sources(tmp_path, diags)
    found = {}
    for d in diags.items:
        if d.rule_id == rules.YAML_UNKNOWN_KEY:
            m = UNKNOWN.match(d.message)
            assert m, d.message
            found[d.loc.line - 1] = m
    return found


def test_the_fixture_binds_without_diagnostics(tmp_path):
    (tmp_path / "sources.yaml").write_text(SOURCES)
    diags = Diagnostics()
    assert load_sources(tmp_path, diags) is not None
    assert diags.items == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_key_misspelt_once_is_named_in_the_diagnostic(tmp_path, data):
    lines = list(LINES)
    picked = data.draw(st.lists(st.sampled_from(KEY_LINES), min_size=1, max_size=3, unique=True), label="lines")
    typos = {}
    for line in picked:
        typo = data.draw(misspelling(key_of(line)), label=f"line {line + 1}")
        with_key(lines, line, typo)
        typos[line] = typo
    found = unknown_keys(tmp_path, "\n".join(lines) + "\n")
    for line, typo in typos.items():
        key = key_of(line)
        if line not in found:
            # the typo is another key (e.g. `region` of an environment), or inside a misspelt key (not bound)
            inside = any(o < line and indent(o) < indent(line) for o in typos)
            assert typo in KEYS or inside, (LINES[line], typo)
            continue
        allowed = found[line].group("allowed").split(", ")
        assert key in allowed  # also when `kind` is misspelt: every kind's keys are possible then
        others = [k for k in allowed if k != key]
        # a typo as close to another key as to its own has no single answer
        assume(all(distance(typo, k) > distance(typo, key) for k in others))
        assert found[line].group("hint") == key, (LINES[line], typo, found[line].group(0))


@pytest.mark.parametrize(
    ("typo", "known", "hint"),
    [
        ("nmae", ["name", "kind", "path"], "name"),  # swapped neighbours: difflib alone finds nothing
        ("Name", ["name"], "name"),  # case
        ("max-body-bytes", ["max_body_bytes"], "max_body_bytes"),  # `-` for `_`
        ("dead_letter", ["dead_letter_dataset", "dataset"], "dead_letter_dataset"),  # a long part in common
        ("owner", ["name", "environments"], None),  # nothing close: no far-fetched hint
        ("clicked_at", ["_received_at", "at", "id"], None),
        ("name", ["name"], None),  # a known name is not unknown
    ],
)
def test_closest(typo, known, hint):
    assert closest(typo, known) == hint
