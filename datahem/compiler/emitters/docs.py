"""The data catalog, for reviewers and data consumers: `docs/catalog.md` (tables, columns, categories and lineage as
Markdown, good in a diff) and `docs/index.html` (one self-contained page to browse: the lineage drawn as SVG, a
section per table with its columns and who reads them, a filter over all columns, the categories with their readers).

The page has no network access and no framework: inline CSS, a small inline script (the filter, which also reads
`#filter=TEXT` from the address) and an SVG whose coordinates are computed here, deterministically, so the bytes
only change when the project does. The template only lays out what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datahem.compiler.emitters import OutputFile, header, header_text, render
from datahem.compiler.emitters.pipelines import STREAMING_JOB
from datahem.compiler.model.resolved import Column, Model, Table
from datahem.compiler.projection.platform import categories as platform_categories
from datahem.compiler.projection.platform import readers
from datahem.runtime.contracts.routing import job_name

# the lineage diagram's geometry (pixels): columns left to right, nodes evenly spread over the tallest column
CHAR, PAD, NODE_H, PITCH, GAP, MARGIN, TITLE = 7.5, 12, 30, 40, 56, 16, 28
COLUMNS = ("Sources", "Pub/Sub topics", "Dataflow pipelines", "Tables and processed streams", "Backup, dead letters")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(columns: tuple[Column, ...], prefix: str = "") -> list[dict[str, Any]]:
    rows = []
    for c in columns:
        if c.hidden:
            continue
        rows.append(
            {
                "path": prefix + c.name,
                "type": c.bq_type,
                "mode": c.mode,
                "category": f"`{c.category}`" if c.category else "",
                "description": _cell(c.description),
            }
        )
        rows.extend(_rows(c.fields, prefix + c.name + "."))
    return rows


# The column rows, the bulk of both documents (a line per column of every table), are laid out here rather than by
# a loop in the templates: a Jinja loop spent more time on attribute lookups and filters than the rest of the build.


def _e(text: str) -> str:
    """HTML-escaped exactly as Jinja's `|e` (markupsafe) does: & < > " '."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    )


def _markdown_rows(rows: list[dict[str, Any]]) -> str:
    return "".join(
        f"| `{r['path']}` | {r['type']} | {r['mode']} | {r['category']} | {r['description']} |\n" for r in rows
    )


def _html_rows(
    ref: str, rows: list[dict[str, Any]], by_category: dict[str, tuple[str, str]], text: dict[str, tuple[str, str]]
) -> str:
    """The table's column rows. `by_category`: category → (its cells, its words in the filter text), laid out once
    per category; `text`: a description → (escaped, lower-cased and escaped), memoized (types like Money repeat).
    Lower-casing and escaping act character by character, so the filter text is made of parts done separately."""
    out = []
    table = _e(ref)
    for r in rows:
        description = r["description"]
        described = text.get(description)
        if described is None:
            described = text[description] = (_e(description), _e(description.lower()))
        cells, words = by_category[r["category"]]
        path = _e(r["path"])
        column = _e(f"{ref}.{r['path']}".lower())
        search = f"{column} {r['type'].lower()} {r['mode'].lower()} {words} {described[1]}"
        out.append(
            f'<tr class="col" data-search="{search}" data-column="{table}.{path}">\n'
            f'<td class="path" style="padding-left: {8 + 16 * r["depth"]}px"><code>{path}</code></td>'
            f"<td>{r['type']}</td><td>{r['mode']}</td>{cells}<td>{described[0]}</td>\n"
            "</tr>\n"
        )
    return "".join(out)


def _category_cells(category: str, masking: str, clear: list[str], masked: list[str]) -> tuple[str, str]:
    """The cells of a column of `category` ("" for none) from its category to its masked readers, and the words
    the filter searches for them."""
    label = f'<span class="cat">{_e(category)}</span>' if category else ""
    cells = (
        f'<td>{label}</td><td>{_e(masking)}</td><td class="who">{_e(", ".join(clear))}</td>'
        f'<td class="who masked">{_e(", ".join(masked))}</td>'
    )
    return cells, _e(" ".join((category, masking, " ".join(clear), " ".join(masked))).lower())


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


