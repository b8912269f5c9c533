"""How `local_to_utc` reads a local date-time written in a strptime format: one reader for the converters
(`datahem.runtime.beam.convert.local_to_utc`) and for the compiler, which refuses a format unless this reader
recovers a sample date-time written in it (`format_problem`), so what the build accepts converts at run time.

A format may use only the directives that Python's strptime and BigQuery's PARSE_DATETIME / PARSE_TIMESTAMP both
read with the same meaning, so the same text can be parsed in SQL too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# directive -> what it reads; the directives both strptime and BigQuery's format elements read the same way
DIRECTIVES: dict[str, str] = {
    "Y": "year",
    "y": "year",
    "G": "year",
    "m": "month",
    "b": "month",
    "B": "month",
    "d": "day",
    "j": "day",
    "U": "day",
    "W": "day",
    "V": "day",
    "a": "weekday",
    "A": "weekday",
    "w": "weekday",
    "u": "weekday",
    "H": "hour",
    "I": "hour",
    "p": "hour",
    "M": "minute",
    "S": "second",
    "z": "offset",
    "%": "literal",
}
# read by one of the two only (or with another meaning): the fix to suggest
NOT_PORTABLE: dict[str, str] = {
    "f": "BigQuery has no %f (it writes fractions as %E6S, which strptime lacks): leave `format` empty to read "
    "ISO 8601, fractions included",
    "Q": "strptime has no quarter (%Q)",
    "Z": "a zone name: set `time_zone` instead",
    "c": "%c differs between strptime and BigQuery: write the parts, e.g. %a %b %d %H:%M:%S %Y",
    "x": "%x is locale-dependent in strptime: write %m/%d/%y",
    "X": "%X is locale-dependent in strptime: write %H:%M:%S",
    "e": "strptime has no %e: use %d",
    "F": "strptime has no %F: write %Y-%m-%d",
    "T": "strptime has no %T: write %H:%M:%S",
    "D": "strptime has no %D: write %m/%d/%y",
    "R": "strptime has no %R: write %H:%M",
    "E": "strptime has no %E modifiers",
    "O": "strptime has no %O modifiers",
}
# A sample read back by `format_problem`: every part distinct (day > 12, hour > 12, a weekday), a UTC offset.
SAMPLE = datetime(2024, 11, 28, 17, 45, 36, tzinfo=timezone(timedelta(hours=1, minutes=30)))

_FAST = {"Y": r"(?P<Y>[0-9]{4})", "m": r"(?P<m>[0-9]{2})", "d": r"(?P<d>[0-9]{2})", "H": r"(?P<H>[0-9]{2})",
         "M": r"(?P<M>[0-9]{2})", "S": r"(?P<S>[0-9]{2})", "f": r"(?P<f>[0-9]{1,6})"}  # fmt: skip
_FORMATS: dict[str, re.Pattern[str] | None] = {}


def directives(fmt: str) -> list[str] | None:
    """The directive letters of a format in order (`%%` as `%`); None when it ends in a lone `%`."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            if i + 1 == len(fmt):
                return None
            out.append(fmt[i + 1])
            i += 2
        else:
            i += 1
    return out


def _fast_regex(fmt: str) -> re.Pattern[str] | None:
    """A regex for formats made only of %Y %m %d %H %M %S %f and literals (strptime itself is slow pure Python);
    None for anything else, which then goes through strptime."""
    if fmt not in _FORMATS:
        parts, i, ok = [], 0, True
        while i < len(fmt):
            if fmt[i] == "%" and i + 1 < len(fmt):
                directive = _FAST.get(fmt[i + 1])
                ok = ok and directive is not None and directive not in parts
                parts.append(directive or "")
                i += 2
            else:
                parts.append(re.escape(fmt[i]))
                i += 1
        _FORMATS[fmt] = (
            re.compile("".join(parts) + r"\Z")
            if ok and {"(?P<Y>", "(?P<m>", "(?P<d>"} <= {p[:6] for p in parts}
            else None
        )
    return _FORMATS[fmt]


def read_local(value: str, fmt: str) -> datetime:
    """The date-time `value` written in strptime `fmt` (or ISO 8601 when `fmt` is empty); naive unless the format
    has an offset. Raises ValueError when the text does not match."""
    if not fmt:
        return datetime.fromisoformat(value)
    rx = _fast_regex(fmt)
    if rx is None:
        return datetime.strptime(value, fmt)
    m = rx.match(value)
    if m is None:
        raise ValueError(f"{value!r} does not match {fmt!r}")
    g = m.groupdict()
    return datetime(int(g["Y"]), int(g["m"]), int(g["d"]), int(g.get("H") or 0), int(g.get("M") or 0),
                    int(g.get("S") or 0), int((g.get("f") or "0").ljust(6, "0")))  # fmt: skip


def format_problem(fmt: str) -> str | None:
    """Why `local_to_utc` cannot use a strptime format, or None: every directive must be one both strptime and
    BigQuery read, the format must name a full date, and reading `SAMPLE` written in the format must give back the
    sample down to the finest part the format names (hour, minute or second)."""
    found = directives(fmt)
    if found is None:
        return "it ends with a lone `%` (write `%%` for a percent sign)"
    for letter in found:
        if letter not in DIRECTIVES:
            why = NOT_PORTABLE.get(letter, "neither strptime nor BigQuery knows it")
            return f"directive `%{letter}` cannot be used: {why}"
        if letter != "%" and found.count(letter) > 1:
            return f"directive `%{letter}` appears twice (strptime reads each part once)"
    parts = {DIRECTIVES[letter] for letter in found}
    # a calendar date, an ordinal date (%Y %j) or a week date (%G %V %u...: the round trip decides)
    if "year" not in parts or not parts & {"day", "weekday"}:
        return "it has no full date (e.g. %Y-%m-%d): without one every value is read as 1900-01-01"
    sample = SAMPLE if "offset" in parts else SAMPLE.replace(tzinfo=None)
    text = sample.strftime(fmt)
    try:
        got = read_local(text, fmt)
    except (ValueError, re.error) as exc:
        return f"strptime cannot read the sample `{text}` it writes: {exc}"
    want = sample
    if "second" not in parts:
        want = want.replace(second=0)
        if "minute" not in parts:
            want = want.replace(minute=0)
            if "hour" not in parts:
                want = want.replace(hour=0)
    if got != want:
        return (
            f"the sample {sample.isoformat()} written as `{text}` reads back as {got.isoformat()}: name every part "
            "down to the finest one (a 24-hour %H, or %I with %p; the hour with the minutes)"
        )
    return None
