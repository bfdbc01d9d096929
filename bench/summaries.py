"""Summary quality against BBC News Summary references: the project's ranker vs sumy's.

    python bench/summaries.py DATASET_DIR [--category politics] [--limit N] [--words W]

DATASET_DIR holds `articles/<category>/NNN.txt` (first line the title) and
`summaries/<category>/NNN.txt` (reference: article sentences run together). Columns:
- precision@3: share of the chosen sentences found verbatim in the reference;
- ROUGE-2 (75 w): bigram recall of the reference by the summary (document order) cut to 75 words,
  lowercased \\w+ tokens, counts clipped (both from `digest.summarize.metrics`, which training's
  cross-validation uses too);
- ms/article: the whole `summarize()` call, sentence splitting included.
Every algorithm goes through the same pipeline (splitting, boilerplate filter, 3 sentences); each
is warmed up on one article before its timing starts. By default there is no word budget, as in the
issue's measure; `--words 90` applies the newsletter's.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from digest.summarize import ALGORITHMS, get_summarizer
from digest.summarize.base import Summarizer
from digest.summarize.metrics import ROUGE_WORDS, rouge2_recall, sentence_precision
from digest.summarize.sentences import Span

SENTENCES = 3


class RandomSummarizer(Summarizer):
    """Random sentences, seeded per article so runs are repeatable."""

    name = "random"

    def score(self, spans: Sequence[Span], title: str | None) -> list[float]:
        rng = random.Random("".join(span.text for span in spans[:2]))
        return [rng.random() for _ in spans]


def load(dataset: Path, category: str, limit: int | None) -> list[tuple[str, str, str]]:
    items = []
    for path in sorted((dataset / "articles" / category).glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8")
            reference = (dataset / "summaries" / category / path.name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"{path}: skipped ({error.__class__.__name__})", file=sys.stderr)
            continue
        title, _, body = text.partition("\n")
        items.append((title.strip(), body, reference))
        if limit and len(items) >= limit:
            break
    return items


def evaluate(
    summarizer: Summarizer, items: Sequence[tuple[str, str, str]], words: int | None
) -> tuple[float, float, float]:
    precision = rouge = elapsed = 0.0
    for title, body, reference in items:
        started = time.perf_counter()
        chosen = summarizer.summarize(body, sentences=SENTENCES, words=words, title=title)
        elapsed += time.perf_counter() - started
        precision += sentence_precision(chosen, reference)
        rouge += rouge2_recall(" ".join(chosen), reference)
    count = len(items)
    return precision / count, rouge / count, 1000 * elapsed / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--category", default="politics")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--words", type=int, default=None, help="word budget (default: none)")
    args = parser.parse_args(argv)
    if not (args.dataset / "articles" / args.category).is_dir():
        print(f"{args.dataset}: no articles/{args.category} folder", file=sys.stderr)
        return 2
    items = load(args.dataset, args.category, args.limit)
    if not items:
        print(f"{args.dataset}: no readable articles in {args.category}", file=sys.stderr)
        return 2
    budget = f"{args.words} words" if args.words else "no word budget"
    print(f"{len(items)} {args.category} articles, {SENTENCES} sentences, {budget}\n")
    labels = {"digest": "digest (this project)", "lead": "Lead-3", "random": "random"}
    summarizers = [get_summarizer(name) for name in ALGORITHMS] + [RandomSummarizer()]
    for summarizer in summarizers:  # warm caches (weights, stop words, numpy) outside the timing
        summarizer.summarize(items[0][1], title=items[0][0])
    print(f"| {'algorithm':<22} | precision@3 | ROUGE-2 ({ROUGE_WORDS} w) | ms/article |")
    print(f"|{'-' * 24}|-------------|----------------|------------|")
    for summarizer in summarizers:
        precision, rouge, ms = evaluate(summarizer, items, args.words)
        name = labels.get(summarizer.name, f"sumy {summarizer.name}")
        print(f"| {name:<22} | {precision:11.3f} | {rouge:14.3f} | {ms:10.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
