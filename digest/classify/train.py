"""Train the political classifier and write its parameters (`params.json` beside this file).

    python -m digest.classify.train DATASET_DIR... [--folds 5] [--repeats 2] [--out PATH]

Each DATASET_DIR is a folder of topic sub-folders of text files whose first line is the title:
the BBC News Summary layout (`politics/`, `business/`, ...; `articles/` beside `summaries/` is
accepted), or the modern-news layout (`political/` and `other/` with a `manifest.csv` whose
`category` column names each file's topic). Politics is the positive class; every other topic is
its own negative class. Exact duplicates are removed first, across all the data sets, so a copy
can't sit on both sides of a fold.

The model: multi-class Complement Naive Bayes (Rennie et al., 2003) over damped term counts
(body unigrams and bigrams, title words), so business, sport, entertainment, science and
disasters each have their own profile and politics is weighed against the closest of them; then
a four-number logistic calibration of the political margin against the text's length (margin per
sqrt-token and per token, log length, bias), fitted on out-of-fold margins, so the score is a
probability and one threshold serves the label and the selection.

Cross-validation is stratified by data set and label; each fold fits its calibration on an inner
3-fold split of its own training part. It prints, per data set and pooled over the modern ones,
precision, recall, F1 and ROC AUC as the mean of the folds with their min-max spread, the
expected calibration error, and recall on synthetic long modern articles (15 held-out short
items of one label joined into one text: the modern sets have no full-length bodies).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from digest.classify import POLITICAL_THRESHOLD, calibrated, calibration_features, evidence
from digest.classify.features import term_weights
from digest.classify.parameters import PARAMS_PATH, save
from digest.wording import plural

POSITIVE = "politics"

# The data sets' own section names, folded into shared topics so that "business" learned from
# the BBC and from HuffPost is one profile. Unlisted categories of non-political items are
# "lifestyle" (style, food, parenting, weird news...).
TOPICS = {
    "politics": POSITIVE,
    "political": POSITIVE,
    "Politics and elections": POSITIVE,
    "International relations": POSITIVE,
    "business": "business",
    "BUSINESS": "business",
    "MONEY": "business",
    "entertainment": "entertainment",
    "ENTERTAINMENT": "entertainment",
    "CULTURE & ARTS": "entertainment",
    "Arts and culture": "entertainment",
    "sport": "sport",
    "SPORTS": "sport",
    "Sports": "sport",
    "tech": "science-tech",
    "TECH": "science-tech",
    "SCIENCE": "science-tech",
    "Science and technology": "science-tech",
    "Disasters and accidents": "disasters",
    # crime and private lawsuits: court stories that are not public law (policy-news negatives)
    "crime": "crime",
}
# Data sets whose typical item is this short hold teasers, not articles (for the long-text check).
SHORT_ITEM_TOKENS = 80


@dataclass
class Example:
    title: str
    body: str
    topic: str
    source: str
    path: str
    # the parameters are derived from the texts, so params.json records their licences
    licence: str = ""
    kind: str = ""  # a manifest's `kind`: the story type it stands for, reported on its own in CV
    # a manifest's `weight`: how many texts this one counts as, in the topic profiles and the
    # calibration (a small hand-written set must be heard against thousands of others)
    weight: float = 1.0
    terms: dict[str, float] = field(default_factory=dict, repr=False)
    tokens: int = 0

    @property
    def political(self) -> bool:
        return is_political_topic(self.topic)


def is_political_topic(topic: str) -> bool:
    return topic.split("/")[0] == POSITIVE


@dataclass(frozen=True)
class Settings:
    alpha: float = 0.3  # Naive Bayes smoothing
    min_df: int = 1  # keep terms seen in at least this many texts
    clip: float = 1.0  # bound on one term's centred weight (log-odds units)


@dataclass
class Model:
    classes: list[str]
    weights: dict[str, list[float]]
    calibration: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    def margin(self, terms: dict[str, float]) -> float:
        totals = [0.0] * len(self.classes)
        for term, x in terms.items():
            for i, w in enumerate(self.weights.get(term, ())):
                totals[i] += x * w
        political = [is_political_topic(c) for c in self.classes]
        return evidence(terms, 0, totals, political).margin

    def score(self, terms: dict[str, float], tokens: int) -> float:
        return calibrated(self.calibration, self.margin(terms), tokens)


def _source_name(dataset_dir: Path) -> str:
    for part in (dataset_dir, *dataset_dir.parents):
        if part.name not in {"articles", "dev", "train", ""}:
            return part.name
    return "data"


def load(dataset_dirs: Sequence[Path]) -> tuple[list[Example], int]:
    """Every article under each DATASET_DIR/<topic>/, exact duplicates dropped (count returned)."""
    seen: set[str] = set()
    examples: list[Example] = []
    duplicates = 0
    for dataset_dir in dataset_dirs:
        if (dataset_dir / "articles").is_dir():
            dataset_dir = dataset_dir / "articles"
        categories: dict[str, str] = {}
        sources: dict[str, str] = {}
        licences: dict[str, str] = {}
        kinds: dict[str, str] = {}
        weights: dict[str, float] = {}
        manifest = dataset_dir / "manifest.csv"
        if manifest.is_file():
            with manifest.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    categories[row["file"]] = row.get("category", "")
                    sources[row["file"]] = row.get("source_dataset", "")
                    licences[row["file"]] = row.get("licence", "")
                    kinds[row["file"]] = row.get("kind") or ""
                    weights[row["file"]] = float(row.get("weight") or 1.0)
        for path in sorted(dataset_dir.glob("*/*.txt")):
            text = path.read_bytes().decode("utf-8", errors="replace")
            key = " ".join(text.split())
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            folder = path.parent.name
            key = f"{folder}/{path.name}"
            category = categories.get(key, folder)
            source = sources.get(key) or _source_name(dataset_dir)
            topic = TOPICS.get(category, "lifestyle")
            if (folder == "political") != (topic == POSITIVE) and folder in {"political", "other"}:
                topic = POSITIVE if folder == "political" else "lifestyle"
            if topic == POSITIVE:
                # One political profile per data set: 2005 UK parliamentary reports, US
                # partisan teasers and world-event summaries share too little vocabulary to be
                # one class; an article is political when its closest profile is political.
                topic = f"{POSITIVE}/{source}"
            title, _, body = text.strip().partition("\n")
            example = Example(title.strip(), body.strip(), topic, source, str(path))
            example.licence = licences.get(key) or "see docs/data.md"
            example.kind = kinds.get(key, "")
            example.weight = weights.get(key, 1.0)
            example.terms, example.tokens = term_weights(example.title, example.body)
            examples.append(example)
    return examples, duplicates


def fit_naive_bayes(
    examples: Sequence[Example], classes: list[str], settings: Settings
) -> dict[str, list[float]]:
    """Complement NB weights: w[c][t] = -log P(t | not c), smoothed by alpha.

    A document's evidence for class c is sum_t x_t * w[c][t]; estimating each class from its
    complement keeps the small classes' profiles as sharp as the large ones'. Only differences
    between topics count, so each term's weights are centred, then clipped to +-clip: no single
    term, however often it is seen in one topic ("senate", "party"), can outweigh the rest of a
    text on its own.
    """
    index = {c: i for i, c in enumerate(classes)}
    per_class: list[defaultdict[str, float]] = [defaultdict(float) for _ in classes]
    df: Counter[str] = Counter()
    for ex in examples:
        counts = per_class[index[ex.topic]]
        for term, x in ex.terms.items():
            counts[term] += x * ex.weight
        df.update(ex.terms.keys())
    vocabulary = [t for t, n in df.items() if n >= settings.min_df]
    total = {t: sum(counts.get(t, 0.0) for counts in per_class) for t in vocabulary}
    weights: dict[str, list[float]] = {t: [0.0] * len(classes) for t in vocabulary}
    for i, counts in enumerate(per_class):
        complement = {t: total[t] - counts.get(t, 0.0) + settings.alpha for t in vocabulary}
        log_norm = math.log(sum(complement.values()))
        for t in vocabulary:
            weights[t][i] = log_norm - math.log(complement[t])
    for t, ws in weights.items():
        mean = sum(ws) / len(ws)
        weights[t] = [max(-settings.clip, min(settings.clip, w - mean)) for w in ws]
    return weights


def fit_calibration(
    rows: Sequence[tuple[float, int, bool, float]], ridge: float = 1e-6
) -> tuple[float, ...]:
    """Weighted logistic regression of the label on (margin/sqrt(n), margin/n, ln n, 1), by
    Newton; each row is (margin, tokens, label, weight)."""
    xs = [list(calibration_features(m, n)) for m, n, _, _ in rows]
    ys = [1.0 if y else 0.0 for _, _, y, _ in rows]
    ws = [w for _, _, _, w in rows]
    beta = [0.0, 0.0, 0.0, 0.0]
    for _ in range(50):
        grad = [ridge * b for b in beta]
        hess = [[ridge if i == j else 0.0 for j in range(4)] for i in range(4)]
        for x, y, w in zip(xs, ys, ws, strict=True):
            z = sum(b * v for b, v in zip(beta, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))
            for i in range(4):
                grad[i] += w * (p - y) * x[i]
                for j in range(4):
                    hess[i][j] += w * p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return tuple(beta)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the small calibration system."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-300:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))
        out[r] = s / m[r][r] if abs(m[r][r]) >= 1e-300 else 0.0
    return out


def stratified_folds(strata: Sequence[str], k: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(strata):
        by_stratum[s].append(i)
    offset = 0
    for key in sorted(by_stratum):
        idx = by_stratum[key]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(i)
        offset += len(idx)
    return folds


def _strata(examples: Sequence[Example]) -> list[str]:
    # a kind is stratified on its own, so each fold holds both labels of every kind
    return [f"{ex.source}/{ex.kind}/{ex.political}" for ex in examples]


def train(examples: Sequence[Example], settings: Settings, inner_folds: int = 3) -> Model:
    """NB on all of `examples`, calibrated on margins from an inner k-fold split of them."""
    classes = sorted({ex.topic for ex in examples})
    rows: list[tuple[float, int, bool, float]] = []
    for held in stratified_folds(_strata(examples), inner_folds, seed=17):
        held_set = set(held)
        part = [ex for i, ex in enumerate(examples) if i not in held_set]
        inner = Model(classes, fit_naive_bayes(part, classes, settings))
        rows += [
            (inner.margin(ex.terms), ex.tokens, ex.political, ex.weight)
            for ex in (examples[i] for i in held)
        ]
    model = Model(classes, fit_naive_bayes(examples, classes, settings))
    a, b, c, d = fit_calibration(rows)
    model.calibration = (a, b, c, d)
    return model


def roc_auc(truth: Sequence[bool], scores: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    ranked = sorted(zip(scores, truth, strict=True))
    rank_sum, n_pos, i = 0.0, 0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2
        positives = sum(1 for _, t in ranked[i:j] if t)
        rank_sum += mid_rank * positives
        n_pos += positives
        i = j
    n_neg = len(ranked) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def metrics(truth: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, float]:
    predicted = [s >= threshold for s in scores]
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    fp = sum(p and not t for t, p in zip(truth, predicted, strict=True))
    fn = sum(t and not p for t, p in zip(truth, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "auc": roc_auc(truth, scores)}


def calibration_error(truth: Sequence[bool], scores: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error: |mean score - share political| per score decile, weighted."""
    groups: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for s, t in zip(scores, truth, strict=True):
        groups[min(int(s * bins), bins - 1)].append((s, t))
    return sum(
        len(g) * abs(statistics.fmean(s for s, _ in g) - statistics.fmean(t for _, t in g))
        for g in groups.values()
    ) / max(1, len(truth))


