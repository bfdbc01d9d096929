"""The command line: a thin layer over the library API, one module per group of commands.

Importing this package loads nothing heavy: the typer application (`app`, in
`digest.cli.commands`) is imported on first use, and `main` runs a well-formed
`digest summarize … --json` without it (`digest.cli.quick`), so a process that summarises
articles starts in milliseconds rather than paying for typer, rich and every command's imports.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    app: typer.Typer


def __getattr__(name: str) -> Any:
    if name == "app":
        from digest.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (`kill`, `systemctl stop`) unwinds as Ctrl-C does: the work done is kept, the
    # command says how to finish, and a progress bar gives the terminal its cursor back.
    signal.signal(signal.SIGTERM, _interrupt)
    from digest.redact import install

    install()
    from digest.cli.quick import run_quick

    code = run_quick(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from digest.cli.commands import app

    app()
