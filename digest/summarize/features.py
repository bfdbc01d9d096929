"""Sentence features for the project's own ranker (shared by scoring and by training)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from digest.summarize.sentences import Span, words
from digest.summarize.sumy_algorithms import _stemmer, _stop_words

FEATURE_NAMES = (
    "relative_position",
    "is_first",
    "first_in_paragraph",
    "log_words",
    "length_share",
    "centrality",
    "overlap_share",
    "title_overlap",
    "has_quote",
    "has_number",
)


def _content_terms(text: str) -> list[str]:
    stop = _stop_words()
    stem = _stemmer()
    return [stem(token) for token in (w.lower() for w in words(text)) if token not in stop]


def sentence_features(spans: Sequence[Span], title: str | None) -> list[list[float]]:
    """One feature vector per span, in the order of `FEATURE_NAMES`."""
    count = len(spans)
    if count == 0:
        return []
    terms = [_content_terms(span.text) for span in spans]
    lengths = [len(words(span.text)) for span in spans]
    document_frequency: Counter[str] = Counter()
    for sentence_terms in terms:
        document_frequency.update(set(sentence_terms))
    idf = {t: math.log((1 + count) / (1 + df)) + 1.0 for t, df in document_frequency.items()}

    vectors = []
    for sentence_terms in terms:
        tf = Counter(sentence_terms)
        vectors.append({t: n * idf[t] for t, n in tf.items()})
    centroid: Counter[str] = Counter()
    for vector in vectors:
        centroid.update(vector)
    centroid_norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0

    sets = [set(sentence_terms) for sentence_terms in terms]
    overlap = [0.0] * count
    for i in range(count):
        for j in range(i + 1, count):
            shared = len(sets[i] & sets[j])
            if shared:
                # Reduction's edge weight: shared terms over the pair's combined length
                weight = shared / (len(sets[i]) + len(sets[j]))
                overlap[i] += weight
                overlap[j] += weight
    max_overlap = max(overlap) or 1.0
    max_length = max(lengths) or 1
    title_terms = set(_content_terms(title)) if title else set()

    rows = []
    for i, span in enumerate(spans):
        vector = vectors[i]
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        centrality = sum(v * centroid[t] for t, v in vector.items()) / (norm * centroid_norm)
        title_overlap = len(sets[i] & title_terms) / len(title_terms) if title_terms else 0.0
        rows.append(
            [
                i / (count - 1) if count > 1 else 0.0,
                1.0 if i == 0 else 0.0,
                1.0 if span.first_in_paragraph else 0.0,
                math.log1p(lengths[i]),
                lengths[i] / max_length,
                centrality,
                overlap[i] / max_overlap,
                title_overlap,
                1.0 if any(q in span.text for q in '"“”') else 0.0,
                1.0 if any(c.isdigit() for c in span.text) else 0.0,
            ]
        )
    return rows
