"""Benchmark: article bodies from HTML pages, `digest parse` against `trafilatura.extract`.

    python bench/extraction.py DATASET_DIR [--limit N]

DATASET_DIR is laid out as the article-extraction-benchmark is: `ground-truth.json` mapping each
page id to `{"articleBody": ..., "url": ...}`, and
`html/ID.html.gz` (or `html/ID.html`) holding the page as it was served. Every page is read by
digest's own reader (`parse_bytes`, what `digest parse` does with a page) and by
`trafilatura.extract` with its defaults, side by side. Printed per extractor: body precision,
recall and F1 over word 4-gram shingles (the benchmark's way of scoring), averaged over pages
(a page with no output scores 0); on how many pages a date and an author were found; and for
digest, the share of pages flagged `truncated` whose
ground-truth body ends a sentence (false cut-offs; target ≤ 3 %).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from digest.sources import ParseError, parse_bytes
from digest.sources.fields import ends_sentence

_WORD = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


@dataclass
class Extracted:
    body: str
    date: bool = False
    author: bool = False
    truncated: bool = False


@dataclass
class Score:
    name: str
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    dates: int = 0
    authors: int = 0
    failures: int = 0
    false_cuts: int = 0
    complete_pages: int = 0
    seconds: float = 0.0


def shingles(text: str) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < SHINGLE:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def body_scores(expected: str, found: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of `found` against `expected`, over word shingles."""
    truth, got = shingles(expected), shingles(found)
    if not truth and not got:
        return 1.0, 1.0, 1.0
    overlap = len(truth & got)
    precision = overlap / len(got) if got else 0.0
    recall = overlap / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def with_digest(data: bytes, url: str | None) -> Extracted:
    (article, *_) = parse_bytes(data, "page", hint=".html", url=url)
    return Extracted(
        body=f"{article.title}\n\n{article.body}",
        date=article.published is not None,
        author=bool(article.authors),
        truncated=article.truncated,
    )


def with_trafilatura(data: bytes, url: str | None) -> Extracted:
    import trafilatura

    text = trafilatura.extract(data, url=url, include_comments=False)
    if not text:
        raise ValueError("no text")
    metadata = trafilatura.extract_metadata(data, default_url=url)
    return Extracted(
        body=text,
        date=bool(metadata and metadata.date),
        author=bool(metadata and metadata.author),
    )


def load(dataset: Path, limit: int | None) -> list[tuple[str, dict[str, object], bytes]]:
    truth_file = dataset / "ground-truth.json"
    if not truth_file.is_file():
        sys.exit(f"{truth_file}: no such file (expected the article-extraction-benchmark layout)")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        gz, plain = dataset / "html" / f"{page_id}.html.gz", dataset / "html" / f"{page_id}.html"
        if gz.is_file():
            pages.append((page_id, truth[page_id], gzip.decompress(gz.read_bytes())))
        elif plain.is_file():
            pages.append((page_id, truth[page_id], plain.read_bytes()))
        else:
            print(f"{page_id}: no html/{page_id}.html.gz or .html, skipped", file=sys.stderr)
    return pages


def run(
    name: str,
    extract: Callable[[bytes, str | None], Extracted],
    pages: list[tuple[str, dict[str, object], bytes]],
) -> Score:
    score = Score(name)
    started = time.perf_counter()
    for _page_id, truth, data in pages:
        expected = str(truth.get("articleBody") or "")
        url = truth.get("url")
        try:
            found = extract(data, url if isinstance(url, str) else None)
        except (ParseError, ValueError):
            score.failures += 1
            found = Extracted(body="")
        precision, recall, f1 = body_scores(expected, found.body)
        score.precision.append(precision)
        score.recall.append(recall)
        score.f1.append(f1)
        score.dates += found.date
        score.authors += found.author
        if expected.strip() and ends_sentence(expected):
            score.complete_pages += 1
            score.false_cuts += found.truncated
    score.seconds = time.perf_counter() - started
    return score


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report(scores: list[Score], pages: int) -> None:
    print(f"{pages} pages")
    print(
        f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>7} {'dates':>7} "
        f"{'authors':>8} {'failed':>7} {'seconds':>8}"
    )
    for s in scores:
        print(
            f"{s.name:<12} {mean(s.precision):>9.3f} {mean(s.recall):>7.3f} {mean(s.f1):>7.3f} "
            f"{s.dates / max(pages, 1):>7.1%} {s.authors / max(pages, 1):>8.1%} "
            f"{s.failures:>7} {s.seconds:>8.1f}"
        )
    digest, trafilatura = scores
    print(f"F1 ratio digest / trafilatura: {mean(digest.f1) / max(mean(trafilatura.f1), 1e-9):.3f}")
    print(
        f"digest false truncated flags: {digest.false_cuts} of {digest.complete_pages} complete "
        f"pages ({digest.false_cuts / max(digest.complete_pages, 1):.1%}; target <= 3%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "dataset", type=Path, help="the benchmark's folder (ground-truth.json, html/)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()
    pages = load(args.dataset, args.limit)
    scores = [run("digest", with_digest, pages), run("trafilatura", with_trafilatura, pages)]
    report(scores, len(pages))


if __name__ == "__main__":
    main()
