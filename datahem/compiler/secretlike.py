"""Values that look like secrets, where only a secret's name belongs (`pseudonymize.key_secret`, an HTTP source's
`auth.secret_env`, a Kinesis source's `credentials_secret`...). These names are copied into the routing tables,
platform.json, the stacks and the descriptor set, all committed: a token pasted there instead of its name would be
published with them. Two tests: the prefixes of well-known token formats, and long random-looking text (hex, or
base64 whose characters change class far more often than words do)."""

from __future__ import annotations

import math
import re
from collections import Counter

# well-known token formats, by their fixed prefixes
TOKEN_PREFIXES = re.compile(
    r"^(?:gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|AGPA|AIDA|AROA|xox[baprs]-|xapp-|sk_live_|rk_live_|sk_test_|"
    r"AIza|ya29\.|npm_|SG\.|-----BEGIN)"
)
MIN_RANDOM = 32  # shorter random text is left alone: too many names would look random
_HEX = re.compile(r"^[0-9A-Fa-f]+\Z")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}\Z")


def entropy(text: str) -> float:
    """Shannon entropy of the characters, in bits per character."""
    n = len(text)
    return -sum(k / n * math.log2(k / n) for k in Counter(text).values())


def _class(ch: str) -> int:
    return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3


def class_changes(text: str) -> float:
    """The share of neighbouring characters of different classes (lower, upper, digit, other): about 0.6 in random
    base64, 0.2-0.4 in names (`MyProductionKey2024`, `DATAHEM_API_KEY`)."""
    return sum(_class(a) != _class(b) for a, b in zip(text, text[1:], strict=False)) / max(len(text) - 1, 1)


def looks_like_secret(value: str) -> str | None:
    """What makes `value` look like a secret rather than a name, or None."""
    m = TOKEN_PREFIXES.match(value)
    if m:
        return f"it starts like a token (`{m.group(0)}`)"
    if len(value) >= MIN_RANDOM:
        if _HEX.match(value) and re.search(r"[0-9]", value) and re.search(r"[A-Fa-f]", value) and entropy(value) >= 3:
            return f"it is {len(value)} random-looking hex characters"
        if _BASE64.match(value) and entropy(value) >= 4.2 and class_changes(value) >= 0.45:
            return f"it is {len(value)} random-looking base64 characters"
    return None
