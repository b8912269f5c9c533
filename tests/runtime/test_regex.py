"""Patterns of column options run with RE2 (issue 17): linear time, BigQuery's syntax, and a pattern RE2 refuses is
a RegexError with RE2's reason (the compiler turns it into REGEX_INVALID), never another exception."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from datahem.runtime import regex
from datahem.runtime.beam import convert

ATOMS = ["a", "b", ".", "\\d", "\\w", "[a-c]", "(a)", "(?P<n>b)", "(?:ab)", "\\1", "(?=a)", "(?!b)", "(?<=a)",
         "\\Z", "\\z", "^", "$", "|", "(", ")", "[", "*", "+", "?", "{2}", "{1,3}", "\\"]  # fmt: skip


@pytest.mark.timeout(20)  # Python's re takes ~2^n steps here: n = 100,000 would never end
@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|a)*$", "^(a*)*b$", "(x+x+)+y"])
def test_nested_quantifiers_run_in_linear_time(pattern):
    rx = convert.regex(pattern)
    assert rx.search("a" * 100_000 + "!") is None
    assert rx.search("x" * 100_000) is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(a)\\1", "\\1"), ("a(?=b)", "(?="), ("(?<!a)b", "(?<!"), ("a\\Z", "\\Z"), ("[a-", "missing ]")],
)
def test_refused_with_the_reason(pattern, reason):
    with pytest.raises(regex.RegexError, match=reason.replace("\\", "\\\\").replace("(", "\\(").replace("?", "\\?")):
        regex.compile(pattern)


def test_dollar_is_the_end_of_the_text():
    """As in BigQuery (RE2): `$` does not match before a final newline, as Python's re would."""
    assert regex.compile("^a$").search("a\n") is None
    assert regex.compile("^a$").search("a") is not None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ATOMS), max_size=8).map("".join), st.text(alphabet="ab\n!", max_size=30))
def test_any_pattern_compiles_or_is_a_regex_error(pattern, text):
    try:
        rx = regex.compile(pattern)
    except regex.RegexError as exc:
        assert str(exc)
        return
    m = rx.search(text)
    assert m is None or isinstance(m.group(0), str)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from([*ATOMS, "é", "[^a]", "x*", ""]), max_size=8).map("".join),
    st.text(alphabet="abé€😀\n!x", max_size=30),
    st.sampled_from(["", "-", "<\\1>", "\\g<0>"]),  # ASCII: the layer garbles non-ASCII replacements (below)
)
def test_the_direct_matcher_answers_as_google_re2s_python_layer(pattern, text, replacement):
    """compile() calls RE2's matcher directly (the Python layer costs microseconds a search): the same matches,
    groups and replacements, on ASCII and non-ASCII text alike."""
    _answers_as_the_python_layer(pattern, text, replacement)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["[?#]", "#", "^[?#]", "[ab]+", "^a", "a", "/", "[?]", "x"]),
    st.lists(
        st.sampled_from([".*$", "$", "\\b", "\\B", "(?m)^", "(?m)$", "a*", "(a)?", "\\z", "x*", "[^a]", ""]), max_size=3
    ).map("".join),
    st.text(alphabet="ab?#/x\n !é", max_size=20),
    st.sampled_from(["", "-", "<\\0>"]),
)
def test_shortcuts_answer_as_google_re2s_python_layer(lead, rest, text, replacement):
    """A text without any of the characters every match begins with is answered without RE2, and `sub` searches no
    further after a match that reaches the end when the pattern matches no empty string there: the same answers."""
    _answers_as_the_python_layer(lead + rest, text, replacement)


def _answers_as_the_python_layer(pattern: str, text: str, replacement: str) -> None:
    try:
        rx = regex.compile(pattern)
    except regex.RegexError:
        return
    reference = rx._rx  # noqa: SLF001 - the binding's own compiled pattern
    m, expected = rx.search(text), reference.search(text)
    assert (m is None) == (expected is None)
    assert rx.found(text) == (expected is not None)
    if m is not None:
        assert [m.group(i) for i in range(rx.groups + 1)] == [expected.group(i) for i in range(rx.groups + 1)]
        for name in rx.groupindex:
            assert m.group(name) == expected.group(name)
    for i in range(rx.groups + 1):  # regex_extract's path: the group without the match object
        assert rx.extract(text, i) == (None if expected is None else expected.group(i))
    try:
        want = _layer_sub(reference, replacement, text)
    except (IndexError, re.error, ValueError) as exc:
        with pytest.raises(type(exc)):
            rx.sub(replacement, text)
        return
    assert rx.sub(replacement, text) == want


