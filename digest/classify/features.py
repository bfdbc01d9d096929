"""Turning an article into the terms the political classifier weighs.

Shared by scoring and by `train.py`, so both see exactly the same terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Letters with inner apostrophes/hyphens; digits are dropped since numbers date quickly.
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words too common to carry topic; dropping them keeps bigrams meaningful ("the government").
STOPWORDS = _wordset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    it its this that these those he she they we you i his her their our your my me him them us
    not no so than then there here has have had do does did will would can could should may might
    must shall also just into over about after before up down out off more most some any all such
    which who whom whose what when where why how said says say mr mrs ms"""
)

TITLE_PREFIX = "t:"


def words(text: str) -> list[str]:
    """Lower-cased word tokens, curly apostrophes made straight and possessive 's dropped."""
    tokens = _WORD.findall(text.lower().replace("’", "'"))
    return [t[:-2] if t.endswith("'s") else t for t in tokens]


def term_weights(title: str, body: str) -> tuple[dict[str, float], int]:
    """Damped counts, ln(1 + n), of body unigrams and bigrams (stopwords skipped) and title
    unigrams (prefixed), with the number of word tokens in the text.

    The count is damped so that a word repeated twenty times is strong evidence, not twenty
    times the evidence; the token count lets the calibration turn the summed evidence into a
    rate, which is what makes a 15-word teaser and a 2,000-word report comparable.
    """
    body_words = words(body)
    title_words = words(title)
    content = [w for w in body_words if len(w) > 1 and w not in STOPWORDS]
    counts: Counter[str] = Counter(content)
    counts.update([f"{a} {b}" for a, b in zip(content, content[1:], strict=False)])
    counts.update([TITLE_PREFIX + w for w in title_words if len(w) > 1 and w not in STOPWORDS])
    return {term: math.log1p(n) for term, n in counts.items()}, len(title_words) + len(body_words)
