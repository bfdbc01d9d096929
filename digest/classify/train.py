"""Train the political classifier and write its parameters (`params.json` beside this file).

    python -m digest.classify.train DATASET_DIR [--folds 5] [--out PATH] [--keep-names]

DATASET_DIR is a BBC-News-style folder of category sub-folders (`politics/`, `business/`, ...) of
text files whose first line is the title. Politics is the positive class, every other category
the negative. Exact duplicates are removed first so a copy can't sit on both sides of a fold.
Prints stratified k-fold cross-validated precision, recall and F1, then fits on everything.

The model is L2-regularised logistic regression on sublinear, L2-normalised unigram + bigram
counts, with features chosen by chi-squared inside each training fold, plus one hand-written
lexicon rate (government, elections, parties, diplomacy, war, courts: see `features.LEXICON`)
whose single weight is learned: it carries what the 2005 UK data teaches about political
vocabulary to words it never saw (Senate, NATO, sanctions, Biden's "White House").
`--drop-names` also leaves out words nearly always capitalised mid-sentence (Blair, Kilroy-Silk)
unless they name a lasting institution; it cost about 0.01 F1 in cross-validation, and modern
articles simply don't contain the 2005 names, so by default they are kept.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.classify.features import LEXICON_PREFIX, TITLE_PREFIX, _wordset, raw_features, vectorise

POSITIVE = "politics"
PARAMS_PATH = Path(__file__).with_name("params.json")

# Proper nouns that name institutions, parties and offices rather than people of one era.
LASTING_NAMES = _wordset(
    """labour tory tories conservative conservatives liberal liberals democrat democrats democratic
    republican republicans parliament parliamentary commons lords westminster whitehall downing
    congress congressional senate senator senators house white cabinet government minister
    ministers president presidential chancellor secretary prime mp mps eu nato un ukip snp plaid
    green greens treasury kremlin brussels european union tories' labour's"""
)

# A word that follows a lower-case word or a comma is mid-sentence: its capital is its own.
_MID_SENTENCE_WORD = re.compile(r"(?<=[a-z,;:] )[A-Za-z]+(?:['-][A-Za-z]+)*")


@dataclass
class Example:
    title: str
    body: str
    political: bool
    path: str


@dataclass
class Model:
    weights: dict[str, float]
    bias: float

    def score(self, vector: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) * v for f, v in vector.items())
        return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


def load(dataset_dir: Path) -> tuple[list[Example], int]:
    """Every article under DATASET_DIR/<category>/, exact duplicates dropped (count returned).

    The BBC News Summary layout (DATASET_DIR/articles/<category>/ beside summaries/) is accepted.
    """
    if (dataset_dir / "articles").is_dir():
        dataset_dir = dataset_dir / "articles"
    seen: set[str] = set()
    examples: list[Example] = []
    duplicates = 0
    for path in sorted(dataset_dir.glob("*/*.txt")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        key = " ".join(text.split())
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        title, _, body = text.strip().partition("\n")
        examples.append(
            Example(title.strip(), body.strip(), path.parent.name == POSITIVE, str(path))
        )
    return examples, duplicates


def era_names(examples: Sequence[Example], min_count: int = 3, ratio: float = 0.9) -> set[str]:
    """Lower-cased words written capitalised mid-sentence at least `ratio` of the time."""
    capitalised: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ex in examples:
        for word in _MID_SENTENCE_WORD.findall(ex.body):
            total[word.lower()] += 1
            if word[0].isupper():
                capitalised[word.lower()] += 1
    return {
        w
        for w, n in capitalised.items()
        if n >= min_count and n / total[w] >= ratio and w not in LASTING_NAMES
    }


def _is_era_feature(feature: str, names: set[str]) -> bool:
    return any(part in names for part in feature.removeprefix(TITLE_PREFIX).split(" "))


def select_features(
    docs: Sequence[dict[str, float]], labels: Sequence[bool], k: int, min_df: int, names: set[str]
) -> set[str]:
    """The k features with the highest chi-squared association with the label (presence/absence)."""
    df_pos: Counter[str] = Counter()
    df_all: Counter[str] = Counter()
    for doc, label in zip(docs, labels, strict=True):
        df_all.update(doc.keys())
        if label:
            df_pos.update(doc.keys())
    n = len(docs)
    n_pos = sum(labels)
    scored = []
    for f, df in df_all.items():
        if df < min_df or _is_era_feature(f, names):
            continue
        a = df_pos[f]  # present, positive
        b = df - a  # present, negative
        c = n_pos - a  # absent, positive
        d = n - n_pos - b  # absent, negative
        denom = (a + b) * (c + d) * (a + c) * (b + d)
        chi2 = n * (a * d - b * c) ** 2 / denom if denom else 0.0
        scored.append((chi2, f))
    scored.sort(reverse=True)
    return {f for _, f in scored[:k]} | {f for f in df_all if f.startswith(LEXICON_PREFIX)}


def fit(
    vectors: Sequence[dict[str, float]],
    labels: Sequence[bool],
    *,
    epochs: int = 40,
    l2: float = 1e-4,
    rate: float = 0.5,
    seed: int = 0,
) -> Model:
    """Logistic regression by AdaGrad SGD; classes weighted to balance politics' minority."""
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    class_weight = {True: len(labels) / (2 * n_pos), False: len(labels) / (2 * n_neg)}
    weights: dict[str, float] = {}
    grad_sq: dict[str, float] = {}
    bias, bias_sq = 0.0, 0.0
    order = list(range(len(vectors)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            x, y = vectors[i], labels[i]
            z = bias + sum(weights.get(f, 0.0) * v for f, v in x.items())
            p = 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))
            err = (p - (1.0 if y else 0.0)) * class_weight[y]
            for f, v in x.items():
                w = weights.get(f, 0.0)
                g = err * v + l2 * w
                grad_sq[f] = grad_sq.get(f, 0.0) + g * g
                weights[f] = w - rate * g / math.sqrt(grad_sq[f])
            bias_sq += err * err
            bias -= rate * err / math.sqrt(bias_sq)
    return Model(weights, bias)