def _layer_sub(reference, replacement: str, text: str) -> str:
    """What google-re2's Python layer replaces, but an empty match it finds a second time at its own position (its
    loop searches again from there: `$` on "ab" gave "abXX", where RE2's GlobalReplace and Python's re give "abX")."""
    out, end, empty_at = [], 0, -1
    for m in reference.finditer(text):
        start, stop = m.span()
        if start == stop == empty_at:
            continue
        out += [text[end:start], m.expand(replacement)]
        end, empty_at = stop, (start if start == stop else -1)
    return "".join([*out, text[end:]])


@pytest.mark.parametrize(
    ("pattern", "text", "replacement", "want"),
    [
        ("$", "ab", "X", "abX"),
        ("$", "ab", "<\\g<0>>", "ab<>"),
        ("$", "aé", "X", "aéX"),
        ("(?m)$", "a\nb", "X", "aX\nbX"),
        ("\\z", "", "X", "X"),
        ("b*$", "ab", "X", "aXX"),
        ("x*", "abxd", "-", "-a-b--d-"),
        ("\\b", "ab cd", "|", "|ab| |cd|"),
    ],
)
def test_an_empty_match_is_replaced_once(pattern, text, replacement, want):
    """As Python's re does: an empty match is replaced once, also where it is found after the position searched from
    (at the end of the text); one right after a non-empty match is a match of its own."""
    assert regex.compile(pattern).sub(replacement, text) == want


# a small pattern language on which RE2 and Python's re agree: greedy quantifiers, no alternation, no lazy ones
_ATOM = st.sampled_from(["a", "b", ".", "[ab]", "\\b", "$", "^", "(a)", "é"])
_PATTERN = st.lists(st.tuples(_ATOM, st.sampled_from(["", "*", "+", "?"])), min_size=1, max_size=3).map(
    lambda parts: "".join(a + ("" if a in ("\\b", "$", "^") else q) for a, q in parts)
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(_PATTERN, st.text(alphabet="ab é\n", max_size=8), st.sampled_from(["-", "<\\g<0>>"]))
def test_sub_replaces_what_python_re_replaces(pattern, text, replacement):
    # RE2's \b is ASCII, and its `$` is the end of the text only (Python's also matches before a final newline)
    want = re.sub(pattern.replace("$", "\\Z"), replacement, text, flags=re.ASCII)
    assert regex.compile(pattern).sub(replacement, text) == want, pattern


WORD = st.text(alphabet="ab_1", min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(WORD, min_size=1, max_size=4),
    st.booleans(),
    st.one_of(WORD, st.text(alphabet="ab_1\né", max_size=5)),
)
def test_a_pattern_of_whole_words_answers_as_re2(words, grouped, text):
    """`^(pageview|event)$` is answered by a set of its words: the same match and groups as RE2."""
    pattern = f"^({'|'.join(words)})$" if grouped else f"^{words[0]}$"
    rx = regex.compile(pattern)
    assert rx._words is not None  # noqa: SLF001 - the path under test
    m, expected = rx.search(text), rx._rx.search(text)  # noqa: SLF001
    assert (m is None) == (expected is None)
    assert rx.found(text) == (expected is not None)
    assert rx.extract(text, rx.groups) == (None if expected is None else expected.group(rx.groups))
    if m is not None:
        assert [m.group(i) for i in range(rx.groups + 1)] == [expected.group(i) for i in range(rx.groups + 1)]


_LITERAL = st.text(st.characters(blacklist_characters="\\", blacklist_categories=("Cs",)), max_size=6)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    before=_LITERAL,
    after=_LITERAL,
    reference=st.sampled_from(["", "\\1", "\\g<1>", "\\n"]),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).map(lambda t: t + "a"),
)
def test_replacements_keep_every_character_as_python_re_does(before, after, reference, text):
    """A replacement's own characters arrive as written, non-ASCII ones too, with or without group references and
    escapes (google-re2's template expansion read them as Latin-1: "é" came out as "Ã©")."""
    assume(not (reference == "\\1" and after[:1].isdigit()))  # \10 would name group 10
    replacement = before + reference + after
    assert regex.compile("(a)").sub(replacement, text) == re.sub("(a)", replacement, text)


@pytest.mark.parametrize(
    ("pattern", "lead"),
    [
        ("[?#].*$", ("?", "#")),
        ("^/x", ("/",)),
        ("a+b", ("a",)),
        ("[aa]", ("a",)),
        ("a*b", None),  # optional
        ("a?b", None),
        ("a{0,2}b", None),
        ("[^?]x", None),  # a negated class
        ("[a-c]x", None),  # a range
        ("[\\d]", None),
        ("a|b", None),  # alternation
        ("(?i)a", None),  # flags
        ("\\.x", None),  # an escape
        (".x", None),
        ("(a)", None),
        ("[abcde]", None),  # more than four: scanning for each would cost more than it saves
    ],
)
def test_the_leading_characters_are_known_only_when_plain(pattern, lead):
    assert regex._lead(pattern) == lead  # noqa: SLF001
