"""Long steps on a terminal and in a log: `datahem build` run as a user runs it, in a subprocess, once with its output
in a pipe (a CI log: one plain line per step, no escape codes, never wrapped) and once on a pseudo-terminal (a spinner
naming each step), plus the Makefile that installs everything announcing each of its steps."""

from __future__ import annotations

import errno
import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from datahem.output import console, interactive, note, reporting, step
from tests.conftest import EXAMPLE, ROOT, copy_project

ANSI = re.compile(r"\x1b[\[\]()]")
# a folder name long enough that every line naming the project is wider than a terminal's 80 columns
LONG = "a-folder-whose-name-is-long-enough-that-every-path-below-it-is-wider-than-eighty-columns"
QUIET = ("NO_COLOR", "CI", "TERM", "COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in QUIET}
    return {**env, "TERM": "xterm-256color", **extra}


def _piped(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datahem.cli", *args], cwd=cwd, capture_output=True, text=True, env=_env(**extra)
    )


def _on_a_terminal(*args: str, cwd: Path, **extra: str) -> tuple[int, str]:
    """Run `datahem ARGS` with stdin, stdout and stderr on a pseudo-terminal of 80 columns; its exit code and
    everything it wrote (the terminal turns each \\n into \\r\\n)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "datahem.cli", *args],
        cwd=cwd,
        env=_env(**extra),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError as exc:  # EIO: the child closed its end of the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The example project with its generated/ (the stacks are reused: no synth), under a long path."""
    return copy_project(EXAMPLE, tmp_path_factory.mktemp("progress") / LONG / "project")


def test_piped_build_prints_one_plain_unwrapped_line_per_step(project):
    proc = _piped("build", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = f"compiling {project} ..."
    assert len(first) > 80
    assert proc.stderr.splitlines() == [first, "rendering generated/ ..."]  # no synth: the stacks are reused
    assert re.fullmatch(r"built \d+ files in \d+\.\d+s \(0 changed\)\n", proc.stdout)
    assert not ANSI.search(proc.stdout + proc.stderr)


def test_a_synth_is_a_step_of_its_own(project, tmp_path):
    changed = copy_project(project, tmp_path / LONG / "changed")
    sources = changed / "sources.yaml"
    sources.write_text(sources.read_text().replace("masking: EMAIL_MASK", "masking: SHA256"))
    # the synth is started for real and fails at once without Node: its line was printed before it ran
    proc = _piped("build", cwd=changed, JSII_NODE="/nonexistent/node")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[:3] == [
        f"compiling {changed} ...",
        "rendering generated/ ...",
        "synthesizing the Terraform stacks (dev, prod) with cdktf: their inputs changed ...",
    ]
    assert not ANSI.search(proc.stderr)


def test_a_terminal_shows_a_spinner_naming_each_step(project):
    code, out = _on_a_terminal("build", cwd=project)
    assert code == 0, out
    assert "\x1b[?25l" in out  # the cursor hidden while a spinner runs
    assert " compiling /" in out and " rendering generated/" in out
    assert "compiling \r\n" not in out and "…" in out  # a spinner's text is cut to one line of 80 columns
    assert f"compiling {project} ..." not in out  # no plain lines on a terminal
    assert re.search(r"built \d+ files in \d+\.\d+s \(0 changed\)\r\n", out)


@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "TERM=dumb"])
def test_a_terminal_gets_plain_unwrapped_lines_with_no_color_or_a_dumb_terminal(project, setting):
    code, out = _on_a_terminal("build", cwd=project, **setting)
    assert code == 0, out
    if "NO_COLOR" in setting:
        assert not ANSI.search(out)
    assert f"compiling {project} ...\r\n" in out  # whole, on an 80-column terminal
    assert "rendering generated/ ...\r\n" in out


def test_spinners_only_on_a_colour_terminal_outside_ci(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for name in ("NO_COLOR", "CI", "TERM"):
        monkeypatch.delenv(name, raising=False)
    assert interactive(Terminal()) and not interactive(io.StringIO())
    for name, value in (("NO_COLOR", "1"), ("CI", "true"), ("TERM", "dumb")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert not interactive(Terminal()), name


def test_steps_nest_report_results_and_are_silent_outside_reporting():
    out = io.StringIO()
    with step("not shown"):
        note("nor this")
    with reporting(console(out)):
        with step("rendering generated/"):
            with step("synthesizing the stacks") as s:
                note("the first synth takes longer")
                s.done("synthesized 2 stacks")
        with pytest.raises(RuntimeError), step("failing"):
            raise RuntimeError("no")
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["rendering generated/ ...", "synthesizing the stacks ...", "the first synth takes longer"]
    assert re.fullmatch(r"✓ synthesized 2 stacks \(\d+\.\ds\)", lines[3])
    assert lines[4:] == ["failing ..."]  # a failed step has no result line: its error follows


def test_make_announces_every_step_of_the_install():
    """The README's first command, `make build`, says what it does before each install step (a dry run)."""
    proc = subprocess.run(
        ["make", "-n", "-B", "-f", str(ROOT / "Makefile"), ".venv/.installed"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    steps = [line for line in lines if line.startswith('echo "make: [')]
    assert [s.split("]")[0] for s in steps] == [f'echo "make: [{n}/4' for n in range(1, 5)]
    for announced, command in zip(steps, ["-m venv", "uv==", "-r requirements.lock", "-e ."], strict=True):
        assert command in lines[lines.index(announced) + 1], (announced, command)
    install = next(line for line in lines if "-r requirements.lock" in line)
    assert "--quiet" not in install  # uv's own progress on a terminal, its plain lines in a log