def synthetic_long(
    examples: Sequence[Example], indices: Sequence[int], rng: random.Random, n: int, k: int = 15
) -> list[tuple[dict[str, float], int, bool]]:
    """`n` texts per label, each k held-out short items of that label joined."""
    out = []
    for label in (True, False):
        pool = [i for i in indices if examples[i].political is label]
        if len(pool) < k:
            continue
        for _ in range(n):
            picked = rng.sample(pool, k)
            body = " ".join(f"{examples[i].title}. {examples[i].body}" for i in picked)
            terms, tokens = term_weights(examples[picked[0]].title, body)
            out.append((terms, tokens, label))
    return out


def cross_validate(
    examples: Sequence[Example], settings: Settings, *, folds: int, repeats: int
) -> tuple[dict[str, dict[str, list[float]]], list[str]]:
    """Per-fold metrics per group (each data set, "modern" = the short-item sets pooled,
    "synthetic long modern"), and the paths misclassified in the first repeat."""
    kinded = {ex.source for ex in examples if ex.kind}  # a mix of lengths, reported per kind
    short_sources = {
        s
        for s in {ex.source for ex in examples} - kinded
        if statistics.median(ex.tokens for ex in examples if ex.source == s) < SHORT_ITEM_TOKENS
    }
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    wrong: list[str] = []
    for repeat in range(repeats):
        rng = random.Random(repeat)
        for held in stratified_folds(_strata(examples), folds, seed=repeat):
            held_set = set(held)
            model = train([ex for i, ex in enumerate(examples) if i not in held_set], settings)
            scores = {i: model.score(examples[i].terms, examples[i].tokens) for i in held}
            groups: dict[str, list[int]] = defaultdict(list)
            for i in held:
                groups[examples[i].source].append(i)
                if examples[i].kind:
                    groups[f"{examples[i].source}: {examples[i].kind}"].append(i)
                if examples[i].source in short_sources:
                    groups["modern (short sets pooled)"].append(i)
                groups["all"].append(i)
            for name, idx in groups.items():
                truth = [examples[i].political for i in idx]
                m = metrics(truth, [scores[i] for i in idx], POLITICAL_THRESHOLD)
                m["ece"] = calibration_error(truth, [scores[i] for i in idx])
                for key, value in m.items():
                    results[name][key].append(value)
            long_held = [i for i in held if examples[i].source in short_sources]
            synthetic = synthetic_long(examples, long_held, rng, n=50)
            if synthetic:
                truth = [label for _, _, label in synthetic]
                m = metrics(
                    truth, [model.score(t, n) for t, n, _ in synthetic], POLITICAL_THRESHOLD
                )
                for key, value in m.items():
                    results["synthetic long modern (15 items joined)"][key].append(value)
            if repeat == 0:
                wrong += [
                    examples[i].path
                    for i in held
                    if (scores[i] >= POLITICAL_THRESHOLD) != examples[i].political
                ]
    return results, wrong


