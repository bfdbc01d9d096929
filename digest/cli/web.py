"""Commands of this group (stub until its stage is built)."""

from __future__ import annotations

from digest.cli import app
from digest.cli._common import command
from digest.errors import NotBuiltYet


@command(app, "serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve_command() -> None:
    """Not built yet (issue 7)."""
    raise NotBuiltYet("digest serve is not built yet (issue 7)")
