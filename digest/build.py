"""store → select → summarise → render → store: build one issue and freeze it.

The library function behind `digest build` and `digest run`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.classify import political_score
from digest.desk import approve, default_subject, new_entry
from digest.errors import ConfigError, DigestError
from digest.identity import SentStories
from digest.ingest import IngestReport, ingest
from digest.models import Article, Issue, RunnerUp
from digest.project import Project
from digest.render import fill_placeholders, generic_values, render_issue, web_version
from digest.select import LeftOut, Story, parse_since, select
from digest.sources.errors import printable
from digest.store import Store, now_utc
from digest.summarize import ALGORITHMS
from digest.wording import plural

# how many of the next best stories an issue keeps for an editor to swap in
RUNNERS_UP = 10


@dataclass
class BuildReport:
    issue: Issue | None
    ingest: IngestReport
    candidates: int = 0
    stories: int = 0  # qualifying stories, also when too few to build an issue
    warnings: list[str] = field(default_factory=list)
    # Why nothing was built, for the editor: the window looked at, what the store holds, and
    # how many stories were left out because they went out in a sent issue already.
    window: tuple[datetime, datetime] | None = None
    stored: int = 0
    newest: datetime | None = None
    already_sent: int = 0
    ingested_sources: bool = False  # the store was empty, so the project's [sources] were read
    files: list[Path] = field(default_factory=list)
    # every article looked at and not taken, with its reason (the window's candidates and what
    # this build ingested): nothing vanishes unexplained
    left_out: list[LeftOut] = field(default_factory=list)

    def why_empty(self, min_stories: int = 1) -> str:
        """One line saying why no issue was built, and what to try."""
        if self.stored == 0:
            return (
                "No articles are stored yet: run `digest ingest SOURCE...`, pass --articles,"
                " or set [sources] in digest.toml."
            )
        assert self.window is not None
        start, end = self.window
        span = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        if self.candidates == 0:
            if self.newest is None:
                return (
                    f"No articles in the window {span}: none of the {self.stored} stored"
                    " articles has a date."
                )
            return (
                f"No articles in the window {span}: the newest of the {self.stored} stored"
                f" articles is dated {self.newest:%Y-%m-%d} (try --as-of"
                f" {self.newest + timedelta(days=1):%Y-%m-%d}, or a longer --since)."
            )
        if self.stories == 0 and self.already_sent:
            return (
                f"{plural(self.already_sent, 'story')} in the window {span}"
                " already went out in a sent issue (--include-sent to repeat them)."
            )
        if self.stories == 0:
            return (
                f"No political stories among {plural(self.candidates, 'article')}"
                f" in the window {span}."
            )
        return (
            f"Only {plural(self.stories, 'political story')} in the"
            f" window {span}; at least {min_stories} are needed."
        )


# what `digest build` prints of the articles it left out (--json lists every one)
BEST_LEFT_OUT = 5  # the best stories left out, with why
NAMED_PER_REASON = 10  # articles that vanish otherwise (undated, outside the window), named
_REASON_WORDS = {
    "undated": "undated",
    "outside-window": "outside the window",
    "under-cutoff": "under the score cutoff",
    "merged": "merged into another story",
    "already-sent": "already sent",
    "update": "updates to sent stories (runners-up)",
    "runner-up": "runners-up",
    "ranked-lower": "ranked lower",
}


def left_out_lines(left_out: list[LeftOut]) -> list[str]:
    """For the editor: how many articles were left out and why, every undated or out-of-window
    one by name (up to NAMED_PER_REASON each), and the BEST_LEFT_OUT best stories left out."""
    if not left_out:
        return []
    counts = Counter(item.reason for item in left_out)
    lines = [
        f"Left out {plural(len(left_out), 'article')}: "
        + ", ".join(f"{n} {_REASON_WORDS[reason]}" for reason, n in counts.items())
        + "."
    ]
    for reason in ("undated", "outside-window"):
        named = [item for item in left_out if item.reason == reason]
        for item in named[:NAMED_PER_REASON]:
            lines.append(f"  {_name(item)}: {item.detail}")
        if len(named) > NAMED_PER_REASON:
            lines.append(f"  … and {len(named) - NAMED_PER_REASON} more {_REASON_WORDS[reason]}")
    stories = [item for item in left_out if item.reason not in ("undated", "outside-window")]
    stories.sort(key=lambda item: -(item.article.political_score or 0.0))
    if stories:
        lines.append(f"The best {plural(min(len(stories), BEST_LEFT_OUT), 'story')} left out:")
        for item in stories[:BEST_LEFT_OUT]:
            lines.append(f"  {_name(item)}: {item.detail}")
    if len(left_out) > len(lines) - 2:
        lines.append("(`digest build --json` lists every article left out.)")
    return lines


def _name(item: LeftOut) -> str:
    article = item.article
    where = article.source_name or printable(article.origin or "")
    return f"{article.title!r} ({where})" if where else repr(article.title)


def build_issue(
    project: Project,
    *,
    articles: list[str] | None = None,
    as_of: datetime | None = None,
    since: timedelta | None = None,
    limit: int | None = None,
    key: str | None = None,
    status: str = "draft",
    min_stories: int = 1,
    exclude_sent: bool = True,
    out: Path | None = None,
    read_sources_if_empty: bool = True,
) -> BuildReport:
    """Build an issue (a draft, unless `status` says "approved") from the articles published
    in (as_of - since, as_of].

    Returns a report whose `issue` is None when fewer than `min_stories` stories qualified:
    an empty digest is never built. With `exclude_sent` (the default), articles that already
    went out in a sent issue are left out: an editor must not mail last week's stories again.
    When the store holds no article at all, the project's `[sources]` are ingested first.
    With `out`, the issue files are written there too, all or nothing: an issue whose files
    cannot be written is not stored."""
    config, store = project.config, project.store
    if config.algorithm not in ALGORITHMS:  # checked before any work is done
        raise ConfigError(
            f"{config.path}: `summary.algorithm` must be one of {', '.join(ALGORITHMS)},"
            f" not {config.algorithm!r}"
        )
    as_of = (as_of or now_utc()).astimezone(UTC)
    since = since or parse_since(config.since)
    report = BuildReport(issue=None, ingest=IngestReport(), window=(as_of - since, as_of))
    sources = list(articles or [])
    if read_sources_if_empty and config.sources and not store.count_articles():
        # a fresh project: `build` alone does what the editor meant, with the configured sources
        sources = [*config.sources, *sources]
        report.ingested_sources = True
    if sources:
        report.ingest = ingest(
            store,
            sources,
            max_bytes=config.max_bytes,
            allow_private=config.allow_private,
            follow_links=config.follow_links,
        )

    candidates = store.articles_published_between(as_of - since, as_of)
    report.candidates = len(candidates)
    report.stored = store.count_articles()
    # scores are cached with the article: a 5,000-article window scores only what is new
    scored: list[tuple[int, float]] = []
    for article in candidates:
        if article.political_score is None and article.id is not None:
            article.political_score = political_score(article.title, article.body)
            scored.append((article.id, article.political_score))
    store.set_political_scores(scored)

    wanted = limit or config.limit
    selection = select(
        [*candidates, *_new_outside(store, report.ingest, candidates, as_of - since, as_of)],
        as_of=as_of,
        since=since,
        limit=wanted + RUNNERS_UP,
        min_score=config.min_score,
        sent=SentStories(store.sent_stories()) if exclude_sent else None,
    )
    stories, runners_up = selection.stories[:wanted], selection.stories[wanted:]
    report.stories = len(stories)
    report.already_sent = selection.already_sent
    report.left_out = selection.left_out + [
        LeftOut(story.article, "runner-up", f"runner-up {n}: ranked below the issue's stories")
        for n, story in enumerate(runners_up, 1)
    ]
    if len(stories) < max(min_stories, 1):
        report.newest = store.newest_published()
        return report

    entries = [
        new_entry(project, story.article, story.other_sources, merged_ids=story.merged_ids)
        for story in stories
    ]
    subject = default_subject(project, entries)
    key = key or f"build-{now_utc():%Y%m%dT%H%M%S%f}"
    parts = render_issue(
        entries, config=config, template_dirs=project.template_dirs, subject=subject, key=key
    )
    report.warnings.extend(parts.warnings)

    def write_files(issue: Issue) -> None:
        if out is not None:
            report.files = write_issue_files(issue, out, config.base_url)

    # counted story links carry the issue's id: an issue approved at once is rendered again
    # (desk.approve) once it has one
    counted = config.clicks and status == "approved"
    report.issue = store.create_issue(
        key=key,
        subject=subject,
        entries=entries,
        html=parts.html,
        text=parts.text,
        status="draft" if counted else status,
        runners_up=[_runner_up(story) for story in [*selection.updates, *runners_up]],
        before_commit=write_files,
    )
    if counted:
        report.issue = approve(project, report.issue.id)
    return report


def _runner_up(story: Story) -> RunnerUp:
    return RunnerUp(
        article_id=story.article.id or 0,
        title=story.article.title,
        source_name=story.article.source_name,
        score=round(story.score, 4),
        political_score=round(story.article.political_score or 0.0, 4),
        other_sources=story.other_sources,
        merged_ids=story.merged_ids,
        update_of=story.update_of.reason() if story.update_of else "",
    )


def _new_outside(
    store: Store,
    ingested: IngestReport,
    candidates: list[Article],
    start: datetime,
    end: datetime,
) -> list[Article]:
    """What this build ingested, or was stored since the last build, that is not among the
    window's candidates (undated, or dated outside the window), so the report can name it
    instead of letting it vanish."""
    inside = {a.id for a in candidates}
    found = {a.id: a for a in store.new_articles_outside(start, end)}
    wanted = [i for i in ingested.article_ids if i not in inside and i not in found]
    for article in store.articles_by_ids(sorted(set(wanted))):
        found[article.id] = article
    return list(found.values())


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
    # Each file goes to a temporary name first and all are renamed at the end, so a failure
    # (disk full, no permission) leaves no mix of this issue's files and an older one's.
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            partial = out / f".{name}.partial"
            written.append(partial)
            partial.write_text(content, encoding="utf-8")
        for partial in written:
            partial.replace(out / partial.name[1 : -len(".partial")])
    except OSError as exc:
        for partial in written:
            partial.unlink(missing_ok=True)
        raise DigestError(f"{out}: cannot write the issue files: {exc.strerror}") from None
    return [out / name for name in files]
