"""What `datahem dev` creates, as plain data: topics, subscriptions, tables and sources of a project.

The CLI builds it from the resolved model (datahem/runtime/ never imports datahem/compiler/); it is written into the state file so
that `--send-examples` and `--query` know the platform without compiling the project again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GCP_PROJECT = "demo-project"


@dataclass(frozen=True)
class TopicLayout:
    topic: str
    processed_topic: str
    backup_subscription: str
    enrichment_subscription: str


@dataclass(frozen=True)
class SourceLayout:
    name: str
    kind: str
    message: str
    topic: str
    table: str  # dataset.table of its rows


@dataclass(frozen=True)
class Layout:
    gcp_project: str
    topics: tuple[TopicLayout, ...]
    tables: tuple[str, ...]  # every dataset.table, data tables first, then backup and dead letters
    sources: tuple[SourceLayout, ...]
    backup_table: str
    dead_letter_table: str
    location: str = "US"  # the project's bigquery.location: datasets are created and queried there

    @classmethod
    def from_model(cls, model, gcp_project: str = GCP_PROJECT) -> Layout:
        """From datahem.compiler.model.resolved.Model (duck-typed: this package does not import the compiler)."""
        return cls(
            gcp_project=gcp_project,
            topics=tuple(
                TopicLayout(t.topic, t.processed_topic, t.backup_subscription, t.enrichment_subscription)
                for t in model.tables
            ),
            tables=tuple(f"{t.dataset}.{t.name}" for t in (*model.tables, model.backup_table, model.dead_letter_table)),
            sources=tuple(
                SourceLayout(s.name, s.kind, s.message, s.table.topic, f"{s.table.dataset}.{s.table.name}")
                for s in model.sources
            ),
            backup_table=f"{model.backup_table.dataset}.{model.backup_table.name}",
            dead_letter_table=f"{model.dead_letter_table.dataset}.{model.dead_letter_table.name}",
            location=model.bigquery.location,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> Layout:
        return cls(
            gcp_project=doc["gcp_project"],
            topics=tuple(TopicLayout(**t) for t in doc["topics"]),
            tables=tuple(doc["tables"]),
            sources=tuple(SourceLayout(**s) for s in doc["sources"]),
            backup_table=doc["backup_table"],
            dead_letter_table=doc["dead_letter_table"],
            location=doc.get("location", "US"),
        )
