"""`digest bounces`: read the bounce mailbox; `digest suppressions`: who is not mailed, and why."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.errors import DigestError
from digest.sources.errors import printable
from digest.wording import plural

REASONS = ("unsubscribed", "bounced", "complained")


@command(app, "bounces")
def bounces_command(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="[SOURCE]",
            help="A Maildir folder, an mbox file or imaps://user@host[:port]/MAILBOX"
            " (default: `bounces.source`).",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="The summary as JSON on stdout.")
    ] = False,
    allow_plaintext: Annotated[
        bool,
        typer.Option(
            "--allow-plaintext", help="Allow imap:// without TLS (a loopback test server only)."
        ),
    ] = False,
) -> None:
    """Read bounces, complaints and mailto: unsubscribes from the bounce mailbox: suppress hard
    bounces, complaints and unsubscribes, count soft bounces, and move what was handled. The IMAP
    password comes from DIGEST_IMAP_PASSWORD."""
    from digest.bounces import process_bounces
    from digest.project import open_project

    project = open_project(project_dir())
    report = process_bounces(
        project, source, allow_plaintext=allow_plaintext, on_left=lambda line: console.print(line)
    )
    if json_out:
        emit_json(report.to_json())
    else:
        for outcome in report.outcomes:
            console.print(
                f"{outcome.email}: {outcome.kind}, {outcome.action.replace('-', ' ')}"
                f" ({outcome.detail})"
            )
        for line in report.unmatched:
            console.print(f"{report.source}: {line}: moved, nothing to do")
        print(report.summary())
    raise typer.Exit(report.exit_code)


@command(app, "suppressions")
def suppressions_command(
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Only unsubscribed, bounced or complained addresses."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per suppression on stdout.")
    ] = False,
) -> None:
    """Every suppressed address with its reason, when it was set and what showed it (a bounce's
    status and diagnostic, a complaint's feedback type)."""
    from digest.project import open_project

    if reason is not None and reason not in REASONS:
        raise DigestError(f"--reason {reason!r}: choose one of {', '.join(REASONS)}")
    rows = open_project(project_dir()).store.suppression_list(reason)
    for row in rows:
        if json_out:
            emit_json(row)
        else:
            email = printable(row["email"] or "(forgotten)")
            detail = f"\t{printable(row['detail'])}" if row["detail"] else ""
            print(f"{row['suppressed']}\t{row['reason']}\t{email}{detail}")
    if not json_out:
        console.print(plural(len(rows), "suppressed address", "suppressed addresses"))
