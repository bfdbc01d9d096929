"""Summary quality on modern news (the standard) and BBC politics (a guard): ours, Lead-3, sumy's.

    python bench/summaries.py [--modern PAIRS_JSONL] [--bbc BBC_DIR] [--words W] [--limit N]

The modern table comes first: modern news is what the product summarises. `digest` is the
default (ranker + learned lede prior), `central` the BBC-tuned option.

BBC_DIR holds `articles/<category>/NNN.txt` (first line the title) and
`summaries/<category>/NNN.txt` (reference: article sentences run together); the politics articles
are measured. PAIRS_JSONL has one JSON object a line with `article` and `reference`
(human-written highlights), e.g. CNN / Daily Mail. Neither is shipped: pass their paths. Columns:
- P@3 (BBC only): share of the chosen sentences found verbatim in the reference;
- R2@75 (BBC only): ROUGE-2 recall of the summary cut to 75 words (`digest.summarize.metrics`);
- R1, R2, RL: ROUGE-1, ROUGE-2 and ROUGE-Lsum F1 x 100 (the `rouge-score` package, Porter stemming,
  one sentence a line), the summary as shown in the newsletter;
- words: mean summary length;
- dangling: share of summaries that open with a sentence needing an antecedent (a pronoun or
  connective subject, or a quotation attributed only to a pronoun), by
  `digest.summarize.readability.needs_antecedent`;
- quotes: share of summaries with a sentence holding part of a quotation that begins or ends in
  another sentence (`readability.unbalanced`);
- dateline: share of summaries with a sentence that opens with a wire dateline ("WASHINGTON --",
  `datelines.dateline_end`);
- ms: the whole `summarize()` call per article, sentence splitting included.
Every algorithm goes through the same pipeline (splitting, boilerplate filter, readability
constraints, K sentences within the word budget); Lead-3 is the first three sentences with no
budget. Each is warmed up on one article before its timing starts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from digest.summarize import ALGORITHMS, get_summarizer
from digest.summarize.base import Summarizer
from digest.summarize.datelines import dateline_end
from digest.summarize.metrics import rouge2_recall, sentence_precision
from digest.summarize.readability import needs_antecedent, unbalanced

SENTENCES = 3
FOLDS = 5
Item = tuple[str, str, str]  # title, body, reference


def load_bbc(dataset: Path, limit: int | None) -> list[Item]:
    items = []
    for path in sorted((dataset / "articles" / "politics").glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8")
            reference = (dataset / "summaries" / "politics" / path.name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"{path}: skipped ({error.__class__.__name__})", file=sys.stderr)
            continue
        title, _, body = text.partition("\n")
        items.append((title.strip(), body, reference))
    return items[:limit] if limit else items


def load_pairs(path: Path, limit: int | None) -> list[Item]:
    items = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            items.append((record.get("title") or "", record["article"], record["reference"]))
    return items[:limit] if limit else items


def _scorer():  # type: ignore[no-untyped-def]
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        sys.exit("bench/summaries.py needs rouge-score: pip install -e '.[bench]'")
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


def evaluate(
    summarizer: Summarizer, items: Sequence[Item], words: int | None, bbc: bool
) -> list[dict[str, float]]:
    """One row of measures per article."""
    scorer = _scorer()
    rows = []
    for title, body, reference in items:
        budget = None if summarizer.name == "lead" else words
        started = time.perf_counter()
        chosen = summarizer.summarize(body, sentences=SENTENCES, words=budget, title=title)
        row = {"ms": 1000 * (time.perf_counter() - started)}
        if bbc:
            row["p3"] = sentence_precision(chosen, reference)
            row["r2_75"] = rouge2_recall(" ".join(chosen), reference)
        scores = scorer.score(reference.replace(". ", ".\n"), "\n".join(chosen))
        row["r1"] = 100 * scores["rouge1"].fmeasure
        row["r2"] = 100 * scores["rouge2"].fmeasure
        row["rl"] = 100 * scores["rougeLsum"].fmeasure
        row["words"] = sum(len(s.split()) for s in chosen)
        row["dangling"] = 100 * bool(chosen and needs_antecedent(chosen[0]))
        row["quotes"] = 100 * any(unbalanced(s) for s in chosen)
        row["dateline"] = 100 * any(dateline_end(s) for s in chosen)
        rows.append(row)
    return rows


def mean(rows: Sequence[dict[str, float]], key: str) -> float:
    return sum(row[key] for row in rows) / len(rows)


def table(title: str, items: Sequence[Item], words: int | None, bbc: bool) -> None:
    labels = {"digest": "digest (default)", "central": "central (BBC-tuned)", "lead": "Lead-3"}
    summarizers = [get_summarizer(name) for name in ALGORITHMS]
    for summarizer in summarizers:  # warm caches (weights, stop words, numpy) outside the timing
        summarizer.summarize(items[0][1], title=items[0][0])
    print(
        f"{title}: {len(items)} articles, {SENTENCES} sentences, "
        f"{f'{words} words' if words else 'no word budget'} (Lead-3: none)\n"
    )
    head = "| algorithm              |"
    head += "  P@3 | R2@75 |" if bbc else ""
    print(head + "    R1 |    R2 |    RL | words | dangling | quotes | dateline |   ms |")
    print(
        "|"
        + "-" * 24
        + "|"
        + ("------|-------|" if bbc else "")
        + "-------|" * 3
        + "-------|----------|--------|----------|------|"
    )
    results = {}
    for summarizer in summarizers:
        rows = results[summarizer.name] = evaluate(summarizer, items, words, bbc)
        m = {key: mean(rows, key) for key in rows[0]}
        row = f"| {labels.get(summarizer.name, f'sumy {summarizer.name}'):<22} |"
        if bbc:
            row += f" {m['p3']:.3f} | {m['r2_75']:.3f} |"
        row += (
            f" {m['r1']:5.1f} | {m['r2']:5.1f} | {m['rl']:5.1f} | {m['words']:5.1f} |"
            f" {m['dangling']:7.1f}% | {m['quotes']:5.1f}% | {m['dateline']:7.1f}% |"
            f" {m['ms']:4.1f} |"
        )
        print(row, flush=True)
    # the spread, fold by fold (interleaved folds of the articles): digest against the best sumy
    # algorithm and against Lead-3, measure by measure
    keys = ("p3", "r2_75", "r1", "r2", "rl") if bbc else ("r1", "r2", "rl")
    sumy = [name for name in results if name not in ("digest", "central", "lead")]
    comparisons = [("the best sumy algorithm", sumy), ("Lead-3", ["lead"])]
    if bbc:  # the guard's bar: ahead of every sumy algorithm except Reduction
        but_reduction = [name for name in sumy if name != "reduction"]
        comparisons.insert(1, ("the best sumy algorithm but Reduction", but_reduction))
    for label, others in comparisons:
        print(f"\ndigest minus {label}, in each of {FOLDS} folds of articles:")
        for key in keys:
            gaps = []
            for fold in range(FOLDS):
                ours = mean(results["digest"][fold::FOLDS], key)
                gaps.append(ours - max(mean(results[n][fold::FOLDS], key) for n in others))
            print(f"  {key:6} " + " ".join(f"{gap:+.3f}" for gap in gaps))
    print()


def huge_article(items: Sequence[Item], megabytes: float = 5.0) -> None:
    """One article of `megabytes` (the dataset's bodies run together): the time every algorithm
    takes on it, against the issue's 5 s budget."""
    body = "\n\n".join(body for _, body, _ in items)
    body = (body + "\n\n") * math.ceil(megabytes * 1_000_000 / (len(body) + 2))
    print(f"One {len(body) / 1e6:.1f} MB article (budget 5 s each):\n")
    print("| algorithm | seconds | seconds / budget |")
    print("|---|---|---|")
    for name in ("digest", "lexrank", "lead"):
        started = time.perf_counter()
        get_summarizer(name).summarize(body, sentences=SENTENCES, words=90)
        elapsed = time.perf_counter() - started
        print(f"| {name} | {elapsed:.2f} | {elapsed / 5:.2f} |")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bbc", type=Path, help="BBC News Summary folder (articles/, summaries/)")
    parser.add_argument("--modern", type=Path, help="JSON lines of article + reference")
    parser.add_argument("--words", type=int, default=90, help="word budget (0: none; default 90)")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.bbc and not args.modern:
        parser.error("give --bbc DIR and/or --modern FILE")
    words = args.words or None
    if args.modern:
        if not args.modern.is_file():
            print(f"{args.modern}: not a file", file=sys.stderr)
            return 2
        table(
            "Modern news with human highlights", load_pairs(args.modern, args.limit), words, False
        )
    if args.bbc:
        items = load_bbc(args.bbc, args.limit)
        if not items:
            print(f"{args.bbc}: no readable articles/politics", file=sys.stderr)
            return 2
        table("BBC News Summary, politics (guard)", items, words, bbc=True)
        huge_article(items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
