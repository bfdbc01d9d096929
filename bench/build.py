"""Benchmark: `build_issue` over 5,000 candidate articles in the store.

    python bench/build.py ../shared/datasets/bbc-news-summary/dev/articles [--count 5000]

Stores COUNT articles from DATASET (recycled with unique URLs, sites and dates, every one inside
the 7-day window, one in ten a lightly edited re-run of another), then times two builds: the first
classifies every candidate (scores are then cached with the article) and summarises the selected
stories (summaries are then cached in the store), the second finds both cached. Target (issues 4
and 22): ≤ 10 s on 2 cores.

With `--sent N`, N older copies of the dataset's articles are recorded as sent (issues of 10
entries) and a third build runs against them: every candidate is then compared with the sent
stories (story identity, digest/identity.py); its time is printed against the second build's.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.build import build_issue
from digest.models import Article, IssueEntry
from digest.project import Project, init_project
from digest.sources import read_source

TARGET_SECONDS = 10.0
SITES = [f"news{n}.example.org" for n in range(40)]


def populate(project_root: Path, originals: list[Article], count: int, as_of: datetime) -> None:
    rng = random.Random(7)
    project = init_project(project_root)
    store = project.store
    for n in range(count):
        source = originals[n % len(originals)]
        body = source.body
        if n >= len(originals) or rng.random() < 0.1:
            # recycled or re-run: change a sentence so it is a near-duplicate, not the same body
            body = f"{body}\n\nUpdated {n}: the story continues."
        store.add_article(
            Article(
                title=source.title,
                body=body,
                source_url=f"https://{rng.choice(SITES)}/story/{n}",
                published=as_of - timedelta(seconds=rng.randrange(1, 7 * 86400)),
                authors=["Staff"],
                origin=f"bench-{n}",
            )
        )
    project.close()


def record_sent(project: Project, originals: list[Article], count: int, as_of: datetime) -> None:
    """`count` older copies of the dataset's articles, recorded as sent in issues of 10."""
    store = project.store
    ids = []
    for n in range(count):
        source = originals[(n * 7) % len(originals)]
        article_id, _ = store.add_article(
            Article(
                title=source.title,
                body=f"{source.body}\n\nArchive copy {n}.",
                source_url=f"https://archive.example.org/{n}",
                published=as_of - timedelta(days=30 + n // 10),
            )
        )
        ids.append(article_id)
    for start in range(0, count, 10):
        entries = [
            IssueEntry(article_id, "sent", None, "", None, [], [], 0.9)
            for article_id in ids[start : start + 10]
        ]
        issue = store.create_issue(
            key=f"sent-{start}", subject="sent", entries=entries, html="", text=""
        )
        store.set_issue_status(issue.id, "sent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="folder of articles (e.g. BBC dev articles)")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--sent", type=int, default=0, help="older articles recorded as sent")
    args = parser.parse_args()
    originals = [a for a in read_source(str(args.dataset)) if isinstance(a, Article)]
    if not originals:
        sys.exit(f"{args.dataset}: no readable articles")
    as_of = datetime(2026, 11, 27, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        started = time.perf_counter()
        populate(root, originals, args.count, as_of)
        print(f"stored {args.count} candidates in {time.perf_counter() - started:.1f} s")
        from digest.project import open_project

        rows = []
        labels = ("first build (classifies, summarises)", "second build (all cached)")
        for label in labels:
            project = open_project(root)
            summaries = project.store.count_summaries()
            started, cpu = time.perf_counter(), time.process_time()
            report = build_issue(project, as_of=as_of, limit=args.limit)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert report.issue is not None
            summarised = project.store.count_summaries() - summaries
            entries = len(report.issue.entries)
            rows.append((label, report.candidates, entries, summarised, seconds, cpu))
            project.close()
        if args.sent:
            project = open_project(root)
            record_sent(project, originals, args.sent, as_of)
            summaries = project.store.count_summaries()
            started, cpu = time.perf_counter(), time.process_time()
            report = build_issue(project, as_of=as_of, limit=args.limit)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            label = f"third build ({args.sent} sent articles to compare)"
            summarised = project.store.count_summaries() - summaries
            rows.append((label, report.candidates, report.stories, summarised, seconds, cpu))
            project.close()
            print(f"sent-story comparison: {seconds / rows[1][4]:.2f}× the second build's time")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(
        "| build | candidates | stories | summarised | seconds | CPU seconds | target"
        " | time / target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, candidates, stories, summarised, seconds, cpu in rows:
        print(
            f"| {label} | {candidates} | {stories} | {summarised} | {seconds:.2f} | {cpu:.2f} "
            f"| {TARGET_SECONDS:.0f} s | {seconds / TARGET_SECONDS:.2f} |"
        )
    print(f"\npeak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
