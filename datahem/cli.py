"""The `datahem` command line. Exit codes: 0 success, 1 user error (diagnostics printed), 2 usage error,
3 internal error (a bug in datahem, never caused by input)."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

import click

from datahem.compiler import rules as _rules  # noqa: F401  (registers the rules)
from datahem.compiler.diagnostics import FORMATTERS, RULES, CompileError
from datahem.compiler.sources import KINDS
from datahem.output import console, reporting, step, use_colour

PROJECT = click.option(
    "--project",
    "project",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="Project directory holding sources.yaml and schemas/.",
)


VERSIONS = (("datahem", "DataHem"), ("protobuf", "protobuf"), ("apache-beam", "Beam"), ("cdktf", "cdktf"))


def _examples(*lines: str) -> str:
    """A command's --help epilog: example invocations, kept as written (click's `\b` stops rewrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _paint(text: str) -> str:
    """Diagnostics with their severity coloured (stripped again by click.echo when not on a terminal)."""
    for word, colour in (("error", "red"), ("warning", "yellow"), ("note", "cyan")):
        text = text.replace(f": {word}[", f": {click.style(word, fg=colour, bold=True)}[")
    return text


def _versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    for dist, label in VERSIONS:
        try:
            click.echo(f"{label} {version(dist)}")
        except PackageNotFoundError:
            click.echo(f"{label} (not installed)")
    ctx.exit()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_examples(
        "datahem build",
        "datahem plan --against origin/main",
        "datahem rules FIELD_RENAMED",
        "datahem completion bash > ~/.local/share/bash-completion/completions/datahem",
    ),
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_versions,
    help="Print the versions of DataHem, protobuf, Beam and cdktf, and exit.",
)
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


@main.command(
    epilog=_examples(
        "datahem build",
        "datahem build --check --format github",
        "datahem build --against origin/main   # one migration for the whole branch",
    )
)
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
@click.option(
    "--against",
    default=None,
    help="Compare with this baseline instead of generated/: a git ref (e.g. origin/main) or a directory. Its "
    "migrations are carried over and this build's changes become one new migration.",
)
def build(project: str, check: bool, fmt: str, against: str | None) -> None:
    """Compile PROJECT into PROJECT/generated/ (atomically; nothing is written on error)."""
    from datahem.compiler import tempdirs, writer
    from datahem.compiler.build import Settings, compile_project, render_all
    from datahem.compiler.evolution.tree import BaselineError

    settings = Settings(Path(project), against=against)
    started = time.perf_counter()
    try:
        if not check:  # finish what an interrupted build left: generated/ set aside, staging and temporary folders
            writer.recover(settings.output_dir)
            tempdirs.remove_stale()
        with reporting(console(sys.stderr)):
            with step(f"compiling {os.path.abspath(project)}"):
                compiled = compile_project(settings.project_dir, against)
            with step("rendering generated/"):
                files = render_all(compiled, settings)
    except CompileError as err:
        text = FORMATTERS[fmt](err.diagnostics, "" if project == "." else project)
        click.echo(_paint(text) if fmt == "text" else text, nl=False, color=use_colour())
        click.echo(f"datahem: {err.errors} error(s); nothing was written", err=True)
        sys.exit(1)
    except BaselineError as err:
        raise click.BadParameter(str(err), param_hint="--against") from err
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


