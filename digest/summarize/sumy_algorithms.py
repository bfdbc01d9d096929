"""sumy's algorithms behind the common `Summarizer` interface.

sumy returns only its top N sentences; to apply the newsletter's constraints uniformly we need its
whole ranking, which we read through the `sentences_count` hook (sumy accepts a callable there and
hands it every sentence sorted best first).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.parsers.parser import DocumentParser
from sumy.summarizers.edmundson import EdmundsonSummarizer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from digest.errors import DigestError
from digest.summarize.base import Summarizer
from digest.summarize.sentences import OfflineTokenizer, Span, words

LANGUAGE = "english"


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer:
    return Stemmer(LANGUAGE)  # NLTK's Snowball stemmer: code only, no data download


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(get_stop_words(LANGUAGE))  # shipped inside sumy


class _RankingRecorder:
    """Passed to sumy as `sentences_count`: keeps the full best-first ranking."""

    def __init__(self) -> None:
        self.ranking: list[Any] = []

    def __call__(self, infos: Sequence[Any]) -> Sequence[Any]:
        self.ranking = list(infos)
        return infos


class SumyRanker(Summarizer):
    """Scores spans by their place in a sumy summarizer's ranking."""

    needs_numpy = False

    def build(self) -> Any:
        """The configured sumy summarizer."""
        raise NotImplementedError

    def document(self, spans: Sequence[Span], title: str | None) -> ObjectDocumentModel:
        tokenizer = OfflineTokenizer()
        sentences = [Sentence(span.text, tokenizer) for span in spans]
        if title:
            sentences.insert(0, Sentence(title, tokenizer, is_heading=True))
        return ObjectDocumentModel([Paragraph(sentences)])

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        if self.needs_numpy:
            _require_numpy(self.name)
        document = self.document(spans, title)
        body_sentences = document.sentences  # headings excluded, same order as `spans`
        recorder = _RankingRecorder()
        self.build()(document, recorder)
        position = {id(info.sentence): rank for rank, info in enumerate(recorder.ranking)}
        worst = float(len(spans))
        # Sentence objects are matched by identity: two spans with the same text stay distinct.
        return [-float(position.get(id(sentence), worst)) for sentence in body_sentences]


def _require_numpy(name: str) -> None:
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise DigestError(
            f"algorithm {name!r} needs numpy (sumy uses it); install numpy or pick another"
        ) from None


def _with_stop_words(summarizer: Any) -> Any:
    summarizer.stop_words = _stop_words()
    return summarizer


class LexRank(SumyRanker):
    name = "lexrank"
    needs_numpy = True

    def build(self) -> Any:
        return _with_stop_words(LexRankSummarizer(_stemmer()))


class TextRank(SumyRanker):
    name = "textrank"
    needs_numpy = True

    def build(self) -> Any:
        return _with_stop_words(TextRankSummarizer(_stemmer()))


class Lsa(SumyRanker):
    name = "lsa"
    needs_numpy = True

    def build(self) -> Any:
        return _with_stop_words(LsaSummarizer(_stemmer()))


class Luhn(SumyRanker):
    name = "luhn"

    def build(self) -> Any:
        return _with_stop_words(LuhnSummarizer(_stemmer()))


class KL(SumyRanker):
    name = "kl"

    def build(self) -> Any:
        return _with_stop_words(KLSummarizer(_stemmer()))


class SumBasic(SumyRanker):
    name = "sumbasic"

    def build(self) -> Any:
        return _with_stop_words(SumBasicSummarizer(_stemmer()))


class Reduction(SumyRanker):
    name = "reduction"

    def build(self) -> Any:
        return _with_stop_words(ReductionSummarizer(_stemmer()))


class Edmundson(SumyRanker):
    name = "edmundson"

    def __init__(self) -> None:
        self._title_words: tuple[str, ...] = ()

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        # sumy's command line uses the headings as bonus words, else its generic list.
        self._title_words = tuple(words(title)) if title else ()
        return super().score(spans, title)

    def build(self) -> Any:
        summarizer = EdmundsonSummarizer(_stemmer())
        summarizer.bonus_words = self._title_words or DocumentParser.SIGNIFICANT_WORDS
        summarizer.stigma_words = DocumentParser.STIGMA_WORDS
        summarizer.null_words = _stop_words()
        return summarizer
