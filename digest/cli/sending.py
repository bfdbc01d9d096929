"""`digest send`: a thin layer over `digest.send.send_issue`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.errors import EXIT_PARTIAL, Interrupted
from digest.project import Project, open_project
from digest.send import DEFAULT_LEASE, SendProgress, SendReport, send_issue, send_test_copy
from digest.wording import plural


@command(app, "send")
def send_command(
    issue_id: Annotated[
        int | None,
        typer.Argument(metavar="[ISSUE]", help="Issue to send (default: the latest built)."),
    ] = None,
    list_name: Annotated[
        str | None, typer.Option("--list", help="Send to this list only (subscribers/NAME.csv).")
    ] = None,
    smtp_url: Annotated[
        str | None,
        typer.Option(
            "--smtp-url",
            help="smtp://[user@]host[:port][?starttls=yes|no] or smtps://...; the password"
            " comes from DIGEST_SMTP_PASSWORD.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="SMTP connections (default 8).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            help="At most this many messages per second. When the relay pushes back (a"
            " temporary reply about us, such as 450 4.7.1), everyone pauses for what it asked"
            " (at most a minute if it did not say), the rate halves and the connections too,"
            " and both climb back as messages are accepted.",
        ),
    ] = None,
    retry_base: Annotated[
        float, typer.Option("--retry-base", help="Seconds before the first retry.")
    ] = 2.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="Tries per address in this run.")
    ] = 4,
    max_total_attempts: Annotated[
        int | None,
        typer.Option(
            "--max-total-attempts",
            help="Tries per address over all runs before a temporary failure becomes permanent"
            " (default: 3 × --max-attempts).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every message, send nothing.")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Send one test copy to this address; no bookkeeping."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="End with a JSON line of the issue's counts.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify the relay's TLS certificate.")
    ] = False,
    transport: Annotated[
        str | None,
        typer.Option(
            "--transport",
            help="outbox or smtp: send through this, also when the issue started through another.",
        ),
    ] = None,
    greylist_delay: Annotated[
        float | None,
        typer.Option(
            "--greylist-delay",
            help="Seconds before an address the relay greylisted is tried again, once, also"
            " beyond --max-attempts (default: transport.greylist_delay, 300).",
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            min=1.0,
            help="Seconds a worker's claim on its rows lasts unless renewed: with several"
            " workers (PostgreSQL), a killed one's rows go to the others this long after.",
        ),
    ] = DEFAULT_LEASE,
) -> None:
    """Send an issue to its subscribers; an interrupted send resumes where it stopped."""
    project = open_project(project_dir())
    try:
        warn_if_insecure(project, insecure)
        if to is not None:
            _test_copy(project, issue_id, to, smtp_url, insecure, transport, as_json)
            return
        report = _send_with_progress(
            project,
            issue_id,
            list_name=list_name,
            smtp_url=smtp_url,
            insecure=insecure,
            backend=transport,
            concurrency=concurrency,
            rate=rate,
            retry_base=retry_base,
            max_attempts=max_attempts,
            max_total_attempts=max_total_attempts,
            dry_run=dry_run,
            lease=lease,
            greylist_delay=greylist_delay,
        )
    finally:
        project.close()
    _summarise(report)
    if as_json:
        emit_json(report.summary() | ({"would_send": report.would_send} if dry_run else {}))
    raise typer.Exit(report.exit_code)


def warn_if_insecure(project: Project, insecure: bool) -> None:
    """Said before anything is sent, every time: an unverified relay may be anyone."""
    if insecure or project.config.insecure:
        where = "--insecure" if insecure else f"`transport.insecure` in {project.config.path}"
        console.print(
            f"[bold red]WARNING: TLS certificate verification is OFF ({where}).[/bold red]"
            " Anyone on the network path can pose as the relay and read the password and every"
            " message. Use this only with a test server; trust a private CA with"
            " `transport.ca_file` instead.",
            markup=True,
        )


def _send_with_progress(project: Project, issue_id: int | None, **options: Any) -> SendReport:
    show = console.is_terminal and not options.get("dry_run")
    columns = (
        TextColumn("[bold]sending[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]} · failed {task.fields[failed]}"),
        TextColumn("· retrying {task.fields[retrying]} · {task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show, transient=False) as bar:
        task = bar.add_task("send", total=None, sent=0, failed=0, retrying=0, rate=0.0)

        def progress(state: SendProgress) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            bar.update(
                task,
                total=state.total,
                completed=state.done,
                sent=state.sent,
                failed=state.failed,
                retrying=state.retrying,
                rate=state.done / elapsed if elapsed > 0.5 else 0.0,
            )

        def notice(line: str) -> None:
            console.print(f"[dim]{escape(line)}[/dim]", markup=True)

        try:
            return send_issue(project, issue_id, progress=progress, notice=notice, **options)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted: messages in flight may go out twice (same Message-ID);"
                " run `digest send` again to finish",
            ) from None


def _summarise(report: SendReport) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True)
    counts = report.summary()
    if report.dry_run:
        console.print(
            f"issue {report.issue_id} ({report.issue_key}): dry run,"
            f" {plural(report.would_send, 'message')}"
            f" built, {report.run.skipped} would be skipped; nothing sent"
        )
        return
    if report.already_sent is not None:
        console.print(
            f"issue {report.issue_id} ({report.issue_key}) was already sent on"
            f" {report.already_sent:%Y-%m-%d %H:%M} UTC: nothing sent. Issue total: sent"
            f" {counts['sent']}, failed {counts['failed']}, skipped {counts['skipped']}"
        )
        return
    run = report.run
    console.print(
        f"issue {report.issue_id} ({report.issue_key}) via {report.transport}: this run sent"
        f" {run.sent}, failed {run.failed}, skipped {run.skipped}, deferred {run.deferred}."
        f" Issue total: sent {counts['sent']}, failed {counts['failed']},"
        f" skipped {counts['skipped']}, deferred {counts['deferred']}",
    )
    if report.replies:
        console.print(f"replies: {report.top_replies()}")
    if report.bounced:
        console.print(f"{plural(report.bounced, 'address')} suppressed as bounced")
    if run.failed:
        console.print(f"{run.failed} failed for good in this run")
    if report.remaining:
        console.print(
            f"{report.remaining} still deferred: run `digest send {report.issue_id}` later"
        )


def _test_copy(
    project: Project,
    issue_id: int | None,
    address: str,
    smtp_url: str | None,
    insecure: bool,
    backend: str | None,
    as_json: bool,
) -> None:
    copy = send_test_copy(
        project, issue_id, address, smtp_url=smtp_url, insecure=insecure, backend=backend
    )
    delivery = copy.delivery
    console.print(copy.said())
    if as_json:
        emit_json(
            {
                "to": delivery.envelope.recipient,
                "ok": delivery.ok,
                "reply": delivery.reply,
                "via": copy.via,
                "outbox": copy.outbox,
            }
        )
    if not delivery.ok:
        raise typer.Exit(EXIT_PARTIAL)
