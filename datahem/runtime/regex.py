"""Regular expressions of column options (`regex_extract`, `regex_replace`, `filter`), with RE2's syntax and
semantics: what BigQuery's REGEXP_* functions use, and matching in time linear in the input, so no pattern can make
a converter backtrack for ever (`^(a+)+$` on a long run of `a`s). The compiler checks patterns with `compile` and
the generated converters compile them with it.

RE2 has no backreferences and no lookaround; `$` matches only at the end of the text (Python's also before a final
newline); `\\Z` is written `\\z`.
"""

from __future__ import annotations

import re
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
    def found(self, text: str) -> bool: ...
    def extract(self, text: str, group: int) -> str | None: ...
    def sub(self, replacement: str, text: str) -> str: ...


class RegexError(ValueError):
    """A pattern RE2 refuses; the message is RE2's reason (e.g. `invalid perl operator: (?=`)."""


_OPTIONS: Any = re2.Options()
_OPTIONS.log_errors = False  # the reason is raised, not also printed by RE2 to stderr


def compile(pattern: str) -> Regex:  # noqa: A001 - the name `re` and `re2` use
    """The pattern compiled by RE2 (UTF-8, Perl classes like \\d and \\w, case-sensitive)."""
    try:
        rx = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        raise RegexError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None
    return _Pattern(rx)


_UNANCHORED = re2._Anchor.UNANCHORED  # noqa: SLF001 - the binding's own constant
_NO_SPAN = (-1, -1)
# `^(pageview|event|item)$`, `^event$`: a whole text equal to one of some words, the usual `filter` (RE2's `^` and
# `$` are the start and the end of the text); a set answers it without a call into RE2
_WORDS = re.compile(r"\^(?:\(([A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*)\)|([A-Za-z0-9_]+))\$\Z")
# printable ASCII that is a literal inside a class: not `[`, `]`, `^`, `-` or `\`
_LEAD_CLASS = frozenset("!\"#$%&'()*+,./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_`abcdefghijklmnopqrstuvwxyz{|}~")
# printable ASCII that is a literal outside a class: not a metacharacter (. ^ $ | ? * + ( ) [ ] { } \)
_LEAD_LITERAL = frozenset("!\"#%&',-/0123456789:;<=>@ABCDEFGHIJKLMNOPQRSTUVWXYZ_`abcdefghijklmnopqrstuvwxyz~")


def _lead(pattern: str) -> tuple[str, ...] | None:
    """Characters one of which every match of the pattern holds, when the pattern says so plainly; None when not
    known. Only a pattern without alternation (`|`) and without flags or special groups (`(?`), which begins, after
    an optional `^`, with a literal character or a class of at most four literal characters that no quantifier makes
    optional (`?`, `*`, `{0,`): every match starts with one of them, so a text without any cannot match."""
    if "|" in pattern or "(?" in pattern:
        return None
    i = 1 if pattern.startswith("^") else 0
    if pattern[i : i + 1] == "[":
        close = pattern.find("]", i + 1)
        chars = pattern[i + 1 : close] if close > i + 1 else ""
        if not 1 <= len(chars) <= 4 or not all(c in _LEAD_CLASS for c in chars):
            return None
        after = close + 1
    elif pattern[i : i + 1] and pattern[i] in _LEAD_LITERAL:
        chars = pattern[i]
        after = i + 1
    else:
        return None
    if pattern[after : after + 1] in ("?", "*", "{"):
        return None
    return tuple(dict.fromkeys(chars))


