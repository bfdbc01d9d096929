"""Turning an article into the sparse features the political classifier weighs.

Shared by scoring and by `train.py`, so both see exactly the same tokens.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Letters with inner apostrophes/hyphens; digits are dropped since numbers date quickly.
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

# Words too common to carry topic; dropping them keeps bigrams meaningful ("the government").
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    it its this that these those he she they we you i his her their our your my me him them us
    not no so than then there here has have had do does did will would can could should may might
    must shall also just into over about after before up down out off more most some any all such
    which who whom whose what when where why how said says say mr mrs ms""".split()
)

TITLE_PREFIX = "t:"


def words(text: str) -> list[str]:
    """Lower-cased word tokens, curly apostrophes made straight and possessive 's dropped."""
    out = []
    for match in _WORD.finditer(text):
        token = match.group().lower().replace("’", "'")
        if token.endswith("'s"):
            token = token[:-2]
        out.append(token)
    return out


def raw_features(title: str, body: str) -> Counter[str]:
    """Counts of body unigrams and bigrams (stopwords skipped) and title unigrams (prefixed)."""
    counts: Counter[str] = Counter()
    content = [w for w in words(body) if w not in STOPWORDS and len(w) > 1]
    counts.update(content)
    counts.update(f"{a} {b}" for a, b in zip(content, content[1:], strict=False))
    counts.update(
        TITLE_PREFIX + w for w in words(title) if w not in STOPWORDS and len(w) > 1
    )
    return counts


def vectorise(counts: Counter[str], vocabulary: dict[str, int] | set[str]) -> dict[str, float]:
    """Sublinear term frequency, L2-normalised over the kept features, so length doesn't matter."""
    kept = {f: 1.0 + math.log(n) for f, n in counts.items() if f in vocabulary}
    norm = math.sqrt(sum(v * v for v in kept.values()))
    if norm == 0.0:
        return {}
    return {f: v / norm for f, v in kept.items()}
