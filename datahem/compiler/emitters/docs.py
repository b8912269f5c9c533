"""The data catalog, for reviewers and data consumers: `docs/catalog.md` (tables, columns, categories and lineage as
Markdown, good in a diff) and `docs/index.html` (one self-contained page to browse: the lineage drawn as SVG, a
section per table with its columns and who reads them, a filter over all columns, the categories with their readers).

The page has no network access and no framework: inline CSS, an SVG whose coordinates are computed here,
deterministically, so the bytes only change when the project does, and the columns as data (a JSON array per column,
one per line, and the categories' masking and readers once), which a small inline script lays out as table rows: all
at once for a small project, else only the tables near the window, and only the matching rows when filtering (the
filter, which also reads `#filter=TEXT` from the address, searches the data). A project of 500 types x 40 fields is
a page of 4 MB instead of 20 MB of rows, quicker to write and to open. The template only lays out what it is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from datahem.compiler.emitters import OutputFile, header, header_text, render
from datahem.compiler.emitters.pipelines import STREAMING_JOB
from datahem.compiler.model.resolved import Column, Model, Table
from datahem.compiler.projection.platform import categories as platform_categories
from datahem.compiler.projection.platform import readers
from datahem.runtime.contracts.routing import job_name

# the lineage diagram's geometry (pixels): columns left to right, nodes evenly spread over the tallest column
CHAR, PAD, NODE_H, PITCH, GAP, MARGIN, TITLE = 7.5, 12, 30, 40, 56, 16, 28
# up to this many columns, the page lays out every row at once
EAGER_ROWS = 5000
COLUMNS = ("Sources", "Pub/Sub topics", "Dataflow pipelines", "Tables and processed streams", "Backup, dead letters")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _visible(columns: tuple[Column, ...], prefix: str = "") -> list[tuple[str, Column]]:
    """The visible columns of a table with their paths (`parent.child`), depth first: the rows of both documents."""
    rows = []
    for c in columns:
        if c.hidden:
            continue
        path = prefix + c.name
        rows.append((path, c))
        if c.fields:
            rows.extend(_visible(c.fields, path + "."))
    return rows


# The column rows are the bulk of both documents (a line per column of every table: 43,400 for 500 types x 40
# fields). catalog.md lays them out as Markdown table rows; the page carries them as data, one JSON array per line
# (path, type, mode, category, description), which its script turns into table rows where they are looked at.


def _visible_by_table(tables: tuple[Table, ...]) -> dict[str, list[tuple[str, Column]]]:
    """`_visible` of each table, by `dataset.table`: worked out once for both documents."""
    return {_ref(t): _visible(t.bq_columns) for t in tables}


def _tagged(visible: dict[str, list[tuple[str, Column]]]) -> dict[str, list[str]]:
    """category → its columns as `dataset.table.path`, in table and column order."""
    tagged: dict[str, list[str]] = {}
    for ref, rows in visible.items():
        for path, c in rows:
            if c.category:
                tagged.setdefault(c.category, []).append(f"{ref}.{path}")
    return tagged


def _markdown_rows(rows: list[tuple[str, Column]]) -> str:
    return "".join(
        f"| `{path}` | {c.bq_type} | {c.mode} | {f'`{c.category}`' if c.category else ''} | {_cell(c.description)} |\n"
        for path, c in rows
    )


def _script_safe(json_text: bytes) -> str:
    """JSON text made safe inside a <script> element (no `</script>`, no `<!--`)."""
    return json_text.decode().replace("<", "\\u003c")


def _script_json(value: object) -> str:
    """JSON on one line that is safe inside a <script> element."""
    return _script_safe(orjson.dumps(value))


def _data_rows(ref: str, rows: list[tuple[str, Column]]) -> str:
    """A table's lines of the page's column data: `{"table": ref}`, then one line per column; made safe inside a
    <script> element all at once, not line by line (tens of thousands of lines)."""
    lines = [orjson.dumps({"table": ref})]
    lines += [orjson.dumps([path, c.bq_type, c.mode, c.category or "", c.description]) for path, c in rows]
    return _script_safe(b"\n".join(lines)) + "\n"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # source | topic | pipeline | table | stream | system
    label: str
    sub: str
    column: int


def _ref(t: Table) -> str:
    return f"{t.dataset}.{t.name}"


def lineage(model: Model) -> dict[str, Any]:
    """Nodes and edges of source → topic → pipeline → table / processed stream → dead letters (and topic → backup),
    with coordinates: each column's nodes in the order of the tables' messages, spread evenly over the height of
    the tallest column; edges are cubic curves from the right edge of one node to the left edge of the next."""
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    dead = Node(f"table-{_ref(model.dead_letter_table)}", "system", _ref(model.dead_letter_table), "dead letters", 4)
    backup_table = Node(f"table-{_ref(model.backup_table)}", "system", _ref(model.backup_table), "backup", 4)
    # one streaming job per environment (the default): each pipeline node is a branch of that job
    branch = f"branch of {STREAMING_JOB}" if model.deployment == "per_environment" else ""
    backup_job = Node(f"pipeline-{job_name('backup')}", "pipeline", job_name("backup"), branch or "backup", 2)
    for t in model.tables:
        sources = model.sources_of(t.message)
        if not sources:
            continue
        topic = Node(f"topic-{t.topic}", "topic", t.topic, "Pub/Sub topic", 1)
        table = Node(f"table-{_ref(t)}", "table", _ref(t), "BigQuery table", 3)
        stream = Node(f"stream-{t.processed_topic}", "stream", t.processed_topic, "processed stream", 3)
        nodes += [topic, table, stream]
        for s in sources:
            source = Node(f"source-{s.name}", "source", s.name, s.kind, 0)
            job = Node(f"pipeline-{job_name(s.name)}", "pipeline", job_name(s.name), branch or "source pipeline", 2)
            nodes += [source, job]
            edges += [(source.id, topic.id), (topic.id, job.id), (job.id, table.id), (job.id, stream.id)]
            edges.append((job.id, dead.id))
        edges.append((topic.id, backup_job.id))
    nodes += [backup_job, backup_table, dead]
    edges += [(backup_job.id, backup_table.id), (backup_job.id, dead.id)]
    by_column: dict[int, list[Node]] = {}
    for n in dict.fromkeys(nodes):  # each node once, where it first appears (a list search per node was quadratic)
        by_column.setdefault(n.column, []).append(n)
    widths = [
        round(max(len(title), *(len(n.label) for n in by_column.get(c, []))) * CHAR) + 2 * PAD
        for c, title in enumerate(COLUMNS)
    ]
    xs = [MARGIN + sum(widths[:c]) + GAP * c for c in range(len(COLUMNS))]
    height = max(len(v) for v in by_column.values()) * PITCH
    placed: dict[str, dict[str, Any]] = {}
    for c, column in sorted(by_column.items()):
        step = height / len(column)
        for i, n in enumerate(column):
            y = MARGIN + TITLE + round(step * i + (step - NODE_H) / 2)
            placed[n.id] = {"node": n, "x": xs[c], "y": y, "w": widths[c], "h": NODE_H}
    paths = []
    seen = set()
    for a, b in edges:
        if (a, b) in seen:
            continue
        seen.add((a, b))
        pa, pb = placed[a], placed[b]
        x1, y1 = pa["x"] + pa["w"], pa["y"] + NODE_H // 2
        x2, y2 = pb["x"], pb["y"] + NODE_H // 2
        mid = (x1 + x2) // 2
        kind = "dead" if b == dead.id else "backup" if backup_job.id in (a, b) else "flow"
        paths.append({"d": f"M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}", "kind": kind, "from": a, "to": b})
    return {
        "width": xs[-1] + widths[-1] + MARGIN,
        "height": MARGIN * 2 + TITLE + height,
        "titles": [{"x": x, "y": MARGIN + 14, "text": t} for x, t in zip(xs, COLUMNS, strict=True)],
        "nodes": [placed[n.id] for c in sorted(by_column) for n in by_column[c]],
        "edges": paths,
    }


# What a table's converter does with JSON fields its message does not define (the `unknown_fields` option).
_UNKNOWN_FIELDS = {
    "REJECT": "rejected: the event is dead-lettered (stage `validate`)",
    "IGNORE": "ignored: dropped from the event, counted in the pipeline's `unknown_fields` metric",
    "KEEP": "kept in the `_unknown` JSON column, by path from the root",
}


def _page_tables(model: Model) -> tuple[Table, ...]:
    return (*model.tables, model.backup_table, model.dead_letter_table)


def page(model: Model, eager: int = EAGER_ROWS, visible: dict[str, list[tuple[str, Column]]] | None = None) -> bytes:
    """The catalog page. `eager`: up to this many columns in all, the script lays out every row at once (the
    browser's own search finds them); beyond, only the rows of the tables near the window, as it scrolls. `visible`:
    `_visible_by_table` of its tables, when the caller has it already."""
    cats = {c["name"]: c for c in platform_categories(model)}
    page_tables = _page_tables(model)
    if visible is None:
        visible = _visible_by_table(page_tables)
    tables: list[dict[str, Any]] = []
    data: list[str] = []
    total = 0
    for t in page_tables:
        sources = model.sources_of(t.message) if t.message else ()
        p = t.partitioning
        ref = _ref(t)
        rows = visible[ref]
        total += len(rows)
        data.append(_data_rows(ref, rows))
        tables.append(
            {
                "ref": ref,
                "anchor": f"table-{ref}",
                "message": t.message,
                "description": t.description,
                "sources": [f"{s.name} ({s.kind})" for s in sources],
                "topic": t.topic if t.message else "",
                "processed": t.processed_topic if t.message else "",
                "partitioning": f"{p.granularity} on {p.column}" if p.column else f"{p.granularity} (ingestion time)",
                "clustering": ", ".join(t.clustering),
                "unknown_fields": _UNKNOWN_FIELDS[t.unknown_fields] if t.message else "",
            }
        )
    tagged = _tagged(visible)
    categories = []
    readers_data = []
    for entry in cats.values():
        name = entry["name"]
        clear, masked = (sorted(r) for r in readers(cats, name))
        categories.append({**entry, "reads_clear": clear, "reads_masked": masked, "columns": tagged.get(name, [])})
        readers_data.append(_script_json([name, entry.get("masking") or "", clear, masked]) + "\n")
    return render(
        "docs/index.html.j2",
        header=header_text(model.provenance),
        project=model.project,
        lineage=lineage(model),
        tables=tables,
        categories=categories,
        total=total,
        eager=eager,
        category_data="".join(readers_data),
        column_data="".join(data),
    )


def emit(model: Model) -> list[OutputFile]:
    visible = _visible_by_table(_page_tables(model))
    tagged = _tagged({_ref(t): visible[_ref(t)] for t in model.tables})
    tables = []
    for t in model.tables:
        ref = _ref(t)
        rows = visible[ref]
        srcs = model.sources_of(t.message)
        p = t.partitioning
        tables.append(
            {
                "ref": ref,
                "message": t.message,
                "sources": ", ".join(f"`{s.name}` ({s.kind})" for s in srcs),
                "partitioning": f"{p.granularity} on `{p.column}`" if p.column else f"{p.granularity} (ingestion time)",
                "clustering": ", ".join(f"`{c}`" for c in t.clustering),
                "unknown_fields": _UNKNOWN_FIELDS[t.unknown_fields],
                "description": _cell(t.description),
                "lineage": " + ".join(f"{s.kind} `{s.name}`" for s in srcs)
                + f" → Pub/Sub `{t.topic}` → `{ref}` and `{t.processed_topic}`",
                "rows": _markdown_rows(rows),
            }
        )
    categories = [
        {
            "name": c.name,
            "parent": f"`{c.parent}`" if c.parent else "",
            "masking": c.masking or "",
            "readers": ", ".join(c.readers),
            "masked_readers": ", ".join(c.masked_readers),
            "columns": ", ".join(f"`{column}`" for column in tagged.get(c.name, [])),
        }
        for c in model.categories
    ]
    sources = model.provenance
    body = render(
        "docs/catalog.md.j2", header=header("md", sources), project=model.project, tables=tables, categories=categories
    )
    return [OutputFile("docs/catalog.md", body), OutputFile("docs/index.html", page(model, visible=visible))]
