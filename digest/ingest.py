"""sources → store: read every source, store each article once, name every input that failed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from digest.sources import ParseFailure, read_source
from digest.sources.fetch import PrivatePolicy
from digest.store import Store


@dataclass
class IngestReport:
    added: int = 0
    known: int = 0
    failures: list[ParseFailure] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)  # what this ingest read, new or known

    @property
    def failed(self) -> int:
        return len(self.failures)


def ingest(
    store: Store,
    sources: Iterable[str],
    *,
    max_bytes: int = 5_000_000,
    timeout: float = 20.0,
    allow_private: PrivatePolicy = False,
    follow_links: bool = False,
) -> IngestReport:
    """Store the articles of every source. A bad input is recorded and the rest goes on. URLs
    are fetched from public addresses only unless `allow_private` ([sources] allow_private);
    headline-only feed entries are fetched from their links when `follow_links`."""
    report = IngestReport()
    for source in sources:
        for item in read_source(
            source,
            max_bytes=max_bytes,
            timeout=timeout,
            allow_private=allow_private,
            follow_links=follow_links,
        ):
            if isinstance(item, ParseFailure):
                report.failures.append(item)
                continue
            article_id, added = store.add_article(item)
            report.article_ids.append(article_id)
            if added:
                report.added += 1
            else:
                report.known += 1
    return report