@main.command(
    epilog=_examples(
        "datahem backfill --source orders --gcp-project grocer-data-dev \\",
        "  --query \"SELECT payload, attributes FROM events_backup.backup WHERE DATE(_received_at) = '2024-06-01'\"",
    )
)
@PROJECT
@click.option("--source", "source_name", required=True, help="Source whose topic receives the replayed events.")
@click.option("--query", "sql", required=True, help="SQL over the backup table selecting `payload` and `attributes`.")
@click.option("--gcp-project", envvar="GOOGLE_CLOUD_PROJECT", required=True, help="GCP project of the run.")
@click.option("--bigquery-endpoint", default=None, help="BigQuery API endpoint (local emulator).")
@click.option("--runner", default="DirectRunner", show_default=True, help="Beam runner, e.g. DataflowRunner.")
@click.argument("beam_args", nargs=-1, type=click.UNPROCESSED)
def backfill(project, source_name, sql, gcp_project, bigquery_endpoint, runner, beam_args) -> None:
    """Replay events from the backup table to SOURCE's topic with backfill=true and their original uuid."""
    from datahem.compiler.build import load_model
    from datahem.runtime.beam.backfill import run

    with reporting(console(sys.stderr)):
        try:
            with step(f"compiling {os.path.abspath(project)}"):
                model = load_model(Path(project))
        except CompileError as err:
            click.echo(FORMATTERS["text"](err.diagnostics, "" if project == "." else project), nl=False)
            sys.exit(1)
        source = next((s for s in model.sources if s.name == source_name), None)
        if source is None:
            names = ", ".join(s.name for s in model.sources)
            raise click.BadParameter(f"no source named {source_name!r}; sources: {names}", param_hint="--source")
        argv = [f"--project={gcp_project}", f"--runner={runner}", *beam_args]
        topic = source.table.topic
        with step(f"replaying the events the query selects from the backup table to topic {topic} ({runner})"):
            count = run(sql, topic, argv, bigquery_endpoint)
    click.echo(f"replayed {count} events to topic {source.table.topic} with backfill=true")


@main.command(epilog=_examples("PUBSUB_EMULATOR_HOST=localhost:8085 datahem serve http --port 8080"))
@click.argument("kind", type=click.Choice([k.name for k in KINDS.values() if k.dev.serve]))
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@PROJECT
def serve(kind: str, port: int, host: str, project: str) -> None:
    """Run the KIND collector locally with PROJECT's generated routing tables.

    Publishes to the Pub/Sub project named by GOOGLE_CLOUD_PROJECT, or to the emulator when PUBSUB_EMULATOR_HOST
    is set (its missing topics are created). Exit 1 when the routing table or the environment is unusable.
    """
    from datahem.runtime.collectors.errors import CollectorConfigError
    from datahem.runtime.collectors.serve import serve as run_collector

    try:
        run_collector(kind, Path(project), host=host, port=port)
    except CollectorConfigError as err:
        click.echo(f"datahem serve {kind}: cannot start: {err}", err=True)
        sys.exit(1)


@main.command(
    epilog=_examples(
        "datahem dev                       # start everything; Ctrl-C stops it",
        "datahem dev --send-examples       # in another terminal",
        'datahem dev --query "SELECT order_id, status FROM events.orders"',
    )
)
@PROJECT
@click.option("--send-examples", is_flag=True, help="Send every example event to the running platform; report.")
@click.option("--query", "sql", default=None, help="Run SQL on the running platform's BigQuery emulator.")
@click.option("--wait", default=90.0, show_default=True, help="--send-examples: seconds to wait for the rows.")
@click.option("--build", "rebuild", is_flag=True, help="Rebuild generated/ first when it is not up to date.")
def dev(project: str, send_examples: bool, sql: str | None, wait: float, rebuild: bool) -> None:
    """Run the whole platform on this machine: Pub/Sub and BigQuery emulators, collectors, moto (Kinesis) and the
    pipelines on the DirectRunner, until Ctrl-C. With --send-examples or --query, use the one already running.
    A generated/ that is not what sources.yaml and schemas/ compile to is refused (or rebuilt with --build)."""
    from datahem.compiler import writer
    from datahem.compiler.build import Settings
    from datahem.compiler.build import build as run_build
    from datahem.compiler.loader.examples import load_examples
    from datahem.dev.supervisor import DevError

    out = console()
    root = Path(project)
    base = "" if project == "." else project
    try:
        if send_examples or sql:
            from datahem.dev import client

            if send_examples:
                try:
                    examples = load_examples(root)
                except CompileError as err:
                    click.echo(FORMATTERS["text"](err.diagnostics, base), nl=False)
                    sys.exit(1)
                if not client.send_and_report(root, examples, out, wait):
                    sys.exit(1)
            if sql:
                client.print_query(root, sql, out)
            return
        from datahem.dev.layout import Layout
        from datahem.dev.supervisor import run

        settings = Settings(root)
        with reporting(out):
            try:
                with step(f"compiling {os.path.abspath(project)} and comparing it with its generated/"):
                    model, files = run_build(settings)
                    examples = load_examples(root)
            except CompileError as err:
                click.echo(FORMATTERS["text"](err.diagnostics, base), nl=False)
                sys.exit(1)
            changes = writer.diff(settings.output_dir, files)
            if changes and not rebuild:
                shown = ", ".join(f"generated/{c.path}" for c in changes[:3]) + (", ..." if len(changes) > 3 else "")
                raise DevError(
                    f"generated/ is not up to date with sources.yaml and schemas/ ({len(changes)} file(s): {shown}); "
                    f"run `datahem build{' --project ' + project if base else ''}` first, or `datahem dev --build`"
                )
            if changes:
                writer.write(settings.output_dir, files)
                out.print(f"rebuilt generated/ ({len(changes)} file(s) changed)")
            payloads: dict[str, str] = {}
            for ex in examples:
                if ex.valid:
                    payloads.setdefault(ex.message, ex.payload)
            run(root, Layout.from_model(model), payloads, out)
    except DevError as err:
        click.echo(f"datahem dev: {err}", err=True)
        sys.exit(1)