def _defined(values: list[float]) -> list[float]:
    """The folds where the measure exists (ROC AUC needs both labels in the fold)."""
    return [v for v in values if not math.isnan(v)]


def _spread(values: list[float]) -> str:
    values = _defined(values)
    if not values:
        return "-"
    return f"{statistics.fmean(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digest.classify.train", description=__doc__)
    parser.add_argument("dataset_dirs", type=Path, nargs="+", metavar="DATASET_DIR")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=Settings.alpha, help="NB smoothing")
    parser.add_argument("--min-df", type=int, default=Settings.min_df, help="keep terms in N texts")
    parser.add_argument("--clip", type=float, default=Settings.clip, help="bound one term's weight")
    parser.add_argument("--out", type=Path, default=PARAMS_PATH)
    parser.add_argument("--no-write", action="store_true", help="only cross-validate")
    parser.add_argument("--show-errors", action="store_true", help="list misclassified files")
    args = parser.parse_args(argv)

    for d in args.dataset_dirs:
        if not d.is_dir():
            print(f"error: {d}: not a folder", file=sys.stderr)
            return 2
    examples, duplicates = load(args.dataset_dirs)
    n_pos = sum(ex.political for ex in examples)
    if not n_pos or n_pos == len(examples):
        print("error: the data needs political and other articles", file=sys.stderr)
        return 2
    sources = Counter(ex.source for ex in examples)
    print(
        f"{plural(len(examples), 'unique text')} ({n_pos} political), "
        f"{plural(duplicates, 'duplicate')} dropped; "
        + ", ".join(f"{s} {n}" for s, n in sorted(sources.items()))
    )
    settings = Settings(alpha=args.alpha, min_df=args.min_df, clip=args.clip)
    started = time.perf_counter()
    cv_summary: dict[str, dict[str, float]] = {}
    if args.folds >= 2:
        results, wrong = cross_validate(examples, settings, folds=args.folds, repeats=args.repeats)
        print(
            f"{args.repeats}x stratified {args.folds}-fold CV at the shipped threshold "
            f"{POLITICAL_THRESHOLD} (mean of folds [min-max]; "
            f"{time.perf_counter() - started:.0f} s):"
        )
        print(f"  {'group':40} {'precision':>19} {'recall':>19} {'F1':>19} {'ROC AUC':>19}")
        for name, m in sorted(results.items()):
            cols = " ".join(f"{_spread(m[k]):>19}" for k in ("precision", "recall", "f1", "auc"))
            print(f"  {name:40} {cols}")
        print(
            "  expected calibration error: "
            + ", ".join(
                f"{name} {statistics.fmean(m['ece']):.3f}"
                for name, m in sorted(results.items())
                if "ece" in m
            )
        )
        print(f"  settings: {settings}")
        cv_summary = {
            name: {k: round(statistics.fmean(_defined(v)), 4) for k, v in m.items() if _defined(v)}
            for name, m in sorted(results.items())
        }
        if args.show_errors:
            for path in wrong:
                print(f"  misclassified: {path}")
    if args.no_write:
        return 0

    model = train(examples, settings)
    metadata = {
        "model": "complement naive bayes over topics, length-calibrated political margin",
        "threshold": POLITICAL_THRESHOLD,
        "political": [c for c in model.classes if is_political_topic(c)],
        "calibration": [round(c, 6) for c in model.calibration],
        "trained_on": {
            "texts": len(examples),
            "political": n_pos,
            "sources": dict(sorted(sources.items())),
            "settings": asdict(settings),
            "licences": {ex.source: ex.licence for ex in examples},
            "attribution": "docs/data.md",
        },
        "cv": cv_summary,
    }
    blob = save(args.out, metadata, model.classes, model.weights)
    print(
        f"wrote {args.out} and {blob} "
        f"({blob.stat().st_size // 1024} KB, {len(model.weights)} terms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
