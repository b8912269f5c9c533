"""The data catalog: one Markdown page listing tables, columns, categories (who may read what) and lineage
(source → topic → table), for reviewers and data consumers."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header, render
from datahem.compiler.model.resolved import Column, Model


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(columns: tuple[Column, ...], prefix: str = "") -> list[dict]:
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
                "description": _cell(t.description),
                "lineage": " + ".join(f"{s.kind} `{s.name}`" for s in srcs)
                + f" → Pub/Sub `{t.topic}` → `{ref}` and `{t.processed_topic}`",
                "columns": rows,
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
    return [OutputFile("docs/catalog.md", body)]
