"""Commands of this group (stub until its stage is built)."""

from __future__ import annotations

from digest.cli import app
from digest.cli._common import command
from digest.errors import NotBuiltYet


@command(app, "preview", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def preview_command() -> None:
    """Not built yet (issue 5)."""
    raise NotBuiltYet("digest preview is not built yet (issue 5)")
