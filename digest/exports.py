"""Files for people to open elsewhere (a spreadsheet, mostly): the CSV exports of subscribers and
of a send's failures.

A cell that begins with = + - @ (or a tab or carriage return) is a formula to a spreadsheet, and
the names and addresses in these files come from strangers (`=HYPERLINK(...)` as a sign-up's
name). Such a cell is written with a leading ' (OWASP's CSV injection rule), which spreadsheets
show as text. Export files hold addresses, so they are written owner-only (0600).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PRIVATE_MODE = 0o600


def cell(value: object) -> str:
    """`value` as a CSV cell a spreadsheet reads as text, never as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def row(values: Iterable[object]) -> list[str]:
    return [cell(value) for value in values]


def open_private(path: Path) -> TextIO:
    """`path` for writing text, created or truncated with mode 0600 (also when it existed with
    a wider one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
