"""The whole typer application: the root app (`_app.py`) with every command module imported,
each of which registers its commands on it. `digest.cli.app` loads this on first use."""

from __future__ import annotations

from digest.cli import (  # noqa: F401
    articles,
    bounces,
    editorial,
    email,
    issues,
    projects,
    schedule,
    secret,
    sending,
    store,
    subscribers,
    web,
)
from digest.cli._app import app

__all__ = ["app"]
