"""Commands of this group (stub until its stage is built)."""

from __future__ import annotations

from digest.cli import app
from digest.cli._common import command
from digest.errors import NotBuiltYet


@command(app, "send", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def send_command() -> None:
    """Not built yet (issue 2)."""
    raise NotBuiltYet("digest send is not built yet (issue 2)")
