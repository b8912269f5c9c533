"""The catalog page (generated/docs/index.html) in a real browser: headless Chromium (Debian's `chromium`, which
`make test` installs) loads the example project's page from disk, with no network; the DOM it dumps after the
page's script ran shows every source and table drawn in the lineage SVG (the script marks each node whose box has a
size), every column of every table as a row with its type, mode, category, masking and readers (the page carries
the columns as data; its script lays out the rows), and the filter, driven by the address (`#filter=order_id`),
leaves only the matching columns. A large project's page lays out only the tables near the window: the same page
made with that threshold at 0 shows it. Screenshots are saved under tests/artifacts/ (not committed) for a person
to look at."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from datahem.compiler.build import load_model
from datahem.compiler.emitters import docs
from datahem.compiler.projection.platform import categories as platform_categories
from datahem.compiler.projection.platform import readers
from tests.conftest import EXAMPLE, ROOT, copy_project

ARTIFACTS = ROOT / "tests" / "artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "Chromium is not installed: `make test` installs it (`make chromium`: apt-get install -y chromium), or "
            "set CHROMIUM=/path/to/chromium"
        )
    return found


def _run(tmp_path: Path, url: str, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    profile.mkdir()
    proc = subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class _Dom(HTMLParser):
    """Elements with an id, the column rows (their attributes and their cells' text), the tables' sections, the
    placeholders of rows not laid out."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.rows: list[dict[str, str | None]] = []
        self.cells: dict[str, list[str]] = {}  # data-column -> the text of its cells
        self.sections: list[dict[str, str | None]] = []
        self.pending = 0
        self._row: str | None = None  # the data-column of the row being read
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.by_id[str(a["id"])] = a
        if tag == "tr" and "data-column" in a:
            self.rows.append(a)
            self._row = str(a["data-column"])
            self.cells[self._row] = []
        if tag == "tr" and a.get("class") == "pending":
            self.pending += 1
        if tag == "td" and self._row is not None:
            self._cell = []
        if tag == "section" and "data-table" in a:
            self.sections.append(a)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self.cells[self._row].append("".join(self._cell))
            self._cell = None
        if tag == "tr":
            self._row = None


def _dom(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


@pytest.fixture(scope="module")
def page(example_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "index.html"
    path.write_bytes(docs.page(example_model))
    return path


def test_the_page_is_self_contained_and_deterministic(example_model, page):
    text = page.read_text()
    assert docs.page(example_model) == page.read_bytes()
    assert not re.search(r"""(src|href)=["'](https?:)?//""", text)  # nothing from the network
    assert "<script src" not in text and "<link" not in text
    assert (EXAMPLE / "generated" / "docs" / "index.html").read_bytes() == page.read_bytes()


def test_the_lineage_draws_every_source_and_table(example_model, page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "catalog.png"
    shot.unlink(missing_ok=True)
    _run(tmp_path, page.as_uri(), "--window-size=1600,1100", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    dom = _dom(_run(tmp_path, page.as_uri(), "--dump-dom"))
    expected = [f"node-source-{s.name}" for s in example_model.sources]
    expected += [f"node-table-{t.dataset}.{t.name}" for t in example_model.tables]
    expected += [f"node-topic-{t.topic}" for t in example_model.tables]
    bq = example_model.bigquery
    expected += [f"node-table-{bq.dead_letter_dataset}.{bq.dead_letter_table}"]
    missing = [n for n in expected if dom.by_id.get(n, {}).get("data-rendered") != "1"]
    assert missing == []
    svg = dom.by_id["lineage-svg"]
    assert int(str(svg["data-drawn"])) >= len(expected)


def _expected_rows(model) -> dict[str, list[str]]:
    """data-column -> the cells of its row: path, type, mode, category, masking, clear readers, masked readers,
    description (the readers of a category and its parents read clear; masked readers only with a masking rule)."""
    cats = {c["name"]: c for c in platform_categories(model)}
    expected = {}

    def walk(ref, columns, prefix=""):
        for c in columns:
            if c.hidden:
                continue
            path = prefix + c.name
            clear, masked = readers(cats, c.category) if c.category else ((), ())
            masking = (cats.get(c.category or "") or {}).get("masking") or ""
            expected[f"{ref}.{path}"] = [
                *(path, c.bq_type, c.mode, c.category or "", masking),
                *(", ".join(sorted(clear)), ", ".join(sorted(masked)), c.description),
            ]
            walk(ref, c.fields, path + ".")

    for t in (*model.tables, model.backup_table, model.dead_letter_table):
        walk(f"{t.dataset}.{t.name}", t.bq_columns)
    return expected


def test_every_column_is_a_row_with_its_policy(example_model, page, tmp_path):
    html = _run(tmp_path, page.as_uri(), "--dump-dom")
    dom = _dom(html)
    expected = _expected_rows(example_model)
    assert dom.cells == expected  # every column, in order, each cell as the model has it
    assert any(cells[5] and cells[6] for cells in expected.values())  # clear and masked readers are both shown
    assert dom.pending == 0
    assert f'<span id="count">{len(expected)} columns</span>' in html


def test_the_filter_finds_a_column(example_model, page, tmp_path):
    html = _run(tmp_path, page.as_uri() + "#filter=order_id", "--dump-dom")
    dom = _dom(html)
    shown = [str(r["data-column"]) for r in dom.rows]
    assert "events.orders.order_id" in shown
    assert all("order_id" in c for c in shown), shown
    total = len(_expected_rows(example_model))
    assert 0 < len(shown) < total / 10
    visible = [s["data-table"] for s in dom.sections if "hidden" not in s]
    assert "events.orders" in visible and "events.members" not in visible
    assert sorted(visible) == sorted({".".join(c.split(".")[:2]) for c in shown})
    assert f'<span id="count">{len(shown)} of {total} columns</span>' in html
    ARTIFACTS.mkdir(exist_ok=True)
    _run(
        tmp_path,
        page.as_uri() + "#filter=order_id",
        "--window-size=1600,900",
        f"--screenshot={ARTIFACTS / 'catalog-filtered.png'}",
    )


def test_the_filter_searches_categories_and_readers(example_model, page, tmp_path):
    """A reader's group finds the columns it reads, clear or masked, through their category and its parents."""
    cats = {c["name"]: c for c in platform_categories(example_model)}
    group = "group:logistics@grocer.example"
    reads = {n for n in cats if group in set().union(*readers(cats, n))}
    assert reads
    expected = [col for col, cells in _expected_rows(example_model).items() if cells[3] in reads]
    dom = _dom(_run(tmp_path, page.as_uri() + "#filter=" + group, "--dump-dom"))
    assert [str(r["data-column"]) for r in dom.rows] == expected


def test_a_large_projects_page_lays_out_the_tables_near_the_window(example_model, tmp_path):
    lazy = tmp_path / "lazy.html"
    lazy.write_bytes(docs.page(example_model, eager=0))
    expected = _expected_rows(example_model)
    last = f"{example_model.dead_letter_table.dataset}.{example_model.dead_letter_table.name}"
    wait = "--virtual-time-budget=5000"  # lets the page's timers run: it lays out rows after a scroll
    top = _dom(_run(tmp_path, lazy.as_uri(), "--window-size=1600,1100", wait, "--dump-dom"))
    assert top.cells and top.pending
    assert len(top.cells) < len(expected) and all(top.cells[c] == expected[c] for c in top.cells)
    assert not any(c.startswith(last + ".") for c in top.cells)
    bottom = _dom(_run(tmp_path, f"{lazy.as_uri()}#table-{last}", "--window-size=1600,1100", wait, "--dump-dom"))
    mine = [c for c in bottom.cells if c.startswith(last + ".")]
    assert mine == [c for c in expected if c.startswith(last + ".")]
    assert all(bottom.cells[c] == expected[c] for c in bottom.cells)
    filtered = _dom(_run(tmp_path, lazy.as_uri() + "#filter=order_id", wait, "--dump-dom"))
    assert sorted(filtered.cells) == sorted(c for c in expected if "order_id" in c.lower()) and not filtered.pending


def test_a_new_field_adds_only_its_own_lines_to_the_catalog(tmp_path):
    """The page's column data is one line per column, like catalog.md's rows: a field added to the order lines adds
    one line to each document (and the page's column count changes), nothing else moves."""
    project = copy_project(EXAMPLE, tmp_path / "project")
    before = {f.path: f.content.decode().splitlines() for f in docs.emit(load_model(project))}
    proto = project / "schemas" / "grocer" / "commerce" / "v1" / "order.proto"
    anchor = "    string substituted_by_sku = 9;\n"
    text = proto.read_text()
    assert anchor in text
    proto.write_text(text.replace(anchor, anchor + "    // Note from the picker.\n    string picker_note = 10;\n"))
    after = {f.path: f.content.decode().splitlines() for f in docs.emit(load_model(project))}
    for path, old in before.items():
        diff = [d for d in difflib.unified_diff(old, after[path], lineterm="", n=0) if d[:1] in "+-"]
        added = [d[1:] for d in diff if d.startswith("+") and not d.startswith("+++")]
        removed = [d[1:] for d in diff if d.startswith("-") and not d.startswith("---")]
        mine = [line for line in added if "lines.picker_note" in line]
        assert len(mine) == 1, (path, added)
        if path.endswith(".html"):
            assert mine == ['["lines.picker_note","STRING","NULLABLE","","Note from the picker."]']
            assert [r for r in removed if "columns</span>" not in r] == []
            assert len(added) == 2  # the line and the count
        else:
            assert removed == [] and added == mine
