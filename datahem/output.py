"""What the command line prints besides its results: colour, and the steps of long work.

On a terminal a long step is a spinner with its name; when the output is not a terminal (a pipe, a file, a CI log),
or NO_COLOR, TERM=dumb or CI is set, each step is one plain line, printed when the step starts (so a log shows what
is running), never wrapped. A step that reports a result (`s.done("...")`) adds `✓ result (seconds)` in both cases.

Steps are announced from anywhere (the compiler's synth, the dev supervisor) with `step(...)`; they are printed only
inside `reporting(...)`, which the command line opens: the compiler used as a library stays silent."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.text import Text

WIDE = 100_000  # the width of a console that is not a terminal: long lines stay whole


def use_colour(stream: object = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream if stream is not None else sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def interactive(stream: object) -> bool:
    """Whether `stream` gets spinners: a terminal, with colour allowed, not dumb, not a CI job."""
    return use_colour(stream) and os.environ.get("TERM") != "dumb" and not os.environ.get("CI")


def console(stream: IO[str] | None = None) -> Console:
    """A rich console: colour on a terminal only (NO_COLOR honoured); when the output is not a terminal (a pipe, a CI
    log), no wrapping at 80 columns: long lines stay whole."""
    from rich.console import Console

    target = stream if stream is not None else sys.stdout
    tty = bool(getattr(target, "isatty", lambda: False)())
    colour = use_colour(target)
    return Console(
        file=target,
        highlight=False,
        no_color=not colour,
        color_system="auto" if colour else None,
        soft_wrap=not tty,
        width=None if tty else WIDE,
    )


class Step:
    """One running step; `done(result)` names what it produced, printed with its time when it ends."""

    def __init__(self, what: str):
        self.what = what
        self.result: str | None = None

    def done(self, result: str) -> None:
        self.result = result


class _Reporter:
    def __init__(self, out: Console):
        self.out = out
        self.live = interactive(out.file)
        self.running: list[Step] = []
        self.status: Status | None = None

    def line(self, text: str, style: str = "") -> None:
        if self.live and style:
            self.out.print(f"[{style}]{_escape(text)}[/{style}]", soft_wrap=True, highlight=False)
        else:
            self.out.print(text, soft_wrap=True, markup=False, highlight=False)

    def _one_line(self, text: str) -> Text:
        """A spinner's text, cut to the terminal's width with an ellipsis: the spinner redraws one line."""
        from rich.text import Text

        line = Text(text)
        line.truncate(max(self.out.width - 2, 10), overflow="ellipsis")  # the spinner's frame and a space
        return line

    def begin(self, s: Step) -> None:
        self.running.append(s)
        if not self.live:
            self.line(f"{s.what} ...")
        elif self.status is None:
            self.status = self.out.status(self._one_line(s.what))
            self.status.start()
        else:
            self.status.update(self._one_line(s.what))

    def end(self, s: Step, seconds: float, ok: bool) -> None:
        self.running.remove(s)
        if ok and s.result is not None:
            if self.live:
                self.out.print(f"[green]✓[/green] {_escape(s.result)} [dim]({seconds:.1f}s)[/dim]", soft_wrap=True)
            else:
                self.line(f"✓ {s.result} ({seconds:.1f}s)")
        if self.status is not None:
            if self.running:
                self.status.update(self._one_line(self.running[-1].what))
            else:
                self.status.stop()
                self.status = None


_reporter: _Reporter | None = None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextlib.contextmanager
def reporting(out: Console) -> Iterator[None]:
    """Print the steps announced inside this block on `out` (a spinner on a terminal, plain lines otherwise)."""
    global _reporter
    previous, _reporter = _reporter, _Reporter(out)
    try:
        yield
    finally:
        if _reporter.status is not None:
            _reporter.status.stop()
        _reporter = previous


@contextlib.contextmanager
def step(what: str) -> Iterator[Step]:
    """A long step named `what` ("synthesizing the stacks"); silent outside `reporting`."""
    s = Step(what)
    reporter = _reporter
    if reporter is None:
        yield s
        return
    started = time.monotonic()
    reporter.begin(s)
    ok = False
    try:
        yield s
        ok = True
    finally:
        reporter.end(s, time.monotonic() - started, ok)


def note(text: str) -> None:
    """One line within the current steps (e.g. why a step takes long this time); silent outside `reporting`."""
    if _reporter is not None:
        _reporter.line(text, "yellow")
