"""Secret-shaped values where only a secret's name belongs (issue 17): token prefixes and long random text are
refused, names are not, and nothing secret-shaped reaches the example project's generated/ under a secret key."""

from __future__ import annotations

import json
import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datahem.compiler.secretlike import looks_like_secret
from tests.conftest import EXAMPLE

WORDS = ["datahem", "pseudonymization", "key", "api", "click", "orders", "prod", "production", "aws", "kinesis",
         "reader", "credentials", "hmac", "secret", "shop", "web", "collector", "signing", "grocer", "v2", "2024"]  # fmt: skip
PREFIXES = ["ghp_", "gho_", "github_pat_", "AKIA", "ASIA", "xoxb-", "xoxp-", "sk_live_", "AIza", "-----BEGIN", "glpat-"]


def _styled(words: list[str], style: str) -> str:
    if style == "camel":
        return "".join(w.capitalize() for w in words)
    if style == "upper":
        return "_".join(words).upper()
    return style.join(words)


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=7), st.sampled_from(["-", "_", "camel", "upper"]))
def test_names_are_not_secrets(words, style):
    assert looks_like_secret(_styled(words, style)) is None


@given(st.sampled_from(PREFIXES), st.text(alphabet=string.ascii_letters + string.digits, max_size=40))
def test_token_prefixes_are_secrets(prefix, rest):
    assert looks_like_secret(prefix + rest) is not None


@pytest.mark.parametrize(("length", "share"), [(32, 0.95), (43, 0.99), (64, 0.999)])
def test_random_text_is_a_secret(length, share):
    """Random base64 (url-safe or not) and hex of the lengths keys have: flagged in (almost) every draw."""
    rng = random.Random(17)
    alphabets = [
        string.ascii_letters + string.digits + "-_",
        string.ascii_letters + string.digits + "+/",
        "0123456789abcdef",
    ]
    draws = ["".join(rng.choice(a) for _ in range(length)) for a in alphabets for _ in range(1000)]
    assert sum(looks_like_secret(d) is not None for d in draws) >= share * len(draws)


def _secret_values(node: object, under_secret: bool = False):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secret_values(v, under_secret or "secret" in str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _secret_values(v, under_secret)
    elif isinstance(node, str) and under_secret:
        yield node


def test_generated_names_its_secrets_only():
    found = []
    for path in [
        *(EXAMPLE / "generated" / "routing").glob("*.json"),
        EXAMPLE / "generated" / "infra" / "platform.json",
    ]:
        found += list(_secret_values(json.loads(path.read_text())))
    assert found  # the example project names secrets (the HTTP collector's, the pseudonymization key)
    assert [v for v in found if looks_like_secret(v)] == []
