"""The command line: a thin layer over the library API, one module per group of commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli._common import state

app = typer.Typer(
    name="digest",
    help="Build a weekly digest of political news and mail it to subscribers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    project: Annotated[
        Path | None,
        typer.Option(
            "--project", "-p", help="Project folder (default: $DIGEST_PROJECT or the current one)."
        ),
    ] = None,
) -> None:
    state.project_dir = project


# Each module registers its commands on `app` when imported.
from digest.cli import (  # noqa: E402,F401
    articles,
    editorial,
    email,
    projects,
    schedule,
    sending,
    subscribers,
    web,
)


def main() -> None:
    app()
