"""Regular expressions of column options (`regex_extract`, `regex_replace`, `filter`), with RE2's syntax and
semantics: what BigQuery's REGEXP_* functions use, and matching in time linear in the input, so no pattern can make
a converter backtrack for ever (`^(a+)+$` on a long run of `a`s). The compiler checks patterns with `compile` and
the generated converters compile them with it.

RE2 has no backreferences and no lookaround; `$` matches only at the end of the text (Python's also before a final
newline); `\\Z` is written `\\z`.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information


class Match(Protocol):
    def group(self, index: int | str = 0, /) -> str | None: ...


class Regex(Protocol):
    """What DataHem uses of a compiled pattern (google-re2 mirrors the `re` module's names)."""

    @property
    def groups(self) -> int: ...
    @property
    def groupindex(self) -> dict[str, int]: ...
    def search(self, text: str) -> Match | None: ...
    def sub(self, replacement: str, text: str) -> str: ...


class RegexError(ValueError):
    """A pattern RE2 refuses; the message is RE2's reason (e.g. `invalid perl operator: (?=`)."""


_OPTIONS: Any = re2.Options()
_OPTIONS.log_errors = False  # the reason is raised, not also printed by RE2 to stderr


def compile(pattern: str) -> Regex:  # noqa: A001 - the name `re` and `re2` use
    """The pattern compiled by RE2 (UTF-8, Perl classes like \\d and \\w, case-sensitive)."""
    try:
        rx: Regex = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        raise RegexError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None
    return rx
