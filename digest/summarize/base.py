"""What every summarisation algorithm shares: the candidates, the newsletter constraints, the pick.

An algorithm only scores candidate sentences (`Summarizer.score`); `Summarizer.summarize` applies
the constraints the same way for all of them, so they can be compared fairly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from digest.summarize.boilerplate import is_boilerplate
from digest.summarize.sentences import Span, split_spans, word_count


def candidates(body: str, *, truncated: bool = False) -> list[Span]:
    """The sentences of `body` a summary may use: no boilerplate, and no cut-off last fragment."""
    spans = split_spans(body)
    if truncated and spans:
        spans = spans[:-1]
    return [span for span in spans if not is_boilerplate(span.text)]


def pick(
    spans: Sequence[Span], scores: Sequence[float], *, sentences: int, words: int | None
) -> list[Span]:
    """The best-scored spans, at most `sentences` of them within `words` words, in document order.

    Goes down the ranking and skips a sentence that would overrun the budget, so a long high-ranked
    sentence gives way to shorter ones. If not even one sentence fits, the best-ranked sentence is
    returned alone: a summary over budget is more useful to a reader than an empty one.
    """
    if not spans or sentences <= 0:
        return []
    ranking = sorted(range(len(spans)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    used = 0
    for index in ranking:
        if len(chosen) == sentences:
            break
        length = word_count(spans[index].text)
        if words is not None and used + length > words:
            continue
        chosen.append(index)
        used += length
    if not chosen:
        chosen = [ranking[0]]
    return [spans[i] for i in sorted(chosen)]


class Summarizer(ABC):
    """One extractive algorithm: scores candidate sentences, higher is more summary-worthy."""

    name: str

    @abstractmethod
    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        """One score per span, in the order given."""

    def summarize(
        self,
        body: str,
        *,
        sentences: int = 3,
        words: int | None = 90,
        truncated: bool = False,
        title: str | None = None,
    ) -> list[str]:
        spans = candidates(body, truncated=truncated)
        if not spans:
            return []
        scores = self.score(spans, title)
        return [span.text for span in self.choose(spans, scores, sentences=sentences, words=words)]

    def choose(
        self, spans: Sequence[Span], scores: Sequence[float], *, sentences: int, words: int | None
    ) -> list[Span]:
        """The summary's spans in document order; by default the greedy `pick`."""
        return pick(spans, scores, sentences=sentences, words=words)
