"""`digest run`: the one idempotent command for cron, systemd timers or any scheduler."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.errors import EXIT_PARTIAL, DigestError
from digest.wording import plural


@command(app, "run")
def run_command(
    articles: Annotated[
        list[str] | None,
        typer.Option("--articles", help="Also ingest this folder, file or URL (repeatable)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO date/time inside the period; default now.")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="week (ISO), day or month.")] = "week",
    hold: Annotated[
        bool,
        typer.Option("--hold", help="Build the issue as a draft for an editor; send nothing now."),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
    transport: Annotated[
        str | None,
        typer.Option("--transport", help="outbox or smtp: send through this, on purpose."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify the relay's TLS certificate.")
    ] = False,
) -> None:
    """Read the bounce mailbox (`bounces.source`), ingest, build this period's issue once, and
    send it; safe to run again and again."""
    from digest.cli.editorial import parse_as_of
    from digest.project import open_project
    from digest.schedule import PERIODS, run_period

    if period not in PERIODS:
        raise DigestError(f"--period {period!r}: choose one of {', '.join(PERIODS)}")
    from digest.cli.sending import warn_if_insecure

    project = open_project(project_dir())
    warn_if_insecure(project, insecure)
    report = run_period(
        project,
        as_of=parse_as_of(as_of),
        period=period,
        articles=articles,
        hold=hold,
        send_options={
            "backend": transport,
            "insecure": insecure,
            "list_name": project.config.schedule_list or None,
        },
    )
    if report.bounces is not None:
        for line in [*report.bounces.left, *report.bounces.quarantined]:
            console.print(line)
        console.print(report.bounces.summary())
    if report.bounce_problem:
        console.print(f"bounces not read this time: {report.bounce_problem}")
    for failure in report.ingest.failures:
        console.print(str(failure))
    for warning in report.send.warnings if report.send else []:
        console.print(f"warning: {warning}")  # unreadable list rows, an empty postal address
    ingested = f"ingested {report.ingest.added} new, {report.ingest.failed} failed"
    issue = report.issue
    if issue is None:
        minimum = project.config.min_stories
        found = (
            f"only {plural(report.stories, 'political story')} (selection.min_stories is {minimum})"
            if report.stories
            else "no political stories in the window"
        )
        line = f"{report.key}: {found}; nothing sent ({ingested})"
    else:
        state = {
            "held": f"held as a {issue.status}: shape it with `digest preview {issue.id}` or"
            f" `digest issue show {issue.id}`, then approve it or `digest send {issue.id}`",
            "scheduled": "scheduled: a run from"
            f" {issue.send_at:%Y-%m-%d %H:%M} UTC sends it; nothing sent now"
            if issue.send_at
            else "",
            "already-sent": "already sent",
            "sent": "sent",
            "partial": "partly sent, some deferred: run again to retry",
            "in-progress": "being sent by another run right now",
        }[report.outcome]
        made = "built" if report.built else "existing"
        if issue.key != report.key:  # a hand-built issue went out in this period
            made = f"{issue.key}, built by hand"
            if report.outcome == "already-sent":
                state = f"already went out this {period}; nothing more sent"
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        via = f" via {report.send.transport}" if report.send else ""
        line = (
            f"{report.key}: issue {issue.id} ({made}, {plural(len(issue.entries), 'story')})"
            f" {state}{via}"
            f"{'; ' + counts if counts else ''} ({ingested})"
        )
        if report.send and report.send.replies:
            line += f"; replies: {report.send.top_replies()}"
    if json_out:
        emit_json(
            {
                "period": report.key,
                "issue": issue.id if issue else None,
                "outcome": report.outcome,
                **report.counts,
                **({"bounces": report.bounces.to_json()} if report.bounces else {}),
            }
        )
    else:
        print(line)
    # exit codes as for `digest send`: bad inputs are named on stderr but do not fail the run
    failed = report.send is not None and report.send.run.failed > 0
    bounces_left = report.bounce_problem or (report.bounces and report.bounces.exit_code)
    if report.outcome in ("partial", "in-progress") or failed or bounces_left:
        raise typer.Exit(EXIT_PARTIAL)