def train(
    examples: Sequence[Example], names: set[str], *, k: int, min_df: int, epochs: int, l2: float
) -> Model:
    docs = [raw_features(ex.title, ex.body) for ex in examples]
    labels = [ex.political for ex in examples]
    vocabulary = select_features(docs, labels, k, min_df, names)
    vectors = [vectorise(doc, vocabulary) for doc in docs]
    return fit(vectors, labels, epochs=epochs, l2=l2)


def stratified_folds(labels: Sequence[bool], k: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for cls in (True, False):
        idx = [i for i, y in enumerate(labels) if y is cls]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return folds


def metrics(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    fp = sum(p and not t for t, p in zip(truth, predicted, strict=True))
    fn = sum(t and not p for t, p in zip(truth, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def cross_validate(
    examples: Sequence[Example], *, folds: int, repeats: int, threshold: float, **params: object
) -> tuple[dict[str, float], list[float], list[str]]:
    """Pooled out-of-fold predictions over `repeats` shufflings; also each repeat's F1 (the
    spread says how much of a difference between two settings is only the shuffle) and the
    paths misclassified in the first repeat."""
    truth: list[bool] = []
    predicted: list[bool] = []
    wrong: list[str] = []
    per_repeat: list[float] = []
    for repeat in range(repeats):
        repeat_start = len(truth)
        labels = [ex.political for ex in examples]
        for held in stratified_folds(labels, folds, seed=repeat):
            held_set = set(held)
            training = [ex for i, ex in enumerate(examples) if i not in held_set]
            names = era_names(training) if params["drop_names"] else set()
            model = train(
                training,
                names,
                k=int(params["k"]),  # type: ignore[call-overload]
                min_df=int(params["min_df"]),  # type: ignore[call-overload]
                epochs=int(params["epochs"]),  # type: ignore[call-overload]
                l2=float(params["l2"]),  # type: ignore[arg-type]
            )
            for i in held:
                ex = examples[i]
                vocab = model.weights
                p = model.score(vectorise(raw_features(ex.title, ex.body), vocab)) >= threshold
                truth.append(ex.political)
                predicted.append(p)
                if p != ex.political and repeat == 0:
                    wrong.append(ex.path)
        per_repeat.append(metrics(truth[repeat_start:], predicted[repeat_start:])["f1"])
    return metrics(truth, predicted), per_repeat, wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digest.classify.train", description=__doc__)
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--features", type=int, default=5000, dest="k")
    parser.add_argument("--min-df", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument(
        "--drop-names", action="store_true", help="leave out words nearly always capitalised"
    )
    parser.add_argument("--out", type=Path, default=PARAMS_PATH)
    parser.add_argument("--no-write", action="store_true", help="only cross-validate")
    args = parser.parse_args(argv)

    if not args.dataset_dir.is_dir():
        print(f"error: {args.dataset_dir}: not a folder", file=sys.stderr)
        return 2
    examples, duplicates = load(args.dataset_dir)
    n_pos = sum(ex.political for ex in examples)
    if not n_pos or n_pos == len(examples):
        print(f"error: {args.dataset_dir}: needs {POSITIVE}/ and other categories", file=sys.stderr)
        return 2
    print(f"{len(examples)} unique articles ({n_pos} politics), {duplicates} duplicates dropped")

    params = {
        "k": args.k,
        "min_df": args.min_df,
        "epochs": args.epochs,
        "l2": args.l2,
        "drop_names": args.drop_names,
    }
    started = time.perf_counter()
    cv, per_repeat, wrong = cross_validate(
        examples, folds=args.folds, repeats=args.repeats, threshold=args.threshold, **params
    )
    print(
        f"{args.repeats}x stratified {args.folds}-fold CV: precision {cv['precision']:.3f}  "
        f"recall {cv['recall']:.3f}  F1 {cv['f1']:.3f}  "
        f"(tp {cv['tp']}, fp {cv['fp']}, fn {cv['fn']}; {time.perf_counter() - started:.0f} s)"
    )
    print("  F1 per repeat: " + " ".join(f"{f1:.3f}" for f1 in per_repeat))
    print(
        f"  settings: features {args.k}, min_df {args.min_df}, epochs {args.epochs}, "
        f"l2 {args.l2}, threshold {args.threshold}, drop_names {args.drop_names}"
    )
    for path in wrong:
        print(f"  misclassified: {path}")
    if args.no_write:
        return 0

    names = era_names(examples) if params["drop_names"] else set()
    model = train(examples, names, k=args.k, min_df=args.min_df, epochs=args.epochs, l2=args.l2)
    payload = {
        "model": "logistic regression, sublinear L2-normalised unigram+bigram counts",
        "threshold": args.threshold,
        "bias": round(model.bias, 5),
        "weights": {f: round(w, 5) for f, w in sorted(model.weights.items()) if abs(w) >= 1e-5},
        "cv": {k: round(v, 4) for k, v in cv.items()},
        "trained_on": {"articles": len(examples), "politics": n_pos, "params": params},
    }
    args.out.write_text(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n")
    print(
        f"wrote {args.out} ({args.out.stat().st_size // 1024} KB, "
        f"{len(payload['weights'])} weights)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
