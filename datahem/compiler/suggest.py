"""Did-you-mean: the known name closest to an unknown one, for every diagnostic about an unknown name (keys of
sources.yaml, categories, columns, field paths, option names, messages, attributes).

A name written with another case or with `-` for `_` is the same name; otherwise the closest known name by edit
distance (insertions, deletions, substitutions and swaps of two neighbours each count one) within a third of its
length (at least one edit), ties broken by difflib's similarity; failing that, difflib's closest match above 0.7 (a
name that shares a long part, e.g. `dead_letter` for `dead_letter_dataset`). No hint beats a far-fetched one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(" ", "_")


def distance(a: str, b: str) -> int:
    """Edit distance with swaps of neighbours (optimal string alignment)."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate `name` most likely misspells, or None when none is close (or `name` is itself a candidate)."""
    known = sorted(set(candidates))
    if not known or name in known:
        return None
    wanted = _norm(name)
    same = [c for c in known if _norm(c) == wanted]
    if same:
        return same[0]
    best: tuple[int, float, str] | None = None
    for c in known:
        limit = max(1, len(c) // 3)
        if abs(len(c) - len(wanted)) > limit:  # the distance is at least the difference in length
            continue
        d = distance(wanted, _norm(c))
        if d > limit:
            continue
        key = (d, -difflib.SequenceMatcher(None, wanted, _norm(c)).ratio(), c)
        if best is None or key < best:
            best = key
    if best is not None:
        return best[2]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str], *, sep: str = "; ", end: str = "") -> str:
    """`; did you mean `x`?` (between `sep` and `end`), or "" when nothing is close."""
    hit = closest(name, candidates)
    return f"{sep}did you mean `{hit}`?{end}" if hit else ""
