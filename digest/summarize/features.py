"""Sentence features for the project's own ranker (shared by scoring and by training).

Four families: where the sentence sits (position, paragraph start), how long it is, and how much
it shares with the rest of the article — including sumy Reduction's own sentence rating,
reimplemented here (same tokens, stop words and stemmer) so the model can only add to it — and
where the sentence ranks, relative to the article's length, under five such measures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import chain

from digest.summarize.sentences import Span, words
from digest.summarize.terms import term

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
    "reduction_share",
    "reduction_top3",
    "log_reduction_rank",
    "is_second",
    "is_third",
    "reduction_share_x_position",
    "log_index",
    "log_reduction",
    "log_shared_terms",
    "log_content_terms",
    "reduction_over_mean",
    "words_before_share",
    "log_sentences",
    "term_frequency",
    "reduction_rank_share",
    "reduction_in_top_share",
    "overlap_rank_share",
    "overlap_in_top_share",
    "centrality_rank_share",
    "centrality_in_top_share",
    "textrank_rank_share",
    "textrank_in_top_share",
    "term_frequency_rank_share",
    "term_frequency_in_top_share",
)
# The reference summaries keep about 40 % of an article's sentences (BBC News Summary: 0.39-0.50
# of them in nine articles of ten), so a sentence's rank *relative to the article's length* under
# each centrality measure says more than the raw score: these are the "_rank_share" features and
# the flags for the top TOP_SHARE of the ranking.
TOP_SHARE = 0.4


def content_terms(text: str) -> list[str]:
    """Lowercased, stemmed, stop words removed: the terms sumy's Reduction compares."""
    return _terms_of(words(text))


def _terms_of(tokens: Sequence[str]) -> list[str]:
    return list(filter(None, map(term, tokens)))


def reduction_ratings(
    terms: Sequence[Sequence[str]], counts: Sequence[Counter[str]] | None = None
) -> list[float]:
    """sumy Reduction's rating of each sentence: the sum of its edge weights to every other one.

    An edge counts matching term pairs (with repeats) over the sum of the two sentences' log
    lengths, exactly as `sumy.summarizers.reduction`, but on term counts instead of a double loop.
    """
    logs = [math.log(len(sentence)) if sentence else 0.0 for sentence in terms]
    # matching pairs per pair of sentences, through each term's sentences (exact integers): only
    # pairs that share a term are visited
    postings: dict[str, list[tuple[int, int]]] = {}
    for i, sentence in enumerate(counts if counts is not None else map(Counter, terms)):
        for found, n in sentence.items():
            postings.setdefault(found, []).append((i, n))
    size = len(terms)
    matches: dict[int, int] = {}  # i x size + j (i < j): sorts as the pairs do
    for sentences in postings.values():
        for a, (i, n) in enumerate(sentences):
            for j, m in sentences[a + 1 :]:
                key = i * size + j
                matches[key] = matches.get(key, 0) + n * m
    ratings = [0.0] * size
    for key, count in sorted(matches.items()):  # the order sumy adds them in
        i, j = divmod(key, size)
        norm = logs[i] + logs[j]
        if norm:
            ratings[i] += count / norm
            ratings[j] += count / norm
    return ratings


def rank_shares(values: Sequence[float]) -> list[float]:
    """Each value's rank (0 = highest, ties by position) over the number of values."""
    count = len(values)
    shares = [0.0] * count
    for rank, index in enumerate(sorted(range(count), key=lambda i: (-values[i], i))):
        shares[index] = rank / count
    return shares


def shared_terms(sets: Sequence[set[str]]) -> list[tuple[int, int, int]]:
    """(i, j, terms in common) for every pair i < j of sentences that share a term, in order."""
    pairs = []
    for i, terms in enumerate(sets):
        for j in range(i + 1, len(sets)):
            shared = len(terms & sets[j])
            if shared:
                pairs.append((i, j, shared))
    return pairs


def textrank(
    sets: Sequence[set[str]],
    *,
    damping: float = 0.85,
    iterations: int = 20,
    pairs: Sequence[tuple[int, int, int]] | None = None,
) -> list[float]:
    """PageRank over the sentences, edges weighted by shared terms over their log sizes.

    In plain Python over the edges: a news article's few dozen sentences take less time so than
    importing numpy would (`digest summarize` is a short process)."""
    count = len(sets)
    logs = [math.log(len(terms) + 1) for terms in sets]
    weighted = []
    weights: list[list[float]] = [[] for _ in range(count)]
    for i, j, shared in shared_terms(sets) if pairs is None else pairs:
        weight = shared / (logs[i] + logs[j])
        weighted.append((i, j, weight))
        weights[i].append(weight)
        weights[j].append(weight)
    degrees = [sum(row) or 1.0 for row in weights]
    # each edge's transition probability both ways (i to j over i's degree, j to i over j's)
    edges = [(i, j, weight / degrees[i], weight / degrees[j]) for i, j, weight in weighted]
    rank = [1.0 / count] * count
    teleport = (1 - damping) / count
    for _ in range(iterations):
        incoming = [0.0] * count
        for i, j, forward, backward in edges:
            incoming[j] += forward * rank[i]
            incoming[i] += backward * rank[j]
        rank = [teleport + damping * value for value in incoming]
    return rank


