"""A summary looked up in the store before it is computed (`digest build`, `issue add`).

`summary_key` names everything a summary depends on. `summarizer_version` fingerprints the
summariser itself, the source of this package and its weights plus the versions of the
libraries that score (sumy, PyStemmer), so a change to any of them (new weights, a new splitter)
makes new keys without anyone remembering to bump a number.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Protocol

from digest.summarize import summarize

_PACKAGE = Path(__file__).parent


class SummaryStore(Protocol):
    def cached_summary(self, key: str) -> list[str] | None: ...

    def save_summary(self, key: str, sentences: list[str]) -> None: ...


@lru_cache(maxsize=1)
def summarizer_version() -> str:
    digest = hashlib.sha256()
    for path in sorted([*_PACKAGE.glob("*.py"), *_PACKAGE.glob("*.json")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("sumy", "PyStemmer"):
        try:
            digest.update(f"{package} {metadata.version(package)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} -\0".encode())
    return digest.hexdigest()[:16]


def summary_key(
    body: str,
    *,
    title: str | None,
    truncated: bool,
    algorithm: str,
    sentences: int,
    words: int,
) -> str:
    """A hash of everything the summary of `body` depends on."""
    decided_by = [summarizer_version(), algorithm, sentences, words, truncated, title, body]
    return hashlib.sha256(json.dumps(decided_by, ensure_ascii=False).encode()).hexdigest()


def cached_summarize(
    store: SummaryStore,
    body: str,
    *,
    sentences: int,
    words: int,
    algorithm: str,
    truncated: bool = False,
    title: str | None = None,
) -> list[str]:
    """`summarize(...)`, read from `store` when it was computed before, else computed and kept."""
    key = summary_key(
        body,
        title=title,
        truncated=truncated,
        algorithm=algorithm,
        sentences=sentences,
        words=words,
    )
    chosen = store.cached_summary(key)
    if chosen is None:
        chosen = summarize(
            body,
            sentences=sentences,
            words=words,
            algorithm=algorithm,
            truncated=truncated,
            title=title,
        )
        store.save_summary(key, chosen)
    return chosen
