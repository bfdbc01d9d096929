"""Summarisation: K verbatim sentences of an article's body, within a word budget.

`summarize()` is the stage's whole interface; `ALGORITHMS` lists the selectable rankers (`digest`,
the default, is the project's own; the others are sumy's, plus `lead` as a baseline).
"""

from __future__ import annotations

from digest.errors import DigestError
from digest.summarize.base import Summarizer
from digest.summarize.registry import DEFAULT_ALGORITHM, REGISTRY
from digest.summarize.sentences import OfflineTokenizer, split_sentences

ALGORITHMS: tuple[str, ...] = tuple(REGISTRY)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "OfflineTokenizer",
    "get_summarizer",
    "split_sentences",
    "summarize",
]


def get_summarizer(algorithm: str) -> Summarizer:
    """A fresh instance of the named algorithm; DigestError naming the valid ones otherwise."""
    try:
        return REGISTRY[algorithm]()
    except KeyError:
        raise DigestError(
            f"unknown summary algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}"
        ) from None


def summarize(
    body: str,
    *,
    sentences: int = 3,
    words: int = 90,
    algorithm: str = DEFAULT_ALGORITHM,
    truncated: bool = False,
    title: str | None = None,
) -> list[str]:
    """Up to `sentences` sentences of `body`, verbatim, in document order, within `words` words.

    Never the cut-off last fragment when `truncated`, never boilerplate. If no single sentence fits
    the budget, the best one is returned alone rather than nothing. `words <= 0` means no budget.
    An empty list only when the body has no usable sentence.
    """
    summarizer = get_summarizer(algorithm)
    if sentences < 1:
        raise DigestError(f"--sentences must be at least 1, got {sentences}")
    return summarizer.summarize(
        body,
        sentences=sentences,
        words=words if words > 0 else None,
        truncated=truncated,
        title=title,
    )
