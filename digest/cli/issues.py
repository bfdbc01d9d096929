"""`digest issue ...`: shape a draft issue from the terminal; `digest report`: what a send did.

Each command is one call into `digest.desk`; positions count from 1, as `digest issue show`
numbers the stories.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from digest import desk
from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.cli._usage import typer_app
from digest.errors import DigestError
from digest.models import Issue
from digest.project import Project, open_project
from digest.wording import plural

issue_app = typer_app(help="Shape an issue before it goes out: list, show, edit, approve.")
app.add_typer(issue_app, name="issue")

IssueArg = Annotated[int, typer.Argument(metavar="ISSUE", help="Issue id (`digest issue list`).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _project() -> Project:
    return open_project(project_dir())


def _read(path: Path, what: str) -> str:
    """A file's text, or standard input for `-`."""
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise DigestError(f"{what} {path}: cannot read: {reason}") from None


def _done(issue: Issue, what: str) -> None:
    console.print(
        f"issue {issue.id}: {what}; {plural(len(issue.entries), 'story')}, subject: {issue.subject}"
    )


@command(issue_app, "list")
def list_command(json_out: Json = False) -> None:
    """List the issues, newest first: id, key, status, subject, stories, created, sends."""
    project = _project()
    rows = desk.list_issues(project)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        console.print("no issue yet (run `digest build`)")
    for row in rows:
        print(
            f"{row['id']}\t{row['key']}\t{row['status']}\t{row['created']:.16}"
            f"\t{plural(int(str(row['stories'])), 'story')}\tsent {row['sent']}"
            f" failed {row['failed']} deferred {row['deferred']}\t{row['subject']}"
        )


@command(issue_app, "show")
def show_command(
    issue_id: Annotated[
        int | None, typer.Argument(metavar="[ISSUE]", help="Issue id (default: the latest).")
    ] = None,
    sentences: Annotated[
        int | None,
        typer.Option(
            "--sentences",
            metavar="POSITION",
            help="List the sentences of this story's article with the ranker's scores.",
        ),
    ] = None,
    json_out: Json = False,
) -> None:
    """Show an issue: subject, intro, stories in order, and the runners-up to swap in."""
    project = _project()
    issue = desk.find_issue(project, issue_id)
    if sentences is not None:
        offered = desk.article_sentences(project, issue.id, sentences)
        if json_out:
            emit_json([vars(s) for s in offered])
            return
        entry = issue.entries[sentences - 1]
        print(f"story {sentences}: {entry.title} (article {entry.article_id})")
        print(
            "  * marks the sentences in the summary now; pick with `digest issue edit"
            f" {issue.id} {sentences} --sentences 1,4,6`"
        )
        for s in offered:
            print(f"{'*' if s.chosen else ' '} {s.number:3d}. [{s.score:.3f}] {s.text}")
        return
    details = desk.issue_details(project, issue)
    if json_out:
        emit_json(details)
        return
    custom = "" if issue.subject_custom else " (default)"
    print(f"issue {issue.id} ({issue.key}), {issue.status}, created {issue.created:%Y-%m-%d %H:%M}")
    print(f"subject: {issue.subject}{custom}")
    print("intro: " + (issue.intro.replace("\n", "\n       ") if issue.intro else "(none)"))
    print()
    history = desk.source_history(project)
    for position, entry in enumerate(issue.entries, 1):
        source = f" — {entry.source_name}" if entry.source_name else ""
        print(f"{position:2d}. {entry.title}{source}")
        print(f"    article {entry.article_id}, score {entry.political_score:.2f}")
        if past := history.get(entry.source_name):
            print(f"    {past}")
        for sentence in entry.summary:
            print(f"    | {sentence}")
    if issue.runners_up:
        print()
        print("runners-up (`digest issue add ISSUE ARTICLE_ID`):")
        for runner in issue.runners_up:
            source = f" — {runner.source_name}" if runner.source_name else ""
            print(
                f"    article {runner.article_id}, score {runner.political_score:.2f}:"
                f" {runner.title}{source}" + (f" ({runner.update_of})" if runner.update_of else "")
            )