def _column_rows(
    t: Table, who: dict[str, tuple[list[str], list[str], str]], columns: tuple[Column, ...], prefix: str = ""
) -> list[dict[str, Any]]:
    """`who`: category → (clear readers, masked readers, masking), sorted, for every category."""
    rows = []
    for c in columns:
        if c.hidden:
            continue
        clear, masked, masking = who.get(c.category or "", ([], [], ""))
        path = prefix + c.name
        rows.append(
            {
                "table": _ref(t),
                "path": path,
                "depth": path.count("."),
                "type": c.bq_type,
                "mode": c.mode,
                "category": c.category or "",
                "masking": masking,
                "readers": clear,
                "masked_readers": masked,
                "description": c.description,
            }
        )
        rows.extend(_column_rows(t, who, c.fields, path + "."))
    return rows


# What a table's converter does with JSON fields its message does not define (the `unknown_fields` option).
_UNKNOWN_FIELDS = {
    "REJECT": "rejected: the event is dead-lettered (stage `validate`)",
    "IGNORE": "ignored: dropped from the event, counted in the pipeline's `unknown_fields` metric",
    "KEEP": "kept in the `_unknown` JSON column, by path from the root",
}


def page(model: Model) -> bytes:
    cats = {c["name"]: c for c in platform_categories(model)}
    who: dict[str, tuple[list[str], list[str], str]] = {}
    for name, entry in cats.items():
        clear, masked = readers(cats, name)
        who[name] = (sorted(clear), sorted(masked), entry.get("masking") or "")
    by_category = {
        name: _category_cells(name, masking, clear, masked) for name, (clear, masked, masking) in who.items()
    }
    by_category[""] = _category_cells("", "", [], [])
    text: dict[str, tuple[str, str]] = {}
    tables: list[dict[str, Any]] = []
    for t in (*model.tables, model.backup_table, model.dead_letter_table):
        sources = model.sources_of(t.message) if t.message else ()
        p = t.partitioning
        columns = _column_rows(t, who, t.bq_columns)
        for r in columns:  # a category sources.yaml does not define (reported by the checks): no readers
            if r["category"] not in by_category:
                by_category[r["category"]] = _category_cells(r["category"], "", [], [])
        tables.append(
            {
                "ref": _ref(t),
                "anchor": f"table-{_ref(t)}",
                "message": t.message,
                "description": t.description,
                "sources": [f"{s.name} ({s.kind})" for s in sources],
                "topic": t.topic if t.message else "",
                "processed": t.processed_topic if t.message else "",
                "partitioning": f"{p.granularity} on {p.column}" if p.column else f"{p.granularity} (ingestion time)",
                "clustering": ", ".join(t.clustering),
                "unknown_fields": _UNKNOWN_FIELDS[t.unknown_fields] if t.message else "",
                "columns": columns,
                "rows": _html_rows(_ref(t), columns, by_category, text),
            }
        )
    tagged: dict[str, list[str]] = {}
    for entry in tables:
        for r in entry["columns"]:
            if r["category"]:
                tagged.setdefault(r["category"], []).append(f"{entry['ref']}.{r['path']}")
    categories = [
        {
            **c,
            "reads_clear": sorted(readers(cats, c["name"])[0]),
            "reads_masked": sorted(readers(cats, c["name"])[1]),
            "columns": tagged.get(c["name"], []),
        }
        for c in cats.values()
    ]
    return render(
        "docs/index.html.j2",
        header=header_text(model.provenance),
        project=model.project,
        lineage=lineage(model),
        tables=tables,
        categories=categories,
        total=sum(len(entry["columns"]) for entry in tables),
    )


def emit(model: Model) -> list[OutputFile]:
    tables = []
    tagged: dict[str, list[str]] = {}
    for t in model.tables:
        ref = f"{t.dataset}.{t.name}"
        rows = _rows(t.bq_columns)
        for r in rows:
            if r["category"]:
                tagged.setdefault(r["category"].strip("`"), []).append(f"`{ref}.{r['path']}`")
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
                "columns": rows,
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
            "columns": ", ".join(tagged.get(c.name, [])),
        }
        for c in model.categories
    ]
    sources = model.provenance
    body = render(
        "docs/catalog.md.j2", header=header("md", sources), project=model.project, tables=tables, categories=categories
    )
    return [OutputFile("docs/catalog.md", body), OutputFile("docs/index.html", page(model))]
