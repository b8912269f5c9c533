"""The `datahem` command line. Exit codes: 0 success, 1 user error (diagnostics printed), 2 usage error,
3 internal error (a bug in datahem, never caused by input)."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

import click

from compiler import rules as _rules  # noqa: F401  (registers the rules)
from compiler.diagnostics import FORMATTERS, RULES, CompileError

PROJECT = click.option(
    "--project",
    "project",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="Project directory holding sources.yaml and schemas/.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """DataHem: compile protobuf schemas and sources.yaml into an event-data platform on Google Cloud."""


def _internal_error(exc: BaseException) -> None:
    if os.environ.get("DATAHEM_DEBUG"):
        traceback.print_exc()
    click.echo(
        f"datahem: internal error (a bug in datahem, not in your project): {type(exc).__name__}: {exc}\n"
        "rerun with DATAHEM_DEBUG=1 for the traceback and report it",
        err=True,
    )
    sys.exit(3)


@main.command()
@PROJECT
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and list the files that would change.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATTERS)),
    default="text",
    show_default=True,
    help="How to print diagnostics (github: workflow annotations).",
)
def build(project: str, check: bool, fmt: str) -> None:
    """Compile PROJECT into PROJECT/generated/ (atomically; nothing is written on error)."""
    from compiler import writer
    from compiler.build import Settings
    from compiler.build import build as run_build

    settings = Settings(Path(project))
    started = time.perf_counter()
    try:
        _, files = run_build(settings)
    except CompileError as err:
        click.echo(FORMATTERS[fmt](err.diagnostics, "" if project == "." else project), nl=False)
        click.echo(f"datahem: {len(err.diagnostics)} error(s); nothing was written", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001
        _internal_error(exc)
    out = settings.output_dir
    if check:
        changes = writer.diff(out, files)
        if changes:
            for c in changes:
                click.echo(f"{c.status}: {os.path.join(project, 'generated', c.path)}")
            click.echo("datahem: generated/ is not up to date; run `datahem build`", err=True)
            sys.exit(1)
        click.echo(f"generated/ is up to date ({len(files)} files)")
        return
    changes = writer.write(out, files)
    elapsed = time.perf_counter() - started
    click.echo(f"built {len(files)} files in {elapsed:.2f}s ({len(changes)} changed)")
    for c in changes:
        click.echo(f"  {c.status}: generated/{c.path}")


@main.command()
@PROJECT
@click.option("--source", "source_name", required=True, help="Source whose topic receives the replayed events.")
@click.option("--query", "sql", required=True, help="SQL over the backup table selecting `payload` and `attributes`.")
@click.option("--gcp-project", envvar="GOOGLE_CLOUD_PROJECT", required=True, help="GCP project of the run.")
@click.option("--bigquery-endpoint", default=None, help="BigQuery API endpoint (local emulator).")
@click.option("--runner", default="DirectRunner", show_default=True, help="Beam runner, e.g. DataflowRunner.")
@click.argument("beam_args", nargs=-1, type=click.UNPROCESSED)
def backfill(project, source_name, sql, gcp_project, bigquery_endpoint, runner, beam_args) -> None:
    """Replay events from the backup table to SOURCE's topic with backfill=true and their original uuid."""
    from compiler.build import load_model
    from runtime.beam.backfill import run

    try:
        model = load_model(Path(project))
    except CompileError as err:
        click.echo(FORMATTERS["text"](err.diagnostics, "" if project == "." else project), nl=False)
        sys.exit(1)
    source = next((s for s in model.sources if s.name == source_name), None)
    if source is None:
        names = ", ".join(s.name for s in model.sources)
        raise click.BadParameter(f"no source named {source_name!r}; sources: {names}", param_hint="--source")
    argv = [f"--project={gcp_project}", f"--runner={runner}", *beam_args]
    count = run(sql, source.table.topic, argv, bigquery_endpoint)
    click.echo(f"replayed {count} events to topic {source.table.topic} with backfill=true")


@main.command()
@click.argument("kind", type=click.Choice(["http", "sns"]))
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@PROJECT
def serve(kind: str, port: int, host: str, project: str) -> None:
    """Run the KIND collector locally with PROJECT's generated routing tables.

    Publishes to the Pub/Sub project named by GOOGLE_CLOUD_PROJECT, or to the emulator when PUBSUB_EMULATOR_HOST
    is set (its missing topics are created). Exit 1 when the routing table or the environment is unusable.
    """
    from runtime.collectors.errors import CollectorConfigError
    from runtime.collectors.serve import serve as run_collector

    try:
        run_collector(kind, Path(project), host=host, port=port)
    except CollectorConfigError as err:
        click.echo(f"datahem serve {kind}: cannot start: {err}", err=True)
        sys.exit(1)


@main.command("rules")
def list_rules() -> None:
    """List every validation rule with its id, category and purpose, then the compatibility rules (schema
    evolution) with their classification: safe, migration or breaking (`acceptable`: accepted_breaks may accept it)."""
    width = max(len(r) for r in RULES)
    validation = [r for r in RULES.values() if not r.compatibility]
    for r in sorted(validation, key=lambda r: (r.category, r.id)):
        click.echo(f"{r.id:<{width}}  {r.category:<10}  {r.purpose}")
    click.echo("\nCompatibility rules (compared with the baseline: generated/, or --against):")
    order = {"breaking": 0, "migration": 1, "safe": 2}
    for r in sorted(
        (r for r in RULES.values() if r.compatibility), key=lambda r: (r.category, order[r.classification], r.id)
    ):
        kind = r.classification + (" (acceptable)" if r.acceptable else "")
        click.echo(f"{r.id:<{width}}  {r.category:<10}  {kind:<22}  {r.purpose}")


if __name__ == "__main__":
    main()
