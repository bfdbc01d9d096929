"""Fitting the lede prior (`lede_prior.py`) and reading the labelled articles written for it.

The prior is a logistic regression whose offsets are the ranker's own logits: it learns only what
to add to them, as a function of the article's shape and the sentence's index. Two corpora, each
with the same total weight: the BBC articles (feature-like 2005 copy whose references favour
central sentences) and `written_news.txt` (modern copy, inverted pyramids and features, labelled
by hand). Modern news is the standard the product summarises; BBC is a guard against forgetting
what a central sentence is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digest.summarize.base import candidates
from digest.summarize.lede_prior import (
    SHAPE_NAMES,
    LedePrior,
    article_shape,
    basis,
    design_rows,
)

WRITTEN_PATH = Path(__file__).with_name("written_news.txt")
MARK = "[S] "
PRIOR_L2 = 10.0  # on standardised shape x basis products


@dataclass
class WrittenArticle:
    title: str
    shape: str  # "lede" or "feature"
    body: str
    marks: list[int]  # offsets in body where a summary sentence starts


def read_written(path: Path = WRITTEN_PATH) -> list[WrittenArticle]:
    """The labelled articles of `path` (format in its header)."""
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    articles = []
    for block in "\n".join(lines).split("\n===\n"):
        head: dict[str, str] = {}
        body_lines: list[str] = []
        for line in block.strip("\n").splitlines():
            key, sep, value = line.partition(": ")
            if sep and key in ("title", "shape") and not body_lines:
                head[key] = value.strip()
            else:
                body_lines.append(line)
        raw = "\n".join(body_lines).strip()
        if not raw or "title" not in head:
            continue
        marks = []
        body = ""
        for piece_index, piece in enumerate(raw.split(MARK)):
            if piece_index:
                marks.append(len(body))
            body += piece
        articles.append(WrittenArticle(head["title"], head.get("shape", "lede"), body, marks))
    return articles


def written_labels(article: WrittenArticle) -> tuple[list[str], list[int]]:
    """The article's candidate sentences and whether each is marked as summary-worthy."""
    spans = candidates(article.body)
    labels = [int(any(span.start <= m < span.end for m in article.marks)) for span in spans]
    return [span.text for span in spans], labels


@dataclass
class PriorExample:
    """One article as the prior's fit sees it."""

    corpus: str
    sentences: list[str]
    rows: list[list[float]]  # the ranker's features
    logits: list[float]  # the ranker's logits: the fit's offsets
    labels: list[int]


def fit_prior(
    examples: Sequence[PriorExample], *, bbc_weight: float = 1.0, l2: float = PRIOR_L2
) -> LedePrior:
    """Newton's method on the weighted log-likelihood: the written articles weigh 1 in total,
    the BBC ones `bbc_weight`, shared equally by a corpus's articles."""
    shapes = np.array([article_shape(e.sentences, e.rows, e.logits) for e in examples])
    means = shapes.mean(axis=0)
    scales = shapes.std(axis=0)
    means[0], scales[0] = 0.0, 1.0  # the bias stays 1
    scales[scales == 0] = 1.0
    corpus_sizes: dict[str, int] = {}
    for example in examples:
        corpus_sizes[example.corpus] = corpus_sizes.get(example.corpus, 0) + 1
    corpus_weights = {name: bbc_weight if name == "bbc" else 1.0 for name in corpus_sizes}
    total_weight = sum(corpus_weights.values())
    rows: list[list[float]] = []
    offsets: list[float] = []
    labels: list[int] = []
    weights: list[float] = []
    for example, shape in zip(examples, shapes, strict=True):
        standardised = list((shape - means) / scales)
        rows.extend(design_rows(standardised, len(example.sentences)))
        offsets.extend(example.logits)
        labels.extend(example.labels)
        # a corpus's weight shared by its articles; the mean article weighs 1
        weight = (
            len(examples)
            * corpus_weights[example.corpus]
            / total_weight
            / corpus_sizes[example.corpus]
        )
        weights.extend([weight] * len(example.sentences))
    design, offset = np.array(rows), np.array(offsets)
    target, weight_of = np.array(labels, dtype=float), np.array(weights)
    coefficients = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    for _ in range(50):
        predicted = 1.0 / (1.0 + np.exp(-np.clip(offset + design @ coefficients, -50, 50)))
        gradient = design.T @ (weight_of * (predicted - target)) + penalty * coefficients
        curvature = weight_of * predicted * (1 - predicted)
        hessian = (design * curvature[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        coefficients -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return LedePrior([float(c) for c in coefficients], list(means), list(scales))


def describe(prior: LedePrior, examples: Sequence[PriorExample]) -> str:
    """The fitted strengths (bonus at the lede, at sentence 5) per corpus and shape."""
    groups: dict[str, list[float]] = {}
    for example in examples:
        shape = article_shape(example.sentences, example.rows, example.logits)
        strengths = prior.strengths(shape)
        # what the lede gains over the tenth sentence: the constant basis changes no ranking
        first, tenth = basis(0), basis(10)
        bonus = sum(s * (a - b) for s, a, b in zip(strengths, first, tenth, strict=True))
        groups.setdefault(example.corpus, []).append(bonus)
    parts = [
        f"{name}: lede over 10th sentence mean {sum(v) / len(v):+.2f}"
        f" (min {min(v):+.2f}, max {max(v):+.2f})"
        for name, v in groups.items()
    ]
    width = len(prior.coefficients) // len(SHAPE_NAMES)
    coefficients = ", ".join(
        f"{name} " + "/".join(f"{c:+.2f}" for c in prior.coefficients[j * width : (j + 1) * width])
        for j, name in enumerate(SHAPE_NAMES)
    )
    return "; ".join(parts) + f"\n  coefficients (constant, then each decay): {coefficients}"