def sentence_features(spans: Sequence[Span], title: str | None) -> list[list[float]]:
    """One feature vector per span, in the order of `FEATURE_NAMES`."""
    count = len(spans)
    if count == 0:
        return []
    tokens = [words(span.text) for span in spans]
    terms = [_terms_of(sentence) for sentence in tokens]
    lengths = [len(sentence) for sentence in tokens]
    document_frequency: Counter[str] = Counter()
    for sentence_terms in terms:
        document_frequency.update(set(sentence_terms))
    idf = {t: math.log((1 + count) / (1 + df)) + 1.0 for t, df in document_frequency.items()}

    counts = [Counter(sentence_terms) for sentence_terms in terms]
    vectors = [{t: n * idf[t] for t, n in tf.items()} for tf in counts]
    centroid: dict[str, float] = {}
    for vector in vectors:
        for t, value in vector.items():
            centroid[t] = value + centroid.get(t, 0)
    centroid_norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0

    sets = [set(sentence_terms) for sentence_terms in terms]
    pairs = shared_terms(sets)
    overlap = [0.0] * count
    for i, j, shared in pairs:
        weight = shared / (len(sets[i]) + len(sets[j]))
        overlap[i] += weight
        overlap[j] += weight
    max_overlap = max(overlap) or 1.0
    max_length = max(lengths) or 1
    total_words = sum(lengths) or 1
    title_terms = set(content_terms(title)) if title else set()

    reduction = reduction_ratings(terms, counts)
    max_reduction = max(reduction) or 1.0
    mean_reduction = sum(reduction) / count or 1.0
    reduction_rank = [0] * count
    for rank, index in enumerate(sorted(range(count), key=lambda i: (-reduction[i], i))):
        reduction_rank[index] = rank
    term_counts = Counter(chain.from_iterable(terms))
    term_frequency = [
        sum(map(term_counts.__getitem__, sentence_terms)) / len(sentence_terms)
        if sentence_terms
        else 0.0
        for sentence_terms in terms
    ]
    max_term_frequency = max(term_frequency) or 1.0
    centralities = []
    for vector in vectors:
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        centralities.append(
            sum(v * centroid[t] for t, v in vector.items()) / (norm * centroid_norm)
        )
    ranked = [
        rank_shares(values)
        for values in (
            reduction,
            overlap,
            centralities,
            textrank(sets, pairs=pairs),
            term_frequency,
        )
    ]

    rows = []
    words_before = 0
    for i, span in enumerate(spans):
        centrality = centralities[i]
        title_overlap = len(sets[i] & title_terms) / len(title_terms) if title_terms else 0.0
        position = i / (count - 1) if count > 1 else 0.0
        reduction_share = reduction[i] / max_reduction
        rows.append(
            [
                position,
                1.0 if i == 0 else 0.0,
                1.0 if span.first_in_paragraph else 0.0,
                math.log1p(lengths[i]),
                lengths[i] / max_length,
                centrality,
                overlap[i] / max_overlap,
                title_overlap,
                1.0 if any(q in span.text for q in '"“”') else 0.0,
                1.0 if any(map(str.isdigit, span.text)) else 0.0,
                reduction_share,
                1.0 if reduction_rank[i] < 3 else 0.0,
                math.log1p(reduction_rank[i]),
                1.0 if i == 1 else 0.0,
                1.0 if i == 2 else 0.0,
                reduction_share * position,
                math.log1p(i),
                math.log1p(reduction[i]),
                math.log1p(sum(document_frequency[t] - 1 for t in terms[i])),
                math.log1p(len(terms[i])),
                reduction[i] / mean_reduction,
                words_before / total_words,
                math.log(count),
                term_frequency[i] / max_term_frequency,
                *(
                    value
                    for shares in ranked
                    for value in (shares[i], 1.0 if shares[i] < TOP_SHARE else 0.0)
                ),
            ]
        )
        words_before += lengths[i]
    return rows
