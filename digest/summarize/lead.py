"""Lead-K: the first sentences of the article, the baseline every ranker must beat."""

from __future__ import annotations

from collections.abc import Sequence

from digest.summarize.base import Summarizer
from digest.summarize.sentences import Span


class LeadSummarizer(Summarizer):
    name = "lead"

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        return [-float(index) for index in range(len(spans))]
