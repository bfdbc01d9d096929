"""The project's own ranker: a small logistic regression over sentence features.

Weights come from `ranker_weights.json`, made by `python -m digest.summarize.train DATASET_DIR`.
The model gives each sentence a probability of belonging in a good summary; the summary is then the
set of sentences, among the most probable few, that maximises the expected number of useful words
a reader gets within the budget (sum of probability x words shown), rather than the top K alone:
a slightly less certain but fuller sentence is often worth more than a short certain one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import combinations
from pathlib import Path

from digest.summarize.base import Summarizer, pick
from digest.summarize.features import FEATURE_NAMES, sentence_features
from digest.summarize.sentences import Span, word_count

_WEIGHTS = Path(__file__).with_name("ranker_weights.json")
POOL = 5  # the most probable sentences among which the best set is searched
WORDS_PER_SENTENCE = 25  # nominal budget per sentence when the caller sets none
_MAX_COMBINATIONS = 400  # beyond this (large K) fall back to the greedy pick


@lru_cache(maxsize=1)
def _model() -> tuple[tuple[float, ...], float]:
    data = json.loads(_WEIGHTS.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURE_NAMES:
        raise RuntimeError(f"{_WEIGHTS} was trained on other features; retrain it")
    return tuple(float(w) for w in data["weights"]), float(data["bias"])


def _probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


class DigestRanker(Summarizer):
    name = "digest"

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        weights, bias = _model()
        return [
            bias + sum(w * v for w, v in zip(weights, row, strict=True))
            for row in sentence_features(spans, title)
        ]

    def choose(
        self, spans: Sequence[Span], scores: Sequence[float], *, sentences: int, words: int | None
    ) -> list[Span]:
        pool = sorted(sorted(range(len(spans)), key=lambda i: (-scores[i], i))[:POOL])
        if math.comb(len(pool), min(sentences, len(pool))) > _MAX_COMBINATIONS:
            return pick(spans, scores, sentences=sentences, words=words)
        shown_words = words if words is not None else WORDS_PER_SENTENCE * sentences
        probability = {i: _probability(scores[i]) for i in pool}
        length = {i: word_count(spans[i].text) for i in pool}
        best: tuple[float, int, tuple[int, ...]] | None = None
        for size in range(min(sentences, len(pool)), 0, -1):
            for combo in combinations(pool, size):
                if words is not None and sum(length[i] for i in combo) > words:
                    continue
                left = shown_words
                value = 0.0
                for i in combo:  # document order: what a cut-off would hide comes last
                    shown = min(length[i], left)
                    left -= shown
                    value += probability[i] * shown
                if best is None or (value, size) > best[:2]:
                    best = (value, size, combo)
        if best is None:  # not even one sentence fits the budget: the best one alone
            return pick(spans, scores, sentences=1, words=None)
        return [spans[i] for i in best[2]]
