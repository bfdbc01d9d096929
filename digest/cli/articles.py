"""`digest parse` and `digest ingest`: articles in (a thin layer over digest.sources and
digest.ingest); `digest articles`: what the store holds, found by text, date, source and score."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.errors import EXIT_OK, EXIT_PARTIAL, DigestError
from digest.models import Article
from digest.sources import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, ParseFailure, read_source
from digest.sources.errors import printable
from digest.wording import plural

MaxBytes = Annotated[
    int | None,
    typer.Option("--max-bytes", min=1, help="Refuse inputs larger than this many bytes."),
]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Seconds to wait for each URL."),
]


def article_json(article: Article) -> dict[str, object]:
    return {
        "path": article.origin,
        "title": article.title,
        "authors": article.authors,
        "source_url": article.source_url,
        "published": article.published.isoformat() if article.published else None,
        "body": article.body,
        "truncated": article.truncated,
        "warnings": article.warnings,
    }


def summary_line(article: Article) -> str:
    """One aligned line per article: date, size, flags, title, where it came from."""
    date = article.published.strftime("%Y-%m-%d") if article.published else "undated   "
    flags = "truncated" if article.truncated else ""
    notes = plural(len(article.warnings), "warning") if article.warnings else ""
    return (
        f"{date}  {len(article.body.split()):>5} words  {flags:<9}  {notes:<12}  "
        f"{printable(article.title)}  ({printable(article.origin or '')})"
    )


def report_failure(failure: ParseFailure) -> None:
    console.print(str(failure))


@command(app, "parse")
def parse_command(
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUT...", help="Files, folders, feed or page URLs.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per article on stdout.")
    ] = False,
    max_bytes: MaxBytes = None,
    timeout: Timeout = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Also fetch URLs on loopback, private or link-local addresses."
        ),
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Fetch the page of each feed entry that has only a headline and a link.",
        ),
    ] = False,
) -> None:
    """Parse articles and show what was understood; nothing is stored."""
    limit = max_bytes or DEFAULT_MAX_BYTES
    wait = timeout or DEFAULT_TIMEOUT
    failed = 0
    for source in inputs:
        items = read_source(
            source,
            max_bytes=limit,
            timeout=wait,
            allow_private=allow_private,
            follow_links=follow_links,
        )
        for item in items:
            if isinstance(item, ParseFailure):
                failed += 1
                report_failure(item)
            elif as_json:
                emit_json(article_json(item))
            else:
                console.print(summary_line(item))
    raise typer.Exit(EXIT_PARTIAL if failed else EXIT_OK)


@command(app, "ingest")
def ingest_command(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SOURCE]...",
            help="Folders, files, feed or page URLs (default: the sources in digest.toml).",
        ),
    ] = None,
    max_bytes: MaxBytes = None,
    timeout: Timeout = None,
) -> None:
    """Store articles from the given sources, or from the project's; each article once."""
    from digest.ingest import ingest
    from digest.project import open_project

    project = open_project(project_dir())
    try:
        wanted = list(sources or project.config.sources)
        if not wanted:
            raise DigestError(
                f"{project.config.path}: no sources: pass SOURCE... or set [sources] in digest.toml"
            )
        report = ingest(
            project.store,
            wanted,
            max_bytes=max_bytes or project.config.max_bytes,
            timeout=timeout or DEFAULT_TIMEOUT,
            allow_private=project.config.allow_private,
            follow_links=project.config.follow_links,
        )
    finally:
        project.close()
    for failure in report.failures:
        report_failure(failure)
    console.print(f"added {report.added}, already known {report.known}, failed {report.failed}")
    raise typer.Exit(EXIT_PARTIAL if report.failed else EXIT_OK)


def _date_option(name: str, value: str | None) -> datetime | None:
    from digest.cli.editorial import parse_as_of

    try:
        return parse_as_of(value)
    except DigestError as exc:
        raise DigestError(str(exc).replace("--as-of", name, 1)) from None


@command(app, "articles")
def articles_command(
    search: Annotated[
        str, typer.Argument(metavar="[TEXT]", help="Words in the title or the text (any case).")
    ] = "",
    since: Annotated[
        str | None, typer.Option("--since", help="Published on or after this ISO date.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Published before this ISO date.")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Only articles whose URL contains this (a site).")
    ] = "",
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", min=0.0, max=1.0, help="Political score at least this."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per article on stdout.")
    ] = False,
) -> None:
    """List and search the stored articles, newest first: id, date, score, title, site."""
    from digest.project import open_project

    start, end = _date_option("--since", since), _date_option("--until", until)
    project = open_project(project_dir())
    try:
        found = project.store.find_articles(
            text=search.strip(),
            start=start,
            end=end,
            source=source.strip(),
            min_score=min_score,
            limit=limit,
        )
    finally:
        project.close()
    for article in found:
        if as_json:
            emit_json(
                {
                    "id": article.id,
                    **article_json(article),
                    "political_score": article.political_score,
                    "sources": article.sources,
                }
            )
        else:
            date = article.published.strftime("%Y-%m-%d") if article.published else "undated   "
            score = "  -  " if article.political_score is None else f"{article.political_score:.2f}"
            where = article.source_name or printable(article.origin or "")
            print(f"{article.id:>6}  {date}  {score}  {printable(article.title)}  ({where})")
    console.print(
        plural(len(found), "article") + (f" (at most {limit})" if len(found) == limit else "")
    )
