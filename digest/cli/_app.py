"""The root `digest` app and its global options. Each command module registers its commands on
`app` when imported; `digest.cli` imports them all, so `digest.cli.app` is the whole CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli._common import state
from digest.cli._usage import DigestGroup

app = typer.Typer(
    name="digest",
    help="Build a weekly digest of political news and mail it to subscribers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=DigestGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from digest import __version__

        print(f"digest {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    project: Annotated[
        Path | None,
        typer.Option(
            "--project", "-p", help="Project folder (default: $DIGEST_PROJECT or the current one)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    state.project_dir = project