@command(issue_app, "drop")
def drop_command(
    issue_id: IssueArg,
    positions: Annotated[list[int], typer.Argument(metavar="POSITION...", help="Stories to drop.")],
) -> None:
    """Leave stories out of a draft (they join the runners-up)."""
    issue = desk.drop_stories(_project(), issue_id, positions)
    _done(issue, f"dropped {plural(len(set(positions)), 'story')}")


@command(issue_app, "move")
def move_command(
    issue_id: IssueArg,
    source: Annotated[int, typer.Argument(metavar="FROM", help="The story's position now.")],
    target: Annotated[int, typer.Argument(metavar="TO", help="Its new position.")],
) -> None:
    """Move a story to another position."""
    issue = desk.move_story(_project(), issue_id, source, target)
    _done(issue, f"moved story {source} to {target}")


@command(issue_app, "add")
def add_command(
    issue_id: IssueArg,
    article: Annotated[
        str, typer.Argument(metavar="ARTICLE_ID|URL", help="A stored article, by id or URL.")
    ],
    at: Annotated[
        int | None, typer.Option("--at", metavar="POSITION", help="Where (default: last).")
    ] = None,
) -> None:
    """Add any stored article to a draft, summarised on the way in."""
    issue = desk.add_story(_project(), issue_id, article, at=at)
    position = at or len(issue.entries)
    _done(issue, f"added article {issue.entries[position - 1].article_id} as story {position}")


def parse_numbers(value: str, option: str) -> list[int]:
    """ "1,4,6" → [1, 4, 6]."""
    try:
        numbers = [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise DigestError(
            f"{option} {value!r}: give numbers separated by commas, e.g. 1,4,6"
        ) from None
    if not numbers:
        raise DigestError(f"{option} {value!r}: name at least one sentence")
    return numbers


@command(issue_app, "edit")
def edit_command(
    issue_id: IssueArg,
    position: Annotated[int, typer.Argument(metavar="POSITION", help="The story to edit.")],
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    summary_file: Annotated[
        Path | None,
        typer.Option("--summary-file", help="A free-text summary from FILE (`-`: standard input)."),
    ] = None,
    sentences: Annotated[
        str | None,
        typer.Option(
            "--sentences",
            metavar="1,4,6",
            help="The article's own sentences, numbered by `digest issue show --sentences`.",
        ),
    ] = None,
) -> None:
    """Change a story's title or summary."""
    if summary_file is not None and sentences is not None:
        raise DigestError("--summary-file and --sentences: choose one")
    if title is None and summary_file is None and sentences is None:
        raise DigestError("nothing to change: give --title, --summary-file or --sentences")
    project = _project()
    issue = desk.edit_story(
        project,
        issue_id,
        position,
        title=title,
        summary=_read(summary_file, "--summary-file") if summary_file is not None else None,
        sentences=parse_numbers(sentences, "--sentences") if sentences is not None else None,
    )
    _done(issue, f"edited story {position}")


@command(issue_app, "subject")
def subject_command(
    issue_id: IssueArg,
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help='The subject line ("" for the default).')
    ],
) -> None:
    """Set the subject (the default is the newsletter's name and the lead story's title)."""
    issue = desk.set_subject(_project(), issue_id, text)
    _done(issue, "subject set" if issue.subject_custom else "default subject")


@command(issue_app, "intro")
def intro_command(
    issue_id: IssueArg,
    file: Annotated[
        Path, typer.Option("--file", help="Markdown (`-`: standard input; empty removes it).")
    ],
) -> None:
    """Set the intro shown above the stories, written in Markdown (raw HTML is escaped)."""
    project = _project()
    issue = desk.set_intro(project, issue_id, _read(file, "--file"))
    _done(issue, "intro set" if issue.intro else "intro removed")
    for warning in desk.render_parts(project, issue).warnings:
        console.print(f"warning: {warning}")


@command(issue_app, "approve")
def approve_command(issue_id: IssueArg) -> None:
    """Freeze a draft as it renders now: what preview shows and every send mails."""
    issue = desk.approve(_project(), issue_id)
    _done(issue, f"approved; send it with `digest send {issue.id}`")


