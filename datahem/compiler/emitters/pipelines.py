"""Apache Beam pipelines: per message type a specialized converter, per source a streaming pipeline module, the
backup pipeline, the Dataflow flex-template metadata of each deployed job, and the container recipe that launches
them. Deployed jobs (`pipelines.deployment` in sources.yaml): per_environment (the default) composes every source's
module and the backup in one streaming job (`streaming.py`, template `streaming`); per_source deploys each source's
module and the backup as jobs of their own (templates `source_<name>`, `backup`).

Generated code imports only `datahem/runtime/` and the standard library, and is formatted with ruff."""

from __future__ import annotations

from typing import Any

from datahem.compiler.emitters import OutputFile, format_python, header, header_text, render, to_json
from datahem.compiler.emitters.converters import converter_context, module_name
from datahem.compiler.model.resolved import Model, Source
from datahem.compiler.sources import KINDS
from datahem.runtime.contracts.routing import job_name

STREAMING = "streaming"  # the module and template of the per-environment job
STREAMING_JOB = job_name(STREAMING)


def pipeline_module(source: Source) -> str:
    return f"source_{source.name}"


def per_environment(model: Model) -> bool:
    return model.deployment == "per_environment"


def _spec(model: Model, s: Source) -> dict[str, Any]:
    t = s.table
    bq = model.bigquery
    return {
        "pipeline": job_name(s.name),
        "source": s.name,
        "message_type": s.message,
        "subscription": t.enrichment_subscription,
        "table": f"{t.dataset}.{t.name}",
        "dead_letter_table": f"{bq.dead_letter_dataset}.{bq.dead_letter_table}",
        "processed_topic": t.processed_topic,
        "secrets": t.pseudonymization_secrets,
        "imported_from": s.kind if KINDS[s.kind].imported(s) else None,
    }


def _metadata(spec: dict[str, Any], description: str) -> dict[str, Any]:
    """Dataflow flex-template metadata: the parameters a launch may set."""
    return {
        "comment": header_text(["sources.yaml"]),
        "name": spec["pipeline"],
        "description": description,
        "parameters": [
            {"name": "subscription", "label": "Enrichment subscription", "isOptional": True,
             "helpText": f"Default: projects/<project>/subscriptions/{spec.get('subscription', '')}"},
            {"name": "dead_letter_table", "label": "Dead-letter table", "isOptional": True,
             "helpText": f"Default: {spec['dead_letter_table']}"},
            {"name": "write_method", "label": "Write method", "isOptional": True,
             "helpText": "storage_write (the Storage Write API, default) or insert_all (legacy streaming inserts); "
                         "set per environment by write_method in sources.yaml"},
        ],
    }  # fmt: skip


def emit(model: Model) -> list[OutputFile]:
    sources: dict[str, str] = {}
    out: list[OutputFile] = []
    for t in model.tables:
        ctx = converter_context(model, t, model.enum)
        files = t.provenance
        text = render("pipelines/converter.py.j2", header=header("py", files), **ctx).decode()
        sources[f"pipelines/converters/{module_name(t)}.py"] = text
    for s in model.sources:
        spec = _spec(model, s)
        files = s.table.provenance
        text = render(
            "pipelines/source.py.j2",
            header=header("py", files),
            spec=spec,
            source=s,
            converter=module_name(s.table),
        ).decode()
        sources[f"pipelines/{pipeline_module(s)}.py"] = text
        if not per_environment(model):
            desc = f"DataHem source {s.name}: {s.message} from {s.kind} into {spec['table']}"
            out.append(OutputFile(f"pipelines/templates/{pipeline_module(s)}.json", to_json(_metadata(spec, desc))))
    for s in model.sources:
        for r in KINDS[s.kind].readers(s):
            text = render(r.template, header=header("py", ["sources.yaml"]), **r.context).decode()
            sources[f"pipelines/{r.module}.py"] = text
            meta = _metadata({"pipeline": r.job, "dead_letter_table": ""}, r.description)
            meta["parameters"] = [
                {"name": name, "label": name, "isOptional": True, "helpText": r.help} for name in r.parameters
            ]
            out.append(OutputFile(f"pipelines/templates/{r.module}.json", to_json(meta)))
    bq = model.bigquery
    backup = {
        "pipeline": job_name("backup"),
        "subscriptions": [t.backup_subscription for t in model.tables],
        "table": f"{bq.backup_dataset}.{bq.backup_table}",
        "dead_letter_table": f"{bq.dead_letter_dataset}.{bq.dead_letter_table}",
        # the backup subscriptions of import topics (`SourceKind.imported`): their messages get DataHem's attributes
        "imported": {
            s.table.backup_subscription: (s.name, s.message, s.kind) for s in model.sources if KINDS[s.kind].imported(s)
        },
    }
    sources["pipelines/backup.py"] = render(
        "pipelines/backup.py.j2", header=header("py", ["sources.yaml"]), spec=backup
    ).decode()
    if per_environment(model):
        modules = [pipeline_module(s) for s in model.sources]
        sources[f"pipelines/{STREAMING}.py"] = render(
            "pipelines/streaming.py.j2", header=header("py", ["sources.yaml"]), job=STREAMING_JOB, modules=modules
        ).decode()
        meta = _metadata(
            {"pipeline": STREAMING_JOB, "dead_letter_table": backup["dead_letter_table"]},
            f"DataHem streaming job: the branches of {', '.join(s.name for s in model.sources) or 'no source'} "
            "and the backup",
        )
        meta["parameters"] = [p for p in meta["parameters"] if p["name"] != "subscription"]
        out.append(OutputFile(f"pipelines/templates/{STREAMING}.json", to_json(meta)))
    else:
        out.append(
            OutputFile(
                "pipelines/templates/backup.json",
                to_json(_metadata(backup, "DataHem backup: every topic's backup subscription into the backup table")),
            )
        )
    out.append(
        OutputFile("pipelines/Dockerfile", render("pipelines/Dockerfile.j2", header=header("txt", ["sources.yaml"])))
    )
    out.extend(OutputFile(path, data) for path, data in format_python(sources).items())
    return sorted(out, key=lambda f: f.path)
