"""The command line: a thin layer over the library API, one module per group of commands."""

from __future__ import annotations

import signal

# Each module registers its commands on `app` (digest/cli/_app.py) when imported.
from digest.cli import (  # noqa: F401
    articles,
    bounces,
    editorial,
    email,
    issues,
    projects,
    schedule,
    sending,
    store,
    subscribers,
    web,
)
from digest.cli._app import app

__all__ = ["app", "main"]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (`kill`, `systemctl stop`) unwinds as Ctrl-C does: the work done is kept, the
    # command says how to finish, and a progress bar gives the terminal its cursor back.
    signal.signal(signal.SIGTERM, _interrupt)
    app()
