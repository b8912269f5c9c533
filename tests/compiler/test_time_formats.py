"""`local_to_utc` formats (issue 17): a format the build accepts converts at run time. The compiler's check
(`format_problem`) and the converters share one reader, and every accepted format reads back what it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datahem.runtime.beam import convert
from datahem.runtime.contracts.localtime import DIRECTIVES, NOT_PORTABLE, SAMPLE, directives, format_problem

LETTERS = sorted(DIRECTIVES) + sorted(NOT_PORTABLE) + ["q", "-", "E", "k", "s"]
PIECES = st.one_of(
    st.sampled_from([f"%{letter}" for letter in LETTERS]),
    st.sampled_from(["-", ":", " ", "/", "T", ".", "W", "%"]),
)
DATES = st.sampled_from(["%Y-%m-%d", "%d/%m/%y", "%b %d %Y", "%Y%j", "%G-W%V-%u", "%Y %U %a", ""])
FORMATS = st.builds(lambda before, date, after: "".join(before) + date + "".join(after),
                    st.lists(PIECES, max_size=4), DATES, st.lists(PIECES, max_size=6))  # fmt: skip
ZONE = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize(
    ("fmt", "why"),
    [
        ("%Y-%Q", "`%Q`"),
        ("%Y-%m-%d %", "lone `%`"),
        ("%Y-%m-%d %H:%M %", "lone `%`"),
        ("%H:%M", "no full date"),
        ("%Y-%m", "no full date"),
        ("%Y-%m-%d %-H", "`%-`"),
        ("%Y-%m-%d %I:%M", "reads back"),
        ("%Y-%m-%d %M", "reads back"),
        ("%Y %U", "reads back"),
        ("%Y-%m-%d %H:%M:%S.%f", "`%f`"),
        ("%Y-%m-%d %H:%M %Z", "`%Z`"),
    ],
)
def test_refused(fmt, why):
    problem = format_problem(fmt)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "fmt",
    ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%d/%m/%Y %I:%M %p", "%y%m%d%H%M%S", "%Y-%m-%dT%H:%M:%S%z", "%G-W%V-%u %H",
     "%Y-%j", "%a %b %d %H:%M:%S %Y", "%Y %U %w", "100%% %Y-%m-%d"],
)  # fmt: skip
def test_accepted(fmt):
    assert format_problem(fmt) is None


def _expected(fmt: str, moment: datetime) -> str:
    """What the converter must store for `moment` written in `fmt`: the moment down to the finest part named."""
    named = {DIRECTIVES[d] for d in directives(fmt) or ()}
    if "second" not in named:
        moment = moment.replace(second=0)
        if "minute" not in named:
            moment = moment.replace(minute=0)
            if "hour" not in named:
                moment = moment.replace(hour=0)
    local = moment if moment.tzinfo else moment.replace(tzinfo=ZONE)
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


@settings(max_examples=400, deadline=None)
@given(
    FORMATS,
    st.datetimes(min_value=datetime(1969, 1, 1), max_value=datetime(2068, 12, 31)),
)
def test_every_accepted_format_converts_what_it_writes(fmt, moment):
    """Any format the build accepts converts its own sample, and other date-times in its two-digit-year window."""
    if format_problem(fmt) is not None:
        return
    for when in (SAMPLE, moment.replace(microsecond=0, tzinfo=SAMPLE.tzinfo)):
        if "z" not in (directives(fmt) or ()):
            when = when.replace(tzinfo=None)
        assert convert.local_to_utc(when.strftime(fmt), ZONE, fmt, "", "t") == _expected(fmt, when)


@given(st.sampled_from(["%Y-%m-%d %H:%M", "%d/%m/%Y %I:%M %p", "%Y-%m-%dT%H:%M:%S%z"]))
def test_accepted_formats_exist_in_the_class(fmt):
    """The property above is not vacuous: hand-picked members of the class pass it too."""
    assert format_problem(fmt) is None
    when = SAMPLE - timedelta(days=3)
    assert convert.local_to_utc(when.strftime(fmt), ZONE, fmt, "", "t").endswith("Z")
