"""The terms sentences are compared by: Snowball (Porter2) stems and sumy's English stop words.

PyStemmer runs the Snowball algorithm in C: about 4x NLTK's pure-Python stemmer that sumy wraps,
and it loads in a millisecond where importing NLTK takes a fifth of a second, which a
`digest summarize` process would otherwise pay before its first article. The stop words are
sumy's own list, read from its package data without importing sumy's modules.
"""

from __future__ import annotations

import pkgutil
from functools import lru_cache

import Stemmer

LANGUAGE = "english"


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer(LANGUAGE)


@lru_cache(maxsize=50_000)
def stem(token: str) -> str:
    """The Snowball stem of a lower-cased token; a typographic apostrophe counts as `'` (as NLTK,
    which the ranker's weights were first fitted with, reads it)."""
    return str(_stemmer().stemWord(token.replace("’", "'")))


@lru_cache(maxsize=100_000)
def term(token: str) -> str | None:
    """The term a word token counts as: its lower-cased stem, or None for a stop word (or an
    empty stem). Memoised per token as written: news repeats its vocabulary."""
    lower = token.lower()
    return None if lower in stop_words() else (stem(lower) or None)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    data = pkgutil.get_data("sumy", f"data/stopwords/{LANGUAGE}.txt")
    if data is None:  # a loader that cannot read package data: sumy's own reader then
        from sumy.utils import get_stop_words

        return frozenset(get_stop_words(LANGUAGE))
    return frozenset(word.strip() for word in data.decode("utf-8").splitlines() if word.strip())
