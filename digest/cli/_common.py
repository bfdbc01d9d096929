"""What every command shares: the console, the project lookup and turning errors into exit codes."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

# the commands' console, re-exported: every command module prints on it
from digest.cli._console import console as console
from digest.cli._console import fail
from digest.cli._usage import DigestCommand
from digest.errors import DigestError
from digest.store.database import store_errors


class State:
    project_dir: Path | None = None


state = State()


def project_dir() -> Path:
    """The project folder: --project, else DIGEST_PROJECT, else the current directory."""
    import os

    if state.project_dir is not None:
        return state.project_dir
    env = os.environ.get("DIGEST_PROJECT")
    return Path(env) if env else Path.cwd()


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a DigestError (or Ctrl-C) into its one-line message and exit code."""
    try:
        yield
    except DigestError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except store_errors() as exc:
        raise fail(*store_failure(exc)) from None
    except KeyboardInterrupt:
        # what was done is stored; every command can be run again to finish
        raise fail("interrupted; run the command again to finish", 1) from None


def store_failure(exc: Exception) -> tuple[str, int]:
    """The line and exit code for a store that failed under a command. A damaged file is a
    person's job (exit 2, so cron does not retry it for ever); anything else may pass."""
    from digest.project import DB_NAME, STATE_DIR

    if not isinstance(exc, sqlite3.DatabaseError):  # PostgreSQL: a lost connection, a timeout
        return f"the PostgreSQL store failed: {' '.join(str(exc).split())}", 1
    path = project_dir() / STATE_DIR / DB_NAME
    if getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return (
            f"{path}: the state store is damaged ({exc}); restore it from a backup "
            "(`sqlite3 FILE .recover` may save what is left)",
            2,
        )
    return f"{path}: the state store failed: {exc}", 1


def command(app: typer.Typer, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """`app.command`, with DigestError turned into a clean exit."""
    kwargs.setdefault("cls", DigestCommand)

    def decorate(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with user_errors():
                return fn(*a, **kw)

        return app.command(*args, **kwargs)(wrapper)

    return decorate
