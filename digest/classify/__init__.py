"""Is an article about politics? A calibrated probability in [0, 1], computed offline.

The model is a multi-class Complement Naive Bayes over topics (politics, business, sport,
entertainment, science and technology, disasters, lifestyle), trained on the BBC News articles
(UK, 2004-05) and modern labelled news (2018-26) by `python -m digest.classify.train`. Its
evidence for politics against the most likely other topic is a sum over the text's terms; a
small logistic calibration turns that sum into a probability using the text's length, so a
one-line teaser and a long report are judged on the same scale and one generic word ("party",
"election") in a short item cannot make it political on its own.

Parameters ship beside this module in `params.json` and are read once, on first use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.classify.features import term_weights
from digest.classify.parameters import PARAMS_PATH, Parameters, load

__all__ = [
    "POLITICAL_THRESHOLD",
    "Explanation",
    "cutoff_note",
    "explain",
    "is_political",
    "political_score",
]

# The one cutoff: the `political` label and the selection default (`selection.min_score`). The
# score is calibrated, so 0.5 means "as likely political as not".
POLITICAL_THRESHOLD = 0.5


@dataclass(frozen=True)
class Evidence:
    margin: float  # best political class minus best other class, summed over terms
    tokens: int
    best_political: int
    best_other: int
    terms: dict[str, float]  # every term of the text, damped count


@dataclass(frozen=True)
class Explanation:
    score: float
    # (term, change in log-odds) for the terms that moved the score most, strongest first.
    for_political: list[tuple[str, float]]
    against: list[tuple[str, float]]
    closest_other_topic: str
    threshold: float = POLITICAL_THRESHOLD

    @property
    def margin(self) -> float:
        """How far the score is above (+) or below (-) the cutoff."""
        return self.score - self.threshold


def evidence(
    terms: dict[str, float], tokens: int, totals: Sequence[float], political: Sequence[bool]
) -> Evidence:
    """The margin of the closest political topic over the closest other one, given each topic's
    summed evidence. Shared with training, so cross-validation scores as the shipped model does."""
    pol = max((i for i, p in enumerate(political) if p), key=totals.__getitem__)
    other = max((i for i, p in enumerate(political) if not p), key=totals.__getitem__)
    return Evidence(totals[pol] - totals[other], tokens, pol, other, terms)


def _evidence(params: Parameters, title: str, body: str) -> Evidence:
    terms, tokens = term_weights(title, body)
    return evidence(terms, tokens, params.totals(terms), params.political)


# Texts shorter than this are read as if they had this many tokens: a headline's five words are
# too few to measure a rate on, and one loaded word ("senate", "party") must not decide it.
MIN_TOKENS = 20


def calibration_features(margin: float, tokens: int) -> tuple[float, float, float, float]:
    """What the calibration weighs: the margin per sqrt-token and per token, log length, 1."""
    n = max(tokens, MIN_TOKENS)
    return margin / math.sqrt(n), margin / n, math.log(n), 1.0


def _slope(params: Parameters, tokens: int) -> float:
    """d(log-odds)/d(margin) at this length: the margin is read as a rate, not a sum."""
    a, b, _, _ = params.calibration
    n = max(tokens, MIN_TOKENS)
    return a / math.sqrt(n) + b / n


def calibrated(calibration: tuple[float, float, float, float], margin: float, tokens: int) -> float:
    z = sum(c * x for c, x in zip(calibration, calibration_features(margin, tokens), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


def political_score(title: str, body: str, *, params_path: Path = PARAMS_PATH) -> float:
    """The calibrated probability that the article is political news."""
    params = load(params_path)
    evidence = _evidence(params, title, body)
    return calibrated(params.calibration, evidence.margin, evidence.tokens)


def explain(title: str, body: str, *, top: int = 8, params_path: Path = PARAMS_PATH) -> Explanation:
    """The score and the terms that moved it most, in log-odds, each way."""
    params = load(params_path)
    ev = _evidence(params, title, body)
    slope = _slope(params, ev.tokens)
    moves = sorted(
        (
            (term, slope * x * (ws[ev.best_political] - ws[ev.best_other]))
            for term, x in ev.terms.items()
            if (ws := params.row(term)) is not None
        ),
        key=lambda item: item[1],
    )
    return Explanation(
        score=calibrated(params.calibration, ev.margin, ev.tokens),
        for_political=[(t, round(m, 3)) for t, m in reversed(moves[-top:]) if m > 0],
        against=[(t, round(m, 3)) for t, m in moves[:top] if m < 0],
        closest_other_topic=params.classes[ev.best_other],
    )


def is_political(score: float) -> bool:
    return score >= POLITICAL_THRESHOLD


def cutoff_note(score: float, threshold: float = POLITICAL_THRESHOLD) -> str:
    """The score against the cutoff, for a reader: "0.32 — below the 0.50 cutoff by 0.18"."""
    if score == threshold:
        return f"{score:.2f} — at the {threshold:.2f} cutoff"
    side = "above" if score > threshold else "below"
    gap = abs(score - threshold)
    by = f"by {gap:.2f}" if gap >= 0.005 else "by less than 0.01"
    return f"{score:.2f} — {side} the {threshold:.2f} cutoff {by}"
