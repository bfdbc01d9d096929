"""The console every command prints on, and the one line a failed command ends with. Below both
`_common` (commands) and `_usage` (usage errors), so neither has to import the other for it."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

# Human output goes to stderr so that stdout stays clean for --json readers. Markup is off by
# default: titles, addresses and server replies are data, and "[/x]" in one must print as is.
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def fail(message: str, code: int = 2) -> typer.Exit:
    from digest.redact import redact

    console.print(f"[red]error:[/red] {escape(redact(message))}", markup=True)
    return typer.Exit(code)
