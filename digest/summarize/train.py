"""Learn the `digest` ranker's weights from BBC News Summary articles and their reference summaries.

    python -m digest.summarize.train DATASET_DIR [--out digest/summarize/ranker_weights.json]

DATASET_DIR holds `articles/<category>/NNN.txt` (first line the title) and
`summaries/<category>/NNN.txt`. A sentence is labelled positive when it appears verbatim in the
reference. Trains an L2-regularised logistic regression (pure Python) on every category, and first
reports 5-fold cross-validated precision@3 on politics (folds by article, duplicates kept together,
training on the other folds plus the other categories).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.summarize.base import candidates
from digest.summarize.features import FEATURE_NAMES, sentence_features

WEIGHTS_PATH = Path(__file__).with_name("ranker_weights.json")
_SPACES = re.compile(r"\s+")


@dataclass
class LabelledArticle:
    category: str
    name: str
    body_hash: str
    features: list[list[float]]
    labels: list[int]


def normalise_space(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def read_pair(article: Path, summary: Path) -> tuple[str, str, str] | None:
    """(title, body, reference) of one dataset item, or None when unreadable."""
    try:
        text = article.read_text(encoding="utf-8")
        reference = summary.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    title, _, body = text.partition("\n")
    return title.strip(), body, reference


def load(dataset: Path, categories: Sequence[str] | None = None) -> list[LabelledArticle]:
    articles: list[LabelledArticle] = []
    for category_dir in sorted((dataset / "articles").iterdir()):
        if not category_dir.is_dir() or (categories and category_dir.name not in categories):
            continue
        for path in sorted(category_dir.glob("*.txt")):
            pair = read_pair(path, dataset / "summaries" / category_dir.name / path.name)
            if pair is None:
                continue
            title, body, reference = pair
            spans = candidates(body)
            if not spans:
                continue
            reference_text = normalise_space(reference)
            labels = [int(normalise_space(span.text) in reference_text) for span in spans]
            body_hash = hashlib.sha1(normalise_space(body).encode()).hexdigest()
            features = sentence_features(spans, title)
            articles.append(
                LabelledArticle(category_dir.name, path.name, body_hash, features, labels)
            )
    return articles


@dataclass
class Model:
    weights: list[float]  # on raw features: score = bias + sum(weights * features)
    bias: float

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURE_NAMES),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
        }


def fit(
    articles: Sequence[LabelledArticle],
    *,
    l2: float = 1.0,
    iterations: int = 200,
    rate: float = 0.5,
) -> Model:
    """Logistic regression by batch gradient descent on standardised features."""
    rows = [row for article in articles for row in article.features]
    labels = [label for article in articles for label in article.labels]
    count, width = len(rows), len(FEATURE_NAMES)
    means = [sum(row[k] for row in rows) / count for k in range(width)]
    deviations = [
        math.sqrt(sum((row[k] - means[k]) ** 2 for row in rows) / count) or 1.0
        for k in range(width)
    ]
    standard = [[(row[k] - means[k]) / deviations[k] for k in range(width)] for row in rows]
    weights = [0.0] * width
    bias = 0.0
    for _ in range(iterations):
        gradient = [0.0] * width
        bias_gradient = 0.0
        for z, label in zip(standard, labels, strict=True):
            margin = bias + sum(w * v for w, v in zip(weights, z, strict=True))
            error = 1.0 / (1.0 + math.exp(-margin)) - label
            bias_gradient += error
            for k in range(width):
                gradient[k] += error * z[k]
        bias -= rate * bias_gradient / count
        for k in range(width):
            weights[k] -= rate * (gradient[k] + l2 * weights[k]) / count
    raw = [w / d for w, d in zip(weights, deviations, strict=True)]
    raw_bias = bias - sum(w * m / d for w, m, d in zip(weights, means, deviations, strict=True))
    return Model(raw, raw_bias)


def precision_at(model: Model, articles: Sequence[LabelledArticle], k: int = 3) -> float:
    total = 0.0
    for article in articles:
        scores = [
            model.bias + sum(w * v for w, v in zip(model.weights, row, strict=True))
            for row in article.features
        ]
        top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        total += sum(article.labels[i] for i in top) / len(top)
    return total / len(articles)


def cross_validate(
    articles: Sequence[LabelledArticle], category: str = "politics", folds: int = 5
) -> list[float]:
    """Precision@3 on each fold of `category`; duplicates of one body share a fold."""
    target = [a for a in articles if a.category == category]
    others = [a for a in articles if a.category != category]
    fold_of = {a.body_hash: int(a.body_hash, 16) % folds for a in target}
    results = []
    for fold in range(folds):
        test = [a for a in target if fold_of[a.body_hash] == fold]
        train = [a for a in target if fold_of[a.body_hash] != fold] + [
            a for a in others if a.body_hash not in fold_of or fold_of[a.body_hash] != fold
        ]
        results.append(precision_at(fit(train), test))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="folder with articles/ and summaries/")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    args = parser.parse_args(argv)
    if not (args.dataset / "articles").is_dir():
        print(f"{args.dataset}: no articles/ folder", file=sys.stderr)
        return 2
    articles = load(args.dataset)
    print(f"{len(articles)} articles, {sum(len(a.labels) for a in articles)} sentences")
    if not args.no_cv:
        folds = cross_validate(articles)
        print(
            "politics 5-fold CV precision@3: "
            f"{sum(folds) / len(folds):.3f} ({', '.join(f'{p:.3f}' for p in folds)})"
        )
    model = fit(articles)
    args.out.write_text(json.dumps(model.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"weights written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
