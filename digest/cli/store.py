"""`digest store`: the state store's schema, and moving a project's state into PostgreSQL."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.cli._usage import typer_app

store_app = typer_app(
    help="The state store: migrate its schema, copy a project's SQLite state into PostgreSQL.",
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")


@command(store_app, "migrate")
def migrate_command() -> None:
    """Bring the store's schema up to this digest's version (every command also does on
    opening it; a deploy runs this first, once, before starting workers and replicas)."""
    from digest.project import open_project

    project = open_project(project_dir())
    try:
        store = project.store
        console.print(
            f"{store.target}: schema {store.schema_version}"
            f" ({store.db.applied} migration(s) applied now)"
        )
    finally:
        project.close()


@command(store_app, "copy")
def copy_command(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="PostgreSQL URL without the password (given in PGPASSWORD, "
            "DIGEST_DATABASE_PASSWORD or a pgpass file).",
        ),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Copy this project's SQLite state (.digest/) into the PostgreSQL database at --to.
    Resumable: run it again after an interruption; verified by counting every table."""
    from digest.errors import DigestError
    from digest.project import DB_NAME, open_project
    from digest.store import Store
    from digest.store.copy import CopyMismatch, copy_store
    from digest.store.database import check_database_url

    project = open_project(project_dir())
    source_path = project.state_dir / DB_NAME
    if not source_path.is_file():
        raise DigestError(f"{source_path}: no SQLite state to copy")
    url = check_database_url(to, "--to")
    with closing(Store(source_path)) as source, closing(Store.connect(url)) as destination:
        results = copy_store(
            source,
            destination,
            lambda r: console.print(
                f"{r.table}: {r.copied} copied; {r.source} here, {r.destination} there"
            ),
        )
    if json_output:
        emit_json({r.table: [r.copied, r.source, r.destination] for r in results})
    wrong = [r.table for r in results if not r.verified]
    if wrong:
        raise CopyMismatch(
            f"{destination.target}: the counts differ for {', '.join(wrong)} (the database held"
            " other rows, or another process wrote meanwhile); nothing was removed"
        )
    console.print(f"copied to {destination.target}; every table's count matches")