class _Pattern:
    """A compiled pattern that calls RE2's matcher directly. google-re2's Python layer (`re2._Regexp`) pays several
    microseconds per search: a generator, and the translation of every byte offset to a character offset. Here the
    text is encoded once and the groups are cut from the UTF-8 bytes (RE2 matches whole UTF-8 characters, so a
    group's byte span is a whole string), or from the text itself when it is ASCII (bytes and characters coincide).
    What the Python layer does is the reference: `sub` follows its loop (but for an empty match, which that loop
    finds twice when it lies ahead of where it searched) and leaves templates (escapes, group references) to its
    expansion, with their non-ASCII characters escaped, which it would otherwise garble."""

    __slots__ = ("_rx", "_match", "_words", "_lead", "_empty_at_end", "groups", "groupindex", "pattern")

    def __init__(self, rx: Any):
        self._rx = rx
        self._match = rx._regexp.Match  # noqa: SLF001
        self.groups: int = rx.groups
        self.groupindex: dict[str, int] = rx.groupindex
        self.pattern: str = rx.pattern
        words = _WORDS.match(rx.pattern)
        self._words = frozenset((words.group(1) or words.group(2)).split("|")) if words else None
        # an ASCII text holding none of these characters has no match (None: not known), and no call into RE2 asks
        # (only ASCII: other text is encoded first, which refuses a lone surrogate, as before)
        self._lead = _lead(rx.pattern)
        # whether the pattern matches the empty string at the end of a text: what a search from there finds depends
        # only on the character before it (a word character, a newline, another; RE2's \b is ASCII), so one text
        # of each answers for all. Without such a match, `sub` needs no search after a match that reaches the end
        self._empty_at_end = any(self._match(_UNANCHORED, t, 1, 1)[0] != _NO_SPAN for t in (b"a", b"\n", b" "))

    def search(self, text: str) -> _Match | None:
        if self._words is not None:
            if text not in self._words:
                return None
            return _Match(text, [(0, len(text))] * (self.groups + 1), self.groupindex)
        if self._lead is not None and text.isascii() and not _holds(text, self._lead):
            return None
        data = text.encode()
        spans = self._match(_UNANCHORED, data, 0, len(data))
        if spans[0] == _NO_SPAN:
            return None
        return _Match(text if len(data) == len(text) else data, spans, self.groupindex)

    def found(self, text: str) -> bool:
        """Whether the pattern matches somewhere in the text: `search(text) is not None` without the match."""
        if self._words is not None:
            return text in self._words
        if self._lead is not None and text.isascii() and not _holds(text, self._lead):
            return False
        data = text.encode()
        return bool(self._match(_UNANCHORED, data, 0, len(data))[0] != _NO_SPAN)

    def extract(self, text: str, group: int) -> str | None:
        """What `group` captures at the first match, None without a match (or when the group took no part):
        `search(text).group(group)` without the match object, for `regex_extract`."""
        if self._words is not None or not 0 <= group <= self.groups:
            m = self.search(text)
            return None if m is None else m.group(group)
        if self._lead is not None and text.isascii() and not _holds(text, self._lead):
            return None
        data = text.encode()
        start, stop = self._match(_UNANCHORED, data, 0, len(data))[group]  # (-1, -1) for every group without a match
        if start == -1:
            return None
        return text[start:stop] if len(data) == len(text) else data[start:stop].decode()

    def sub(self, replacement: str, text: str) -> str:
        if "\\" in replacement:  # a template: escapes and group references, expanded by the Python layer
            if not replacement.isascii():  # which reads its literal text as Latin-1 ("é" became "Ã©"): escape it
                replacement = "".join(c if c.isascii() else _escaped(c) for c in replacement)
            return self._sub_template(replacement, text)
        if self._lead is not None and text.isascii() and not _holds(text, self._lead):
            return text
        data = text.encode()
        end_of_text = len(data)
        pieces = []
        end = pos = 0
        while True:
            start, stop = self._match(_UNANCHORED, data, pos, end_of_text)[0]
            if start == -1:
                break
            pieces.append(data[end:start])
            end = stop
            if start == stop:  # an empty match: the next search starts a character after it (from its own position,
                # as the Python layer searches, it is found again and replaced twice: `$` on "ab" gave "abXX")
                if stop == end_of_text:
                    break
                pos = stop + _char_length(data[stop])
            elif stop == end_of_text and not self._empty_at_end:
                break
            else:
                pos = stop
        if not pieces:
            return text
        pieces.append(data[end:])
        return replacement.encode().join(pieces).decode()

    def _sub_template(self, template: str, text: str) -> str:
        """`sub` with a template, expanded by the Python layer for each of its matches but an empty match found
        again at its own position (the Python layer's loop finds `$` twice at the end of "ab")."""
        pieces: list[str] = []
        end = 0
        empty_at = -1  # where the last match was, when it was empty
        for m in self._rx.finditer(text):
            start, stop = m.span()
            if start == stop == empty_at:
                continue
            pieces += (text[end:start], m.expand(template))
            end = stop
            empty_at = start if start == stop else -1
        if not pieces:
            return text
        pieces.append(text[end:])
        return "".join(pieces)


def _holds(text: str, chars: tuple[str, ...]) -> bool:
    """Whether the text holds one of the characters."""
    for c in chars:
        if c in text:
            return True
    return False


def _escaped(char: str) -> str:
    """A character as the `\\u`/`\\U` escape the Python layer's template expansion (unicode_escape) reads back."""
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _char_length(lead: int) -> int:
    """Bytes of the UTF-8 character that starts with byte `lead`."""
    return 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


class _Match:
    __slots__ = ("_text", "_spans", "_names")

    def __init__(self, text: str | bytes, spans: list[tuple[int, int]], names: dict[str, int]):
        self._text = text  # the text when ASCII, else its UTF-8 bytes
        self._spans = spans
        self._names = names

    def group(self, index: int | str = 0, /) -> str | None:
        if index.__class__ is not int:
            try:
                index = self._names[index]  # type: ignore[index]
            except KeyError:
                raise IndexError("bad group name") from None
        if not 0 <= index < len(self._spans):
            raise IndexError("bad group index")
        return _part(self._text, self._spans[index])


def _part(text: str | bytes, span: tuple[int, int]) -> str | None:
    """What a group captured: `span` of the text (or of its UTF-8 bytes, when it is not ASCII), None when the group
    took no part in the match."""
    start, stop = span
    if start == -1:
        return None
    part = text[start:stop]
    return part if part.__class__ is str else part.decode()  # type: ignore[union-attr]
