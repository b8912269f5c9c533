"""Benchmark: the RE2 patterns of column options (datahem.runtime.regex) against Python's `re`, in one process.

- cost: time per search of the example project's patterns on typical values, RE2 ÷ re (RE2's Python binding
  pays a fixed cost per call; the converters trade it for a bound on the time);
- doubling: `^(a+)+$` on a run of `a`s ending in `b`, time for 2n characters ÷ time for n: about 2 for RE2
  (linear); for `re` the same pattern grows exponentially (measured on 16 vs 20 characters: 2^4 = 16x and more).
Rounds are interleaved and the median taken; CPU time of this process. Prints, last:
`RESULT regex re2_cost_vs_re=<x> re2_doubling=<y> re_four_more_chars=<z>`.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable

from datahem.runtime import regex

PATTERNS = {
    "^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:@]+)": "https://www.grocer.example/cart?item=42#top",
    "^(pageview|event|transaction)$": "transaction",
    "[?#].*$": "https://www.grocer.example/products/apples?utm_source=mail",
    "^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)": "https://www.grocer.example/products/apples?x=1",
}
ROUNDS = 7
REPEAT = 2000
EVIL = "^(a+)+$"


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    compiled = [(re.compile(p), regex.compile(p), text) for p, text in PATTERNS.items()]

    def with_re() -> None:
        for _ in range(REPEAT):
            for rx, _, text in compiled:
                rx.search(text)

    def with_re2() -> None:
        for _ in range(REPEAT):
            for _, rx, text in compiled:
                rx.search(text)

    evil2, evil = regex.compile(EVIL), re.compile(EVIL)
    n = 200_000
    costs, doublings, backtracking = [], [], []
    for _ in range(ROUNDS):
        costs.append(_cpu(with_re2) / _cpu(with_re))
        doublings.append(_cpu(lambda: evil2.search("a" * 2 * n + "b")) / _cpu(lambda: evil2.search("a" * n + "b")))
        backtracking.append(_cpu(lambda: evil.search("a" * 20 + "b")) / _cpu(lambda: evil.search("a" * 16 + "b")))
    per_search = _cpu(with_re2) / (REPEAT * len(compiled)) * 1e6
    print(f"re2: {per_search:.2f} us per search of the example patterns")
    print(
        f"RESULT regex re2_cost_vs_re={statistics.median(costs):.1f} "
        f"re2_doubling={statistics.median(doublings):.2f} re_four_more_chars={statistics.median(backtracking):.1f}"
    )


if __name__ == "__main__":
    main()
