"""The project's own rankers: a small logistic regression over sentence features, two ways.

Weights come from `ranker_weights.json` and `lede_prior.json`, made by `python -m
digest.summarize.train DATASET_DIR`. The model gives each sentence a probability of belonging in
a good summary.

`digest` (NewsRanker, the default) serves modern news: it adds the lede prior (`lede_prior.py`),
whose strength is learned from the article's shape, to each sentence's logit, and picks greedily
down that ranking within the budget (`base.pick`): an inverted-pyramid article keeps its top, a
feature-shaped one its central sentences, and nothing caps a strong prior.

`central` (CentralRanker) is the ranker tuned on the BBC 2005 references, for feature-style
writing: among the most probable few sentences, the summary is the set (within the word budget)
that maximises

    sum of probabilities  +  SHOWN_WEIGHT x (sum of probability x words shown) / shown words

The first term is the expected number of good sentences (what precision rewards); the second the
expected share of useful words a reader sees before the summary is cut (what ROUGE at a fixed
length rewards): sentences are shown in document order, so an early long sentence can push later
ones out of view. SHOWN_WEIGHT was chosen by cross-validation (see train.py). When the model rates
the article's lede at LEDE_SLOT or more, only sets that open with it are considered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import combinations
from operator import mul
from pathlib import Path

from digest.summarize.base import Summarizer, openers, pick
from digest.summarize.features import FEATURE_NAMES, sentence_features
from digest.summarize.lede_prior import LedePrior, shipped_prior
from digest.summarize.sentences import Span, word_count

_WEIGHTS = Path(__file__).with_name("ranker_weights.json")
POOL = 6  # the most probable sentences among which the best set is searched
WORDS_PER_SENTENCE = (
    25  # words a reader is taken to see per sentence when the caller sets no budget
)
SHOWN_WEIGHT = 2.0
# News is written as an inverted pyramid, and a ranker trained on the BBC references (which
# reward central sentences) passes over the lede: it opened a third of modern summaries with it.
# When the model rates the article's lede this likely, the summary opens with it, even when it
# takes half the word budget; a feature-style opening the model rates lower is passed over, so
# the data decides per article. Chosen by cross-validation on both data sets (docs/summaries.md).
LEDE_SLOT = 0.7
_MAX_COMBINATIONS = 400  # beyond this (large K) fall back to the greedy pick


@lru_cache(maxsize=1)
def _model() -> tuple[tuple[float, ...], float]:
    data = json.loads(_WEIGHTS.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURE_NAMES:
        raise RuntimeError(f"{_WEIGHTS} was trained on other features; retrain it")
    return tuple(float(w) for w in data["weights"]), float(data["bias"])


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def select(
    lengths: Sequence[int],
    probabilities: Sequence[float],
    *,
    sentences: int,
    words: int | None,
    shown_weight: float = SHOWN_WEIGHT,
    pool_size: int = POOL,
    can_open: Sequence[bool] | None = None,
    lede_slot: float = LEDE_SLOT,
) -> list[int] | None:
    """Indices (document order) of the best set, or None when no sentence fits the budget.

    As many sentences as asked for when some such set fits the budget, else fewer. A set whose
    first sentence leans on the one before it (`can_open` False) is not considered. When the
    model rates the article's first candidate, its lede, at `lede_slot` or more, only sets that
    open with it are: a long lede is not traded for shorter sentences further down.
    """
    ranking = sorted(range(len(lengths)), key=lambda i: (-probabilities[i], i))
    pool = sorted(ranking[:pool_size])
    lede = bool(lengths) and probabilities[0] >= lede_slot and (can_open is None or can_open[0])
    if lede and 0 not in pool:
        pool = [0, *pool]
    shown_words = words if words is not None else WORDS_PER_SENTENCE * sentences
    best: tuple[float, tuple[int, ...]] | None = None
    for size in range(min(sentences, len(pool)), 0, -1):
        for combo in combinations(pool, size):
            if words is not None and sum(lengths[i] for i in combo) > words:
                continue
            if can_open is not None and not can_open[combo[0]]:
                continue
            if lede and combo[0] != 0:
                continue
            left = shown_words
            useful = 0.0
            for i in combo:  # document order: what a cut-off would hide comes last
                shown = min(lengths[i], left)
                left -= shown
                useful += probabilities[i] * shown
            value = sum(probabilities[i] for i in combo) + shown_weight * useful / shown_words
            if best is None or value > best[0]:
                best = (value, combo)
        if best is not None:
            break
    return None if best is None else list(best[1])


def ranker_logits(rows: Sequence[Sequence[float]]) -> list[float]:
    weights, bias = _model()
    return [bias + sum(map(mul, weights, row)) for row in rows]


def with_lede_prior(
    sentences: Sequence[str],
    rows: Sequence[Sequence[float]],
    logits: Sequence[float],
    prior: LedePrior,
) -> list[float]:
    """The ranker's logits plus the lede prior for this article's shape."""
    bonuses = prior.bonuses(sentences, rows, logits)
    return [logit + bonus for logit, bonus in zip(logits, bonuses, strict=True)]


class NewsRanker(Summarizer):
    """The default: the ranker plus the learned lede prior, picked greedily within the budget."""

    name = "digest"

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        rows = sentence_features(spans, title)
        return with_lede_prior(
            [span.text for span in spans], rows, ranker_logits(rows), shipped_prior()
        )


class CentralRanker(Summarizer):
    """The BBC-tuned ranker, for feature-style writing: central sentences, lede slot."""

    name = "central"

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        return ranker_logits(sentence_features(spans, title))

    def choose(
        self, spans: Sequence[Span], scores: Sequence[float], *, sentences: int, words: int | None
    ) -> list[Span]:
        opens = openers(spans)
        size = min(POOL, len(spans))
        if math.comb(size, min(sentences, size)) > _MAX_COMBINATIONS:
            return pick(spans, scores, sentences=sentences, words=words, can_open=opens)
        chosen = select(
            [word_count(span.text) for span in spans],
            [probability(score) for score in scores],
            sentences=sentences,
            words=words,
            can_open=opens,
        )
        if chosen is None:  # no readable set of the likeliest fits: the greedy pick decides
            return pick(spans, scores, sentences=sentences, words=words, can_open=opens)
        return [spans[i] for i in chosen]
