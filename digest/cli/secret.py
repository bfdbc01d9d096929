"""`digest secret`: which secrets sign and verify links, and giving up an old one's links."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, project_dir
from digest.cli._usage import typer_app

secret_app = typer_app(
    help="The secrets that sign unsubscribe and preferences links (docs/deploy.md).",
    no_args_is_help=True,
)
app.add_typer(secret_app, name="secret")


@command(secret_app, "status")
def status_command() -> None:
    """List the fingerprints of the secrets that signed links, and whether each still verifies."""
    from digest.keys import fingerprint, forgotten_secrets
    from digest.project import open_project
    from digest.tokens import load_verification_secrets

    project = open_project(project_dir())
    try:
        config = project.config
        verify = load_verification_secrets(
            project.state_dir, config.secret, config.previous_secrets
        )
        forgotten = forgotten_secrets(project.store, verify)
        print(f"{fingerprint(verify[0])}  signs (and verifies)")
        for secret in verify[1:]:
            print(f"{fingerprint(secret)}  verifies")
        for fp, used in forgotten.items():
            print(f"{fp}  signed since {used[:10]}; no longer held: its links are refused")
    finally:
        project.close()


@command(secret_app, "retire")
def retire_command(
    fingerprints: Annotated[
        list[str], typer.Argument(help="Fingerprints from `digest secret status`.")
    ],
) -> None:
    """Give up the links signed by these old secrets: they stop working, and digest stops
    refusing to run without them."""
    from digest.project import open_project

    project = open_project(project_dir())
    try:
        retired = project.store.retire_signing_fingerprints(fingerprints)
        console.print(f"retired {retired} secret(s); links they signed no longer work")
    finally:
        project.close()
