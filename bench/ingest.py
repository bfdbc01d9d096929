"""Benchmark: ingest N scraped-format files into a fresh store.

    python bench/ingest.py ../shared/datasets/bbc-news-summary/dev/articles [--count 10000]

The articles of DATASET (any format `digest parse` reads, searched recursively) are re-wrapped in
the scraper's format — chrome, headline, body, footer — with a unique URL, date and closing line
each; one file in ten repeats an earlier body under another URL, so the dedupe path is exercised
too. Prints the generation and ingest times, the counts and peak memory. Target: 10,000 files in
≤ 20 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.ingest import ingest
from digest.models import Article
from digest.project import init_project
from digest.sources import read_source

TEMPLATE = """\u00d7 UK PoliticsWorld PoliticsVideosPrivacy PolicyTerms And Conditions
Subscribe To Our Newsletter

{headline}



{body}

By: {author}
Title: {title}
Sourced From: www.example-news.co.uk/politics/{slug}-{number}
Published Date: {published}

Read More


Did you miss our previous article...
https://badpoliticians.com/uk-politics/previous-{number}
"""
AUTHORS = ["Alice Hart", "Daniel Okafor and Sophie Lang", "Mark Bevan", "Ruth Ellison, Tom Avery"]


def load_dataset(dataset: Path, limit: int) -> list[Article]:
    articles = [a for a in read_source(str(dataset)) if isinstance(a, Article)]
    if not articles:
        sys.exit(f"{dataset}: no readable articles")
    return articles[:limit]


def generate(originals: list[Article], folder: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    bodies: list[str] = []
    for number in range(count):
        original = rng.choice(originals)
        if bodies and rng.random() < 0.1:
            body = rng.choice(bodies)  # the same story again, from another address
        else:
            body = f"{original.body}\n\nThis is report number {number} in the series."
            bodies.append(body)
        published = start + timedelta(minutes=rng.randrange(7 * 24 * 60))
        text = TEMPLATE.format(
            headline=original.title.upper(),
            body=body,
            author=rng.choice(AUTHORS),
            title=original.title,
            slug="-".join(original.title.lower().split())[:40],
            number=number,
            published=published.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        )
        sub = folder / f"{number // 1000:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{number:05d}.txt").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="folder (or file) of articles to wrap")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        folder = Path(tmp) / "scraped"
        folder.mkdir()
        began = time.perf_counter()
        generate(load_dataset(args.dataset, 2000), folder, args.count, args.seed)
        generated = time.perf_counter() - began

        project = init_project(Path(tmp) / "project")
        if args.tracemalloc:
            tracemalloc.start()
        began = time.perf_counter()
        report = ingest(project.store, [str(folder)])
        elapsed = time.perf_counter() - began
        traced = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        stored = project.store.count_articles()
        project.close()

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"files:        {args.count} (generated in {generated:.1f} s)")
    print(f"ingest:       {elapsed:.2f} s  ({args.count / elapsed:.0f} files/s)")
    # the baseline: 10,000 files in 20 s on a 2-core machine
    target = 20.0 * args.count / 10_000
    print(f"target:       {target:.1f} s  (time / target = {elapsed / target:.2f})")
    print(f"added:        {report.added}, already known {report.known}, failed {report.failed}")
    print(f"stored:       {stored} articles")
    print(f"peak RSS:     {rss_kib / 1024:.0f} MiB")
    if traced is not None:
        print(f"peak traced:  {traced / 2**20:.1f} MiB (tracemalloc)")
    for failure in report.failures[:5]:
        print(f"failed: {failure}", file=sys.stderr)


if __name__ == "__main__":
    main()
