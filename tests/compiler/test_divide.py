"""`divide` (issue 17): the build accepts a divisor only when every value divides into a usable number, and an
unset `divide` is told apart from `divide: 0` (the vocabulary field has presence)."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from datahem.compiler.options.divide import SPEC, divisor_problem
from datahem.compiler.vocabulary import options_pb2
from datahem.runtime.beam import convert

DIVISORS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2.3e-308, -1e-300, 1e-30, 1e308, 0.001, 100.0]),
)


def test_presence():
    assert SPEC.resolve(options_pb2.ColumnOptions()) is None
    assert SPEC.resolve(options_pb2.ColumnOptions(divide=0)) == 0
    assert SPEC.resolve(options_pb2.ColumnOptions(divide=100)) == 100


def test_refused():
    for divisor in (0.0, -0.0, math.inf, -math.inf, math.nan, 1e-320, -5e-324):
        assert divisor_problem(divisor) is not None, divisor


@given(DIVISORS, st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([2**63 - 1, -(2**63), 1])))
def test_every_accepted_divisor_gives_a_finite_float(divisor, value):
    """A FLOAT64 column gets a finite number (or a transform Reject), never inf or NaN."""
    if divisor_problem(divisor) is not None:
        return
    try:
        q = convert.divide(value, Decimal(str(divisor)), "FLOAT64", "", "x")
    except convert.Reject as r:
        assert r.stage == convert.TRANSFORM
        return
    assert isinstance(q, float) and math.isfinite(q)


@given(DIVISORS, st.integers(-(10**15), 10**15))
def test_every_accepted_divisor_divides_exactly_or_rejects(divisor, value):
    """A NUMERIC column gets decimal text, or a transform Reject (a quotient out of NUMERIC's range)."""
    if divisor_problem(divisor) is not None:
        return
    try:
        q = convert.divide(value, Decimal(str(divisor)), "NUMERIC", "", "x")
    except convert.Reject as r:
        assert r.stage == convert.TRANSFORM
        return
    assert isinstance(q, str) and Decimal(q).is_finite()
