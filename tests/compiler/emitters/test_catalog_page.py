"""The catalog page (generated/docs/index.html) in a real browser: headless Chromium (Debian's `chromium`, which
`make test` installs) loads the example project's page from disk, with no network; the DOM it dumps after the
page's script ran shows every source and table drawn in the lineage SVG (the script marks each node whose box has a
size), and the filter, driven by the address (`#filter=order_id`), hides every other column. Screenshots are saved
under tests/artifacts/ (not committed) for a person to look at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from datahem.compiler.emitters import docs
from tests.conftest import EXAMPLE, ROOT

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
    """Elements with an id or a data-column, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.rows: list[dict[str, str | None]] = []
        self.sections: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.by_id[str(a["id"])] = a
        if tag == "tr" and "data-column" in a:
            self.rows.append(a)
        if tag == "section" and "data-table" in a:
            self.sections.append(a)


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


def test_the_filter_finds_a_column(page, tmp_path):
    html = _run(tmp_path, page.as_uri() + "#filter=order_id", "--dump-dom")
    dom = _dom(html)
    shown = [str(r["data-column"]) for r in dom.rows if "hidden" not in r]
    assert "events.orders.order_id" in shown
    assert all("order_id" in c for c in shown), shown
    assert len(shown) < len(dom.rows) / 10
    visible = [s["data-table"] for s in dom.sections if "hidden" not in s]
    assert "events.orders" in visible and "events.members" not in visible
    assert sorted(visible) == sorted({".".join(c.split(".")[:2]) for c in shown})
    assert re.search(r'<span id="count">\d+ of \d+ columns</span>', html)
    ARTIFACTS.mkdir(exist_ok=True)
    _run(
        tmp_path,
        page.as_uri() + "#filter=order_id",
        "--window-size=1600,900",
        f"--screenshot={ARTIFACTS / 'catalog-filtered.png'}",
    )