@command(issue_app, "schedule")
def schedule_command(
    issue_id: IssueArg,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When `digest run` sends it: an ISO date and time, e.g. '2026-12-08 07:00'"
            " (UTC unless it names a zone).",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the send time.")] = False,
) -> None:
    """Have `digest run` send the issue at a set time (approving a draft: frozen as it is)."""
    from digest.cli.editorial import parse_as_of

    if (at is None) == (not clear):
        raise DigestError("digest issue schedule: give --at TIME, or --clear")
    when = None
    if at is not None:
        try:
            when = parse_as_of(at)
        except DigestError as exc:
            raise DigestError(str(exc).replace("--as-of", "--at", 1)) from None
    issue = desk.schedule(_project(), issue_id, when)
    if issue.send_at is None:
        _done(issue, f"approved, no send time: send it with `digest send {issue.id}`")
    else:
        _done(issue, f"approved; `digest run` sends it from {issue.send_at:%Y-%m-%d %H:%M} UTC")


@command(issue_app, "reopen")
def reopen_command(issue_id: IssueArg) -> None:
    """Make an approved issue whose send has not begun an editable draft again."""
    issue = desk.reopen(_project(), issue_id)
    _done(issue, "a draft again")


@command(issue_app, "discard")
def discard_command(issue_id: IssueArg) -> None:
    """Throw away a draft or an approved issue that never started sending."""
    issue = desk.discard(_project(), issue_id)
    console.print(f"issue {issue.id} ({issue.key}) discarded")


@command(app, "report")
def report_command(
    issue_id: Annotated[
        int | None, typer.Argument(metavar="[ISSUE]", help="Issue id (default: the latest).")
    ] = None,
    json_out: Json = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write the failed and deferred addresses."),
    ] = None,
    trend: Annotated[
        bool,
        typer.Option("--trend", help="Story clicks per issue and per source, across issues."),
    ] = False,
    last: Annotated[
        int, typer.Option("--last", min=1, help="With --trend: how many sent issues.")
    ] = 10,
) -> None:
    """What an issue's send did: transport, start and finish, counts, every failed or deferred
    address with its last reply and attempts, and its recipients suppressed since (why, when);
    and each story's clicks and share ([stats] clicks, docs/stats.md)."""
    from digest import stats
    from digest.cli._clicks import print_story_clicks, print_trend
    from digest.exports import open_private

    project = _project()
    floor = project.config.min_count
    if trend:
        if issue_id is not None or csv_file is not None:
            raise DigestError("report --trend: takes no ISSUE and no --csv")
        across = stats.trend(project.store, last, floor)
        emit_json(across) if json_out else print_trend(across)
        return
    issue = desk.find_issue(project, issue_id)
    summary = desk.send_summary(project, issue)
    clicks = stats.issue_report(project.store, issue, floor)
    if csv_file is not None:
        try:
            with open_private(csv_file) as f:
                f.write(summary.csv())
        except OSError as exc:
            raise DigestError(f"--csv {csv_file}: cannot write: {exc.strerror}") from None
    if json_out:
        emit_json({**summary.to_json(), **clicks})
        return
    counts = summary.counts
    print(f"issue {summary.issue_id} ({summary.key}): {summary.status}")
    print(f"transport: {summary.transport or '(not sent yet)'} {summary.relay or ''}".rstrip())
    print(f"started: {summary.started or '-'}   finished: {summary.finished or '-'}")
    print(
        f"sent {counts['sent']}, failed {counts['failed']}, deferred {counts['deferred']},"
        f" skipped {counts['skipped']}, pending {counts['pending']},"
        f" suppressed as bounced {counts['suppressed_bounced']},"
        f" complained since {counts['complained_since']},"
        f" unsubscribed since {counts['unsubscribed_since']}"
    )
    for row in summary.problems:
        print(f"{row.status}\t{row.email}\t{plural(row.attempts, 'attempt')}\t{row.last_reply}")
    for gone in summary.suppressed:
        print(
            f"suppressed\t{gone['email']}\t{gone['reason']}\t{gone['suppressed']}\t{gone['detail']}"
        )
    if project.config.clicks or clicks["clicks"] or clicks["set_aside"]:
        print_story_clicks(clicks)
    if csv_file is not None:
        console.print(f"wrote {plural(len(summary.problems), 'address')} to {csv_file}")
