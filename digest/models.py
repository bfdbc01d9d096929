"""The data that flows between pipeline stages.

Plain dataclasses: every stage takes and returns these, never rows or dicts, so a stage can be
swapped without its neighbours noticing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Article:
    """One article as a source delivered it, after parsing (sources → store)."""

    title: str
    body: str
    authors: list[str] = field(default_factory=list)
    source_url: str | None = None
    published: datetime | None = None  # always timezone-aware, or None when unknown
    headline: str | None = None  # the re-publishing site's own headline, when it differs
    truncated: bool = False  # the body stops mid-sentence; its last fragment is never summarised
    warnings: list[str] = field(default_factory=list)
    origin: str | None = None  # file path or URL it was read from
    id: int | None = None  # set once stored
    political_score: float | None = None  # cached classifier output
    sources: list[str] = field(default_factory=list)  # every article URL it was found at

    @property
    def source_name(self) -> str:
        """The site name shown beside the title: the URL's host without `www.`."""
        from urllib.parse import urlsplit

        if not self.source_url:
            return ""
        host = urlsplit(self.source_url).hostname or ""
        return host.removeprefix("www.")


@dataclass
class Subscriber:
    email: str
    name: str = ""
    list: str = "default"
    attributes: dict[str, str] = field(default_factory=dict)
    status: str = "active"  # active | pending | unsubscribed | bounced | complained


@dataclass
class IssueEntry:
    """One story in an issue: a selected article, its summary, and the other sites that ran it."""

    article_id: int
    title: str
    source_url: str | None
    source_name: str
    published: datetime | None
    authors: list[str]
    summary: list[str]
    political_score: float
    other_sources: list[str] = field(default_factory=list)
    # the other articles this entry stands for (copies, other sites' versions of the story):
    # recorded as sent with it, so none of them comes back in a later issue
    merged_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source_url": self.source_url,
            "published": self.published.isoformat() if self.published else None,
            "authors": self.authors,
            "summary": self.summary,
            "political_score": self.political_score,
            "other_sources": self.other_sources,
        }


@dataclass
class Issue:
    """A built digest. Frozen once stored: preview, web version and send all show these parts."""

    id: int
    key: str  # the period it covers, e.g. "2026-W48"; unique
    subject: str
    created: datetime
    entries: list[IssueEntry]
    html: str = ""  # inlined, with personalisation placeholders
    text: str = ""
    status: str = "draft"  # draft | approved | sending | sent (docs/editing.md)
    intro: str = ""  # the editor's Markdown, shown above the stories
    subject_custom: bool = False  # the editor chose the subject (else: name + lead title)
    runners_up: list[RunnerUp] = field(default_factory=list)
    # random, per issue: keys its Message-IDs (digest.message.message_id); '' for older issues
    message_id_key: str = field(default="", repr=False)
    send_at: datetime | None = None  # the editor's send time (`digest issue schedule`)


@dataclass
class RunnerUp:
    """A candidate the selection left out of an issue, for an editor to swap in."""

    article_id: int
    title: str
    source_name: str
    score: float  # the selection's ranking score
    political_score: float
    other_sources: list[str] = field(default_factory=list)
    merged_ids: list[int] = field(default_factory=list)
    # a development of a story already sent ("update to a story sent in issue 3 …"): never
    # taken unasked, offered here for the editor to choose
    update_of: str = ""
