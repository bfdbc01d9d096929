"""`digest preview`: look at an issue before it goes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, project_dir
from digest.errors import DigestError


@command(app, "preview")
def preview_command(
    issue_id: Annotated[
        int | None, typer.Argument(metavar="[ISSUE]", help="Issue id (default: the latest).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the HTML to FILE instead of serving it.")
    ] = None,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            help="Port on 127.0.0.1 (default: any free one; a mail catcher may hold 8025).",
        ),
    ] = 0,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
) -> None:
    """Open the editor's desk for an issue on 127.0.0.1: the issue as it will be mailed (a
    draft re-rendered with the current templates) with the controls to shape and approve it."""
    from digest.project import open_project
    from digest.web.desk_server import DeskServer
    from digest.web.desk_view import Preview

    if not 0 <= port <= 65535:
        raise DigestError(f"--port {port}: must be between 0 and 65535")
    project = open_project(project_dir())
    try:
        store = project.store
        issue = store.issue(issue_id) if issue_id is not None else store.latest_issue()
    finally:
        project.close()
    preview = Preview(
        issue=issue, config=project.config, template_dirs=project.template_dirs, root=project.root
    )

    if out is not None:
        try:
            out.write_text(preview.html(), encoding="utf-8")
        except OSError as exc:
            raise DigestError(f"{out}: cannot write: {exc.strerror}") from None
        console.print(f"wrote issue {issue.id} to {out}")
        return

    try:
        server = DeskServer(preview, port=port)
    except OSError as exc:
        raise DigestError(f"--port {port}: cannot listen on 127.0.0.1: {exc.strerror}") from None
    # the links hold the desk's token: only whoever can read this terminal can open it
    console.print(
        f"editor's desk for issue {issue.id} ({issue.status}: {issue.subject}) at"
        f" {server.link('desk')}  issue: {server.link()}  text: {server.link('text')}"
        " — reloads when a template changes; Ctrl-C stops"
    )
    if not no_open:
        import webbrowser

        from digest.web.desk_server import opener_file

        # through a private file, as Jupyter does: a URL on the browser's command line (and so
        # its token) would be in every local user's `ps`
        webbrowser.open(opener_file(server).as_uri())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