@main.command(
    epilog=_examples(
        "datahem plan                                  # against HEAD",
        "datahem plan --against origin/main > plan.md  # the pull request's comment",
        "datahem plan --against origin/main --format json --fail-on-breaking",
        "datahem plan --volumes volumes.yaml             # orders: 2.5  (GiB/day per source)",
    )
)
@PROJECT
@click.option(
    "--against",
    default=None,
    help="Baseline: a git ref (e.g. origin/main) or a directory (a project, or a generated/ tree). "
    "Default: HEAD in a git work tree, else the project's generated/.",
)
@click.option("--fail-on-breaking", is_flag=True, help="Exit 1 when a breaking change is not accepted.")
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True, help="Output."
)
@click.option(
    "--volumes",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="YAML/JSON: GiB/day of events per source ({source: GiB}, or {environment: {source: GiB}}); the plan "
    "prices them before and after.",
)
def plan(project: str, against: str | None, fail_on_breaking: bool, fmt: str, volumes: str | None) -> None:
    """Print what the change since AGAINST does, as Markdown for a pull-request comment: breaking and access changes
    first, then tables, migrations, routes, Dataflow jobs and Terraform resources."""
    from datahem.compiler.build import plan as make_plan
    from datahem.compiler.evolution.plan import as_json, markdown
    from datahem.compiler.evolution.tree import BaselineError

    amounts = _volumes(volumes) if volumes else None
    try:
        versus = f" against {against}" if against else ""
        with reporting(console(sys.stderr)), step(f"planning {os.path.abspath(project)}{versus}"):
            result = make_plan(Path(project), against, volumes=amounts)
    except CompileError as err:
        click.echo(FORMATTERS["text"](err.diagnostics, "" if project == "." else project), nl=False)
        click.echo(f"datahem: {err.errors} error(s); fix them before planning", err=True)
        sys.exit(1)
    except BaselineError as err:
        raise click.BadParameter(str(err), param_hint="--against") from err
    except Exception as exc:  # noqa: BLE001
        _internal_error(exc)
    click.echo(markdown(result) if fmt == "markdown" else as_json(result), nl=False)
    if fail_on_breaking and result.blocking:
        click.echo(f"datahem plan: {len(result.blocking)} breaking change(s)", err=True)
        sys.exit(1)


