"""`digest init` and `digest demo`: create a project; run the sample digest end to end."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console
from digest.errors import EXIT_PARTIAL
from digest.project import init_project
from digest.wording import plural

# The sample articles were published in the week of 16 November 2026: the demo builds that week.
DEMO_AS_OF = "2026-11-21T00:00:00+00:00"


@command(app, "init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")] = Path("."),
    examples: Annotated[
        bool, typer.Option("--examples", help="Copy the sample articles into articles/.")
    ] = False,
) -> None:
    """Create a newsletter project: digest.toml, templates/, subscribers/, .digest/."""
    project = init_project(directory, with_examples=examples)
    console.print(f"Created a digest project in {project.root}")
    console.print("Next: edit digest.toml and subscribers/*.csv, then `digest build`.")


@command(app, "demo")
def demo_command(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path(
        "digest-demo"
    ),
) -> None:
    """Create a project with the sample articles, build their digest and deliver it to the
    sample subscribers through the outbox."""
    from digest.build import build_issue
    from digest.project import open_project
    from digest.send import send_issue

    if (directory / "digest.toml").exists():
        project = open_project(directory)
    else:
        project = init_project(directory, with_examples=True)
    report = build_issue(
        project,
        articles=[str(project.root / "articles")],
        as_of=datetime.fromisoformat(DEMO_AS_OF),
        key=f"demo-{datetime.now():%Y%m%dT%H%M%S%f}",
        exclude_sent=False,  # a second demo shows the same sample week again
        out=project.root / "issue",
    )
    if report.issue is None:
        raise typer.Exit(1)
    files = report.files
    sent = send_issue(project, report.issue)
    console.print(
        f"Built issue {report.issue.id} with {plural(len(report.issue.entries), 'story')}."
    )
    console.print(f"HTML: {files[1]}")
    console.print(f"Text: {files[2]}")
    console.print(
        f"Delivered {plural(sent.counts.sent, 'message')} to the outbox:"
        f" {project.outbox_dir / 'new'}"
    )
    if sent.exit_code or not sent.counts.sent:
        # a demo that delivered nothing (or not everything) must not look like it worked
        replies = f": {sent.top_replies()}" if sent.replies else ""
        console.print(
            f"not delivered: {sent.counts.failed} failed, {sent.remaining} deferred{replies}"
        )
        raise typer.Exit(EXIT_PARTIAL)
