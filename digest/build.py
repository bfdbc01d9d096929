"""store → select → summarise → render → store: build one issue and freeze it.

The library function behind `digest build` and `digest run`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.classify import political_score
from digest.errors import ConfigError, DigestError
from digest.ingest import IngestReport, ingest
from digest.models import Issue, IssueEntry
from digest.project import Project
from digest.render import fill_placeholders, generic_values, render_issue, web_version
from digest.select import parse_since, select_stories
from digest.store import now_utc
from digest.summarize import ALGORITHMS, summarize


@dataclass
class BuildReport:
    issue: Issue | None
    ingest: IngestReport
    candidates: int = 0
    stories: int = 0  # qualifying stories, also when too few to build an issue
    warnings: list[str] = field(default_factory=list)


def build_issue(
    project: Project,
    *,
    articles: list[str] | None = None,
    as_of: datetime | None = None,
    since: timedelta | None = None,
    limit: int | None = None,
    key: str | None = None,
    status: str = "built",
    min_stories: int = 1,
    exclude_sent: bool = False,
) -> BuildReport:
    """Build an issue from the articles published in (as_of - since, as_of].

    Returns a report whose `issue` is None when fewer than `min_stories` stories qualified:
    an empty digest is never built. With `exclude_sent`, articles that already went out in an
    issue are left out (a scheduled run must not mail last week's stories again)."""
    config, store = project.config, project.store
    if config.algorithm not in ALGORITHMS:  # checked before any work is done
        raise ConfigError(
            f"{config.path}: `summary.algorithm` must be one of {', '.join(ALGORITHMS)},"
            f" not {config.algorithm!r}"
        )
    as_of = (as_of or now_utc()).astimezone(UTC)
    since = since or parse_since(config.since)
    report = BuildReport(issue=None, ingest=IngestReport())
    if articles:
        report.ingest = ingest(
            store, articles, max_bytes=config.max_bytes, allow_private=config.allow_private
        )

    candidates = store.articles_published_between(as_of - since, as_of)
    report.candidates = len(candidates)
    # scores are cached with the article: a 5,000-article window scores only what is new
    scored: list[tuple[int, float]] = []
    for article in candidates:
        if article.political_score is None and article.id is not None:
            article.political_score = political_score(article.title, article.body)
            scored.append((article.id, article.political_score))
    store.set_political_scores(scored)

    stories = select_stories(
        candidates,
        as_of=as_of,
        since=since,
        limit=limit or config.limit,
        min_score=config.min_score,
        exclude=store.article_ids_in_issues() if exclude_sent else (),
    )
    report.stories = len(stories)
    if len(stories) < max(min_stories, 1):
        return report

    entries = []
    for story in stories:
        article = story.article
        assert article.id is not None
        entries.append(
            IssueEntry(
                article_id=article.id,
                title=article.title,
                source_url=article.source_url,
                source_name=article.source_name,
                published=article.published,
                authors=article.authors,
                summary=summarize(
                    article.body,
                    sentences=config.sentences,
                    words=config.words,
                    algorithm=config.algorithm,
                    truncated=article.truncated,
                    title=article.title,
                ),
                political_score=round(article.political_score or 0.0, 4),
                other_sources=story.other_sources,
            )
        )
    subject = f"{config.name}: {entries[0].title}"
    parts = render_issue(
        entries, config=config, template_dirs=project.template_dirs, subject=subject
    )
    report.warnings.extend(parts.warnings)
    key = key or f"build-{now_utc():%Y%m%dT%H%M%S%f}"
    report.issue = store.create_issue(
        key=key, subject=subject, entries=entries, html=parts.html, text=parts.text, status=status
    )
    return report


def write_issue_files(issue: Issue, out: Path, base_url: str = "") -> list[Path]:
    """`issue.json`, `issue.html` (the web version) and `issue.txt` (links under `base_url`)."""
    data = {"id": issue.id, "key": issue.key, "subject": issue.subject}
    data["articles"] = [entry.to_json() for entry in issue.entries]
    files = {
        "issue.json": json.dumps(data, ensure_ascii=False, indent=2) + "\n",
        "issue.html": web_version(issue),
        "issue.txt": fill_placeholders(
            issue.text, generic_values(issue, base_url), escape_html=False
        ),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (out / name).write_text(content, encoding="utf-8")
    except OSError as exc:
        raise DigestError(f"{out}: cannot write the issue files: {exc.strerror}") from None
    return [out / name for name in files]
