"""The command line's habits: `--version`, `rules RULE_ID` with examples, examples in every `--help`, colour on a
terminal only (NO_COLOR honoured), no wrapping when the output is not a terminal, shell completion scripts."""

from __future__ import annotations

import io
import re

import click
import pytest

from datahem.cli import console, main, use_colour
from datahem.compiler.diagnostics import RULES
from datahem.compiler.rule_examples import EXAMPLES
from tests.conftest import EXAMPLE, copy_project, invoke_datahem

ANSI = re.compile(r"\x1b\[")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_version_names_datahem_protobuf_beam_and_cdktf():
    proc = invoke_datahem("--version")
    assert proc.returncode == 0, proc.stderr
    labels = [line.split(" ")[0] for line in proc.stdout.splitlines()]
    assert labels == ["DataHem", "protobuf", "Beam", "cdktf"]
    assert re.match(r"DataHem \d+\.\d+", proc.stdout)


def test_rules_explains_one_rule_with_a_bad_and_a_good_example():
    proc = invoke_datahem("rules", "field_renamed")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("FIELD_RENAMED  (json)\nA field keeps its name")
    assert "Classification: breaking: a build error; it may be accepted in `accepted_breaks`." in proc.stdout
    assert "\nBad (schemas/**/*.proto):\n    // before\n    string email = 6;\n" in proc.stdout
    assert "\nGood (schemas/**/*.proto):\n" in proc.stdout
    assert not ANSI.search(proc.stdout)  # not a terminal: no colour
    wrong = invoke_datahem("rules", "FIELD_RENAMD")
    assert wrong.returncode == 2 and "did you mean FIELD_RENAMED?" in wrong.stderr


def test_every_rule_has_an_example():
    assert sorted(set(RULES) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(RULES)) == []


def test_every_command_shows_examples_in_its_help():
    for name in ["", *sorted(main.commands)]:
        args = [name, "--help"] if name else ["--help"]
        proc = invoke_datahem(*args)
        assert proc.returncode == 0, (name, proc.stderr)
        examples = proc.stdout.partition("Examples:\n")[2]
        assert f"datahem {name}".strip() in examples, name


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script(shell):
    proc = invoke_datahem("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert "_DATAHEM_COMPLETE" in proc.stdout
    assert f"{shell}_complete" in proc.stdout


def test_colour_on_a_terminal_only_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Terminal()) is True
    assert use_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(_Terminal()) is False
    out = _Terminal()
    console(out).print("[red]error[/red]")
    assert not ANSI.search(out.getvalue())
    monkeypatch.delenv("NO_COLOR")
    out = _Terminal()
    console(out).print("[red]error[/red]")
    assert ANSI.search(out.getvalue())


def test_piped_output_is_not_wrapped():
    """A long diagnostic and a `--query` table with its row count stay whole lines in a pipe (a CI log)."""
    from datahem.dev.client import show_rows

    out = io.StringIO()
    c = console(out)
    long = "schemas/grocer/commerce/v1/order.proto:24:3: error[COLUMN_RENAMED]: " + "x" * 300
    c.print(long)
    show_rows([{"n": 1}], c)
    show_rows([{"note": "a long value " * 9, "id": "order-1"}], c)
    lines = out.getvalue().splitlines()
    assert lines[0] == long
    assert "1 row(s)" in lines
    assert any("a long value " * 9 in line for line in lines)
    assert not ANSI.search(out.getvalue())


def test_build_errors_are_coloured_on_a_terminal_only(tmp_path, monkeypatch):
    project = copy_project(EXAMPLE, tmp_path / "p")
    sources = project / "sources.yaml"
    sources.write_text(sources.read_text().replace("  name: grocer\n", "  name: grocer\n  nme: typo\n", 1))
    piped = invoke_datahem("build", cwd=project)
    assert piped.returncode == 1 and "error[YAML_UNKNOWN_KEY]" in piped.stdout
    assert not ANSI.search(piped.stdout)
    monkeypatch.setattr(click.utils, "should_strip_ansi", lambda stream=None, color=None: not color)
    monkeypatch.setattr("datahem.cli.use_colour", lambda stream=None: True)
    painted = invoke_datahem("build", cwd=project)
    assert click.style("error", fg="red", bold=True) + "[YAML_UNKNOWN_KEY]" in painted.stdout
