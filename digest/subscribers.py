"""Subscriber lists: `subscribers/*.csv`, one file per list, header `email,name` plus any columns.

Minimal reader for the foundation; the subscribers issue adds import, validation and editing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from digest.models import Subscriber


def list_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.csv"))}


def read_list(path: Path) -> Iterator[Subscriber]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            email = (row.pop("email", "") or "").strip()
            if not email or "@" not in email:
                continue
            name = (row.pop("name", "") or "").strip()
            extra = {k: v for k, v in row.items() if k and v is not None}
            yield Subscriber(email=email, name=name, list=path.stem, attributes=extra)


def iter_subscribers(folder: Path, list_name: str | None = None) -> Iterator[Subscriber]:
    for name, path in list_files(folder).items():
        if list_name is None or name == list_name:
            yield from read_list(path)
