"""`digest subscribers ...` (stub until the subscribers issue)."""

from __future__ import annotations

import typer

from digest.cli import app
from digest.cli._common import command
from digest.errors import NotBuiltYet

subscribers_app = typer.Typer(help="Manage subscriber lists.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")


@command(subscribers_app, "list")
def list_command() -> None:
    """Not built yet (issue 7)."""
    raise NotBuiltYet("digest subscribers is not built yet (issue 7)")