def _volumes(path: str) -> dict:
    """The `--volumes` file: a mapping of source → GiB/day (a number ≥ 0), or of environment → such a mapping."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--volumes") from exc

    def valid(m: object) -> bool:
        return isinstance(m, dict) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in m.values()
        )

    if not isinstance(data, dict) or not all(
        valid(v) if isinstance(v, dict) else valid({k: v}) for k, v in data.items()
    ):
        raise click.BadParameter(
            f"{path}: expected `source: GiB/day` (numbers >= 0), or `environment: {{source: GiB/day}}`",
            param_hint="--volumes",
        )
    return data


@main.command(
    epilog=_examples(
        "terraform -chdir=generated/infra/cdktf.out/stacks/dev output -json policy_tags > policy_tags.json",
        "datahem migrate --gcp-project grocer-data-dev --policy-tags policy_tags.json --dry-run",
        "datahem migrate --gcp-project grocer-data-dev --policy-tags policy_tags.json",
    )
)
@PROJECT
@click.option("--gcp-project", envvar="GOOGLE_CLOUD_PROJECT", required=True, help="GCP project of the environment.")
@click.option("--bigquery-endpoint", default=None, help="BigQuery API endpoint (a local emulator).")
@click.option(
    "--policy-tags",
    "policy_tags",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="JSON map category → policy-tag name (the stack's output: terraform output -json policy_tags).",
)
@click.option("--table", "tables", multiple=True, help="Only this table (dataset.table); repeatable.")
@click.option("--assume-level", type=click.IntRange(0), default=None, help="Migration an unlabelled table has.")
@click.option("--dry-run", is_flag=True, help="Print what would be applied; change nothing.")
def migrate(project, gcp_project, bigquery_endpoint, policy_tags, tables, assume_level, dry_run) -> None:
    """Apply generated/bigquery/migrations/ to the tables of GCP_PROJECT (after terraform apply), once per table.

    Each table records the last migration it has in its label `datahem_migration`; running again changes nothing.
    Exit 1 when a table cannot be migrated (the message says why).
    """
    import json

    from datahem.deploy.migrate import MigrationError, Migrator, client_for

    tags = None
    if policy_tags:
        data = json.loads(Path(policy_tags).read_text(encoding="utf-8"))
        tags = data.get("value", data) if isinstance(data, dict) else None  # `terraform output -json` of the map
    migrator = Migrator(client_for(gcp_project, bigquery_endpoint), Path(project) / "generated", tags, dry_run)
    try:
        report = migrator.run(list(tables) or None, assume_level)
    except MigrationError as err:
        click.echo(f"datahem migrate: {err}", err=True)
        sys.exit(1)
    for line in report.lines:
        click.echo(line)
    click.echo(f"{'would apply' if dry_run else 'applied'} {report.applied} migration step(s)")


@main.command(epilog=_examples("datahem init shop", "datahem init . --name shop"))
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Project name (default: from DIRECTORY's name).")
def init(directory: str, name: str | None) -> None:
    """Start a project in DIRECTORY (default: here): sources.yaml with one HTTP source, a proto with its example
    events, the pull-request and deploy workflows, .gitignore and a README. It builds with zero edits. Exit 1 when
    DIRECTORY already holds a project (nothing is overwritten)."""
    from datahem.compiler.vocabulary import VOCABULARY_PATH
    from datahem.dev.scaffold import ScaffoldError, scaffold

    target = Path(directory)
    try:
        written = scaffold(target, name, VOCABULARY_PATH)
    except ScaffoldError as err:
        click.echo(f"datahem init: {err}", err=True)
        sys.exit(1)
    for rel in written:
        click.echo(f"  created {os.path.join(directory, rel) if directory != '.' else rel}")
    where = "" if directory == "." else f"cd {directory} && "
    click.echo(f"next: {where}datahem build && datahem test && datahem dev")


@main.command("test", epilog=_examples("datahem test", "datahem test --project shop --format github"))
@PROJECT
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATTERS)),
    default="text",
    show_default=True,
    help="How to print failures (github: workflow annotations).",
)
def test_examples(project: str, fmt: str) -> None:
    """Run every example event (schemas/**/*.examples.yaml) through its converter, compiled from the project as it
    is now: valid ones must become rows, invalid ones dead letters at their declared stage with their declared
    reason. Exit 1 on any failure, printed as path:line:col: error[EXAMPLE_...]."""
    from datahem.compiler.build import Settings, compile_project, render_all
    from datahem.compiler.diagnostics import Diagnostic, Diagnostics
    from datahem.compiler.loader.examples import read_examples
    from datahem.dev import contract

    base = "" if project == "." else project
    root = Path(project)
    diags = Diagnostics()
    examples = read_examples(root, diags)
    try:
        files = render_all(compile_project(root), Settings(root, emitters=("registry", "pipelines")))
    except CompileError as err:
        diags.extend(err.diagnostics)
        click.echo(FORMATTERS[fmt](diags.sorted(), base), nl=False)
        click.echo(f"datahem test: {diags.errors} error(s); the project does not build, no example was run", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001
        _internal_error(exc)
    converters = contract.load_converters(
        {path: text for path, text in files.items() if path.startswith("pipelines/converters/")}
    )
    outcome = contract.run(examples, converters, files["registry/descriptor_set.binpb"])
    diags.extend(Diagnostic(f.example.loc, f.rule_id, f.message) for f in outcome.failures)
    if diags:
        click.echo(FORMATTERS[fmt](diags.sorted(), base), nl=False)
        click.echo(f"datahem test: {len(diags)} failure(s) in {len(examples)} examples", err=True)
        sys.exit(1)
    click.echo(
        f"{len(examples)} examples as declared: {outcome.rows} rows, {outcome.dead_letters} dead letters "
        f"({len({e.file for e in examples})} files)"
    )


@main.command("rules", epilog=_examples("datahem rules", "datahem rules FIELD_RENAMED", "datahem rules field_renamed"))
@click.argument("rule_id", required=False)
def list_rules(rule_id: str | None) -> None:
    """List every validation rule with its id, category and purpose, then the compatibility rules (schema
    evolution) with their classification: safe, migration or breaking (`acceptable`: accepted_breaks may accept it).

    With RULE_ID, explain that one rule with a bad and a good example."""
    if rule_id:
        _explain(rule_id)
        return
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
    click.echo("\nExplain one rule, with examples: datahem rules RULE_ID")


def _explain(rule_id: str) -> None:
    from datahem.compiler.rule_examples import EXAMPLES
    from datahem.compiler.suggest import closest

    r = RULES.get(rule_id.upper())
    if r is None:
        close = closest(rule_id.upper(), RULES)
        hint = f"; did you mean {close}?" if close else "; `datahem rules` lists them"
        raise click.BadParameter(f"no rule {rule_id!r}{hint}", param_hint="RULE_ID")
    colour = use_colour()
    click.echo(click.style(r.id, bold=True) + f"  ({r.category})", color=colour)
    click.echo(r.purpose)
    if r.compatibility:
        kind = {
            "safe": "safe: nothing to do, or Terraform updates it in place",
            "migration": "migration: `datahem build` writes a schema migration that keeps the data",
            "breaking": "breaking: a build error",
        }[r.classification]
        click.echo(f"Classification: {kind}" + ("; it may be accepted in `accepted_breaks`." if r.acceptable else "."))
    example = EXAMPLES.get(r.id)
    if example is None:
        return
    for label, colour_name, text in (("Bad", "red", example.bad), ("Good", "green", example.good)):
        click.echo(f"\n{click.style(label, fg=colour_name, bold=True)} ({example.where}):", color=colour)
        click.echo("\n".join(f"    {line}" for line in text.splitlines()))


@main.command(
    epilog=_examples(
        "datahem completion bash > ~/.local/share/bash-completion/completions/datahem",
        'datahem completion zsh > "${fpath[1]}/_datahem"',
        "datahem completion fish > ~/.config/fish/completions/datahem.fish",
    )
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (click's shell completion of commands, options and values)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # click ships bash, zsh and fish
    click.echo(cls(main, {}, "datahem", "_DATAHEM_COMPLETE").source())


if __name__ == "__main__":
    main()
