"""The summary measure of the issue, shared by the benchmark and by training so both agree.

- precision: share of the chosen sentences found verbatim (whitespace-normalised) in the reference;
- ROUGE-2 recall: reference bigrams recovered by the summary (sentences joined in document order)
  cut to its first 75 words; lowercased `\\w+` tokens, counts clipped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from digest.summarize.sentences import split_sentences

ROUGE_WORDS = 75
_TOKEN = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


def normalise_space(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def bigrams(text: str) -> Counter[tuple[str, str]]:
    tokens = _TOKEN.findall(text.lower())
    return Counter(zip(tokens, tokens[1:], strict=False))


def rouge2_recall(summary: str, reference: str, max_words: int = ROUGE_WORDS) -> float:
    cut = " ".join(_TOKEN.findall(summary.lower())[:max_words])
    reference_bigrams = bigrams(reference)
    total = sum(reference_bigrams.values())
    if not total:
        return 0.0
    return sum((bigrams(cut) & reference_bigrams).values()) / total


def sentence_precision(chosen: Sequence[str], reference: str) -> float:
    """Share of the summary's sentences found in the reference. An item of the summary may hold
    several sentences (a caller's own summary); each counts, as the reference lists them."""
    sentences = [s for item in chosen for s in split_sentences(item)]
    if not sentences:
        return 0.0
    flat = normalise_space(reference)
    return sum(normalise_space(sentence) in flat for sentence in sentences) / len(sentences)
