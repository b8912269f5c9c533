"""protobuf's JSON conformance suite through the generated converter of TestAllTypesProto3.

Inputs: tests/conformance/suite.json, extracted from protobuf's conformance/binary_json_conformance_suite.cc by
tests/conformance/extract.py. Every input must give a row or a `Reject` — never another exception, never a Reject
of stage `internal`. A valid input must be accepted with the message the suite expects (its text proto, parsed
into the registry's message class, equal to the converter's protobuf bytes parsed); an invalid one rejected. A
REQUIRED-level disagreement fails the test unless it is a documented deviation (DEVIATIONS, and the README).
"""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import pytest
from google.protobuf import text_format

from datahem.runtime.beam.convert import Reject

SUITE = json.loads(Path(__file__).with_name("suite.json").read_text())["tests"]
INTERNAL = "internal"

# Documented deviations (README.md): suite test name -> why DataHem differs.
_UNKNOWN = "unknown fields are rejected (DataHem's unknown-field policy), the suite ignores them"
DEVIATIONS = {
    "Required.Proto3.JsonInput.IgnoreUnknownJsonNumber": _UNKNOWN,
    "Required.Proto3.JsonInput.IgnoreUnknownJsonString": _UNKNOWN,
    "Required.Proto3.JsonInput.IgnoreUnknownJsonTrue": _UNKNOWN,
    "Required.Proto3.JsonInput.IgnoreUnknownJsonFalse": _UNKNOWN,
    "Required.Proto3.JsonInput.IgnoreUnknownJsonNull": _UNKNOWN,
    "Required.Proto3.JsonInput.IgnoreUnknownJsonObject": _UNKNOWN,
    "Recommended.Proto3.JsonInput.IgnoreUnknownEnumStringValueInRepeatedPart": _UNKNOWN,
    "Recommended.Proto3.JsonInput.IgnoreUnknownEnumStringValueInMapPart": _UNKNOWN,
    "Required.Proto3.JsonInput.EnumFieldUnknownValue.Validator": "an enum number the schema does not declare is "
    "rejected (proto3 enums are open): the row stores the value's name, and an undeclared number has none",
}


def _same(got, want) -> bool:
    if got.SerializeToString(deterministic=True) == want.SerializeToString(deterministic=True):
        return True
    return got == want or _nan_equal(got, want)


def _nan_equal(got, want) -> bool:
    """Equal when every NaN is compared equal to NaN (as the suite's comparator does)."""
    g, w = got.ListFields(), want.ListFields()
    if [f for f, _ in g] != [f for f, _ in w]:
        return False
    return all(
        (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b
        for (_, a), (_, b) in zip(g, w, strict=True)
    )


def run_case(conformance, test: dict) -> str:
    """The outcome: `agree`, or what went wrong (`exception`, `internal`, `rejected`, `accepted`, `mismatch`)."""
    try:
        row, data = conformance.convert(test["input"].encode("utf-8", "surrogatepass"))
    except Reject as r:
        if r.stage == INTERNAL:
            return "internal"
        return "agree" if test["kind"] in ("invalid", "valid_or_invalid") else "rejected"
    except Exception:  # noqa: BLE001 - counted: the test fails on any
        return "exception"
    json.dumps(row, allow_nan=True)  # a row is JSON-serializable
    if test["kind"] == "invalid":
        return "accepted"
    if test["expected"] is None:
        return "agree"
    want = conformance.cls()
    text_format.Parse(test["expected"], want, descriptor_pool=conformance.cls.DESCRIPTOR.file.pool)
    got = conformance.cls.FromString(data)
    return "agree" if _same(got, want) else "mismatch"


def run_suite(conformance) -> dict[str, str]:
    return {t["name"]: run_case(conformance, t) for t in SUITE}


def summary(outcomes: dict[str, str]) -> str:
    """Counts per level and suite method, one line each."""
    by = collections.defaultdict(collections.Counter)
    for t in SUITE:
        by[(t["level"], t["method"])][outcomes[t["name"]]] += 1
        by[(t["level"], "all")][outcomes[t["name"]]] += 1
    lines = []
    for (level, method), counts in sorted(by.items()):
        lines.append(f"{level:<11} {method:<40} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)


@pytest.mark.slow
def test_json_conformance_suite(conformance):
    outcomes = run_suite(conformance)
    print("\n" + summary(outcomes))
    crashed = sorted(n for n, o in outcomes.items() if o in ("exception", "internal"))
    assert crashed == [], "exceptions escaped convert()"
    levels = {t["name"]: t["level"] for t in SUITE}
    wrong = sorted(
        f"{n}: {o}" for n, o in outcomes.items() if o != "agree" and levels[n] == "REQUIRED" and n not in DEVIATIONS
    )
    assert wrong == [], "REQUIRED-level disagreements that are not documented deviations"
    stale = sorted(n for n in DEVIATIONS if outcomes.get(n) == "agree")
    assert stale == [], "listed as deviations but agree now: drop them from DEVIATIONS and the README"
