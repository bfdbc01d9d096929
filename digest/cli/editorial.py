"""`digest summarize`, `digest classify`, `digest build`: the editorial stages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.errors import EXIT_PARTIAL, DigestError
from digest.models import Article
from digest.sources.errors import printable
from digest.wording import plural

Files = Annotated[
    list[Path], typer.Argument(metavar="FILE...", help="Article files (any supported format).")
]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]


def _parsed(files: list[Path]) -> Iterator[tuple[Path, Article]]:
    """Yield (path, Article) for each parseable file; name each bad one on stderr."""
    from digest.sources import parse_file

    for path in files:
        try:
            yield path, parse_file(path)
        except DigestError as exc:
            console.print(str(exc))


@command(app, "summarize")
def summarize_command(
    files: Files,
    sentences: Annotated[int, typer.Option("--sentences", "-k", min=1)] = 3,
    words: Annotated[int, typer.Option("--words", "-w", min=1, help="Word budget.")] = 90,
    algorithm: Annotated[str, typer.Option("--algorithm", "-a")] = "digest",
    json_out: Json = False,
) -> None:
    """Summarise articles extractively: K sentences, verbatim, in document order."""
    from digest.cli.quick import summarised
    from digest.summarize import ALGORITHMS

    if algorithm not in ALGORITHMS:
        raise DigestError(f"--algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}")
    done = 0
    for path, article, chosen in summarised(
        files, sentences=sentences, words=words, algorithm=algorithm, report=console.print
    ):
        done += 1
        if json_out:
            emit_json({"path": str(path), "title": article.title, "sentences": chosen})
        else:  # the summaries are the result: stdout, like --json
            print(printable(article.title))
            for sentence in chosen:
                print(f"  • {printable(sentence)}")
    if done < len(files):
        raise typer.Exit(EXIT_PARTIAL)


@command(app, "classify")
def classify_command(
    files: Files,
    json_out: Json = False,
    show_terms: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also show the cutoff, the margin to it, and the terms that moved each score.",
        ),
    ] = False,
) -> None:
    """Score articles as political or not: the probability (0 to 1) that each is political news."""
    from digest.classify import cutoff_note, explain, is_political

    done = 0
    for path, article in _parsed(files):
        why = explain(article.title, article.body)
        done += 1
        record: dict[str, object] = {
            "path": str(path),
            "political": is_political(why.score),
            "score": why.score,
        }
        if show_terms:
            record["threshold"] = why.threshold
            record["margin"] = round(why.margin, 4)
            record["closest_other_topic"] = why.closest_other_topic
            record["for"] = dict(why.for_political)
            record["against"] = dict(why.against)
        if json_out:
            emit_json(record)
            continue
        label = "political" if is_political(why.score) else "not political"
        print(f"{printable(str(path))}: {label} ({why.score:.3f})")  # the result: stdout
        if show_terms:
            print(f"  margin:  {cutoff_note(why.score, why.threshold)}")
            print(f"  for:     {_terms(why.for_political)}")
            print(
                f"  against: {_terms(why.against)} (closest other topic: {why.closest_other_topic})"
            )
    if done < len(files):
        raise typer.Exit(EXIT_PARTIAL)


def _terms(moves: list[tuple[str, float]]) -> str:
    """`senate +0.41, t:vote +0.30`: a title word keeps its `t:` so the editor sees where it was."""
    return ", ".join(f"{term} {move:+.2f}" for term, move in moves) or "nothing"


def parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DigestError(f"--as-of {value!r}: not an ISO 8601 date or time") from None
    if not 1900 <= parsed.year <= 9000:  # windows reach back from it; keep the arithmetic sane
        raise DigestError(f"--as-of {value!r}: the year must be between 1900 and 9000")
    # a bare date or naive time means UTC: a scheduler's clock rarely knows better
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@command(app, "build")
def build_command(
    articles: Annotated[
        list[str] | None,
        typer.Option("--articles", help="Ingest this folder, file or URL first (repeatable)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO date/time; default now.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Window, e.g. 7d, 36h, 2w.")] = None,
    since_last: Annotated[
        bool, typer.Option("--since-last", help="Take everything since the last sent issue.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write issue.json/.html/.txt here.")
    ] = None,
    include_sent: Annotated[
        bool,
        typer.Option("--include-sent", help="Keep stories that already went out in a sent issue."),
    ] = False,
    json_out: Json = False,
) -> None:
    """Select, summarise and render an issue, and store it as a draft for the editor."""
    from digest.project import open_project

    project = open_project(project_dir())  # settings are checked before anything is done
    if out is not None and out.exists() and not out.is_dir():
        raise DigestError(f"--out {out}: exists and is not a folder")
    from digest.build import build_issue, left_out_lines
    from digest.select import parse_since
    from digest.store import now_utc

    when = parse_as_of(as_of) or now_utc()
    window = parse_since(since) if since else None
    if since_last:
        last = project.store.last_sent_at()
        if last is None:
            raise DigestError("--since-last: no issue has been sent yet; use --since")
        window = when - last
    report = build_issue(
        project,
        articles=articles,
        as_of=when,
        since=window,
        limit=limit,
        exclude_sent=not include_sent,
        out=out,
    )
    for failure in report.ingest.failures:
        console.print(str(failure))
    if report.ingested_sources:
        console.print(
            f"The store was empty: ingested the [sources] of digest.toml"
            f" ({report.ingest.added} added, {report.ingest.failed} failed)."
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True)
    for line in left_out_lines(report.left_out):
        console.print(line)
    if report.issue is None:
        console.print(report.why_empty())
        if json_out:
            emit_json({"id": None, "left_out": [item.to_json() for item in report.left_out]})
        raise typer.Exit(EXIT_PARTIAL if report.ingest.failures else 0)
    issue = report.issue
    console.print(
        f"Built issue {issue.id}, a draft ({plural(len(issue.entries), 'story')}):"
        f" {issue.subject}. Shape it with `digest preview {issue.id}` or"
        f" `digest issue show {issue.id}`; `digest send {issue.id}` approves and sends it."
    )
    for path in report.files:
        console.print(f"  wrote {path}")
    if json_out:
        emit_json(
            {
                "id": issue.id,
                "key": issue.key,
                "stories": len(issue.entries),
                "left_out": [item.to_json() for item in report.left_out],
            }
        )
    else:
        print(issue.id)
    if report.ingest.failures:
        raise typer.Exit(EXIT_PARTIAL)
