"""The lede prior: how much an article's opening should count, learned from the article's shape.

Modern news is written as an inverted pyramid: what happened comes first, and human summaries
follow it. A feature opens with a scene and gives the news a few paragraphs in. The prior adds to
each sentence's ranker logit

    bonus(i) = sum over k of (theta_k . shape(article)) x basis_k(i),

bases that decay with the sentence's index i (BASES), their weights a linear function of the
article's shape (SHAPE_NAMES: how central and how likely the ranker finds the lede, whether it
opens like a feature, quotation density, the lede's length). theta is fitted by `train.py` (logistic
regression with the ranker's logits as offsets) on the BBC articles and on the labelled articles
in `written_news.txt`; it ships in `lede_prior.json`. Nothing here is set by hand.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from digest.summarize.features import FEATURE_NAMES
from digest.summarize.readability import has_quotation
from digest.summarize.sentences import word_count

PRIOR_PATH = Path(__file__).with_name("lede_prior.json")
# How the prior falls off with the sentence's index: decays over 1, 3, 8 and 24 sentences, from
# the lede alone to the whole story, so that the fit, not a hand-set scale, decides the prior's
# shape along the article. A constant basis comes first:
# it changes no ranking, but lets the fit take up how many of an article's sentences a summary
# keeps (four in ten of BBC's, a few of a modern story's), so the decaying ones carry position.
BASES = (1.0, 3.0, 8.0, 24.0)
SHAPE_NAMES = (
    "bias",
    "lede_rank_share",
    "lede_probability",
    "feature_opening",
    "quote_density",
    "lede_words",
)
_RANK_SHARES = [i for i, name in enumerate(FEATURE_NAMES) if name.endswith("_rank_share")]
# A feature's opening: a question, the reporter or the reader in the first sentence, a scene.
_PERSONAL = re.compile(r"\b(?:I|we|you|my|our|your|me)\b|\?")
_SHORT_LEDE = 12  # words: a news lede carries who, what, where and when in more


def basis(index: int) -> list[float]:
    return [1.0, *(math.exp(-index / scale) for scale in BASES)]


def article_shape(
    sentences: Sequence[str], rows: Sequence[Sequence[float]], logits: Sequence[float]
) -> list[float]:
    """The article's shape, in the order of SHAPE_NAMES (before standardising), from its
    candidate sentences, their ranker features and logits."""
    lede = sentences[0]
    lede_words = word_count(lede)
    quoted = sum(has_quotation(sentence) for sentence in sentences)
    return [
        1.0,
        sum(rows[0][k] for k in _RANK_SHARES) / len(_RANK_SHARES),
        1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logits[0])))),
        1.0 if lede_words < _SHORT_LEDE or _PERSONAL.search(lede) else 0.0,
        quoted / len(sentences),
        min(lede_words, 60) / 30.0,
    ]


def design_rows(shape: Sequence[float], count: int) -> list[list[float]]:
    """One row per sentence: every (shape value x basis) product, the prior's linear inputs."""
    return [[g * b for g in shape for b in basis(i)] for i in range(count)]


class LedePrior:
    """theta over (standardised shape x basis), with the standardisation it was fitted with."""

    def __init__(
        self, coefficients: Sequence[float], means: Sequence[float], scales: Sequence[float]
    ):
        if len(coefficients) != len(SHAPE_NAMES) * (len(BASES) + 1):
            raise ValueError("lede prior coefficients do not match SHAPE_NAMES x BASES")
        self.coefficients = list(coefficients)
        self.means = list(means)
        self.scales = list(scales)

    def standardise(self, shape: Sequence[float]) -> list[float]:
        return [(g - m) / s for g, m, s in zip(shape, self.means, self.scales, strict=True)]

    def strengths(self, shape: Sequence[float]) -> list[float]:
        """The weight of each basis for an article of this (raw) shape."""
        g = self.standardise(shape)
        width = len(BASES) + 1
        return [
            sum(g[j] * self.coefficients[j * width + k] for j in range(len(g)))
            for k in range(width)
        ]

    def bonuses(
        self, sentences: Sequence[str], rows: Sequence[Sequence[float]], logits: Sequence[float]
    ) -> list[float]:
        """What the prior adds to each sentence's logit."""
        if not sentences:
            return []
        strengths = self.strengths(article_shape(sentences, rows, logits))
        return [
            sum(a * b for a, b in zip(strengths, basis(i), strict=True))
            for i in range(len(sentences))
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "shape": list(SHAPE_NAMES),
            "bases": list(BASES),
            "coefficients": [round(c, 6) for c in self.coefficients],
            "means": [round(m, 6) for m in self.means],
            "scales": [round(s, 6) for s in self.scales],
        }


@lru_cache(maxsize=1)
def shipped_prior() -> LedePrior:
    data = json.loads(PRIOR_PATH.read_text(encoding="utf-8"))
    if tuple(data["shape"]) != SHAPE_NAMES or tuple(data["bases"]) != BASES:
        raise RuntimeError(f"{PRIOR_PATH} was fitted on another shape; rerun train.py")
    return LedePrior(data["coefficients"], data["means"], data["scales"])
