"""RSS 2.0 and Atom feeds, read with feedparser from bytes we fetched or read ourselves
(feedparser is never handed a URL or a path, so it never fetches or opens anything)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from digest.models import Article
from digest.sources.errors import ParseError
from digest.sources.fields import (
    html_to_text,
    parse_published,
    source_url_field,
    split_authors,
    truncated_field,
    unknown_time_zone,
)

# The XML prologue: declaration, processing instructions (`<?xml-stylesheet …?>`), comments and a
# DOCTYPE with or without an internal subset, then the root element's name. Each part is written
# so that it cannot backtrack into the next (hostile input must not make it slow).
_XML_ROOT = re.compile(
    r"""\A\s*(?:
        <\?[^?]*(?:\?(?!>)[^?]*)*\?>\s*
      | <!--[^-]*(?:-(?!->)[^-]*)*-->\s*
      | <!(?i:DOCTYPE)\s[^\[>]*(?:\[[^\]]*\][^>]*)?>\s*
    )*<(?P<root>[A-Za-z_][\w.:-]*)""",
    re.VERBOSE,
)
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
_SNIFF_CHARS = 64 * 1024  # room for a long internal DTD subset before the root element
_ELLIPSIS_END = re.compile(r"(?:\[?\s*(?:…|\.\.\.)\s*\]?|\[\s*…\s*\])\s*$")


def xml_root(text: str) -> str | None:
    """The root element's name when `text` opens as an XML document (after any declaration,
    processing instructions, comments and DOCTYPE), else None. `<rdf:RDF>` gives `rdf:RDF`."""
    found = _XML_ROOT.match(text[:_SNIFF_CHARS])
    return found.group("root") if found else None


def is_feed_root(root: str | None) -> bool:
    """True for RSS 2.0 (`rss`), Atom (`feed`) and RSS 1.0 (`rdf:RDF`), with any prefix."""
    return root is not None and root.rpartition(":")[2] in _FEED_ROOTS


def looks_like_feed(head: bytes) -> bool:
    """True when the first bytes open an RSS, Atom or RSS 1.0 document (an ASCII-compatible
    encoding is assumed here; the caller checks decoded text too)."""
    prologue = head[:_SNIFF_CHARS].removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    return is_feed_root(xml_root(prologue))


def parse_feed(data: bytes, origin: str | None = None) -> list[Article]:
    """Every entry of the feed; ParseError when it is not a readable feed or has no entries."""
    import feedparser  # slow to import: only when a feed turns up

    try:
        parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # a third-party parser on hostile input: any failure is this input's
        raise ParseError(f"malformed feed: {exc.__class__.__name__}") from None
    entries = parsed.get("entries") or []
    if not entries:
        if parsed.get("bozo"):
            raise ParseError(f"malformed feed: {_short(parsed.get('bozo_exception'))}")
        raise ParseError("feed has no entries")
    feed_warnings = []
    if parsed.get("bozo"):
        feed_warnings.append(
            f"feed is not well-formed ({_short(parsed.get('bozo_exception'))}); read leniently"
        )
    feed_author = parsed.get("feed", {}).get("author")
    articles = []
    for entry in entries:
        article = _entry_article(entry, origin, feed_author)
        if article is not None:
            article.warnings[:0] = feed_warnings
            articles.append(article)
    if not articles:
        raise ParseError("no entry in the feed has a title and text")
    return articles


def _entry_article(entry: Any, origin: str | None, feed_author: str | None) -> Article | None:
    title = " ".join(html_to_text(entry.get("title") or "").split())
    body = _entry_text(entry)
    if not body:
        return None
    warnings: list[str] = []
    if not title:
        title = body.split("\n", 1)[0][:120]
        warnings.append("entry has no title; its first line is used")

    names = [a.get("name", "") for a in entry.get("authors") or [] if isinstance(a, dict)]
    authors = split_authors([n for n in names if n] or entry.get("author") or feed_author)

    published, date_warnings = _entry_date(entry)
    warnings.extend(date_warnings)

    return Article(
        title=title,
        body=body,
        authors=authors,
        source_url=source_url_field(entry.get("link"), warnings),
        published=published,
        # a feed's summary often ends in "…" where the publisher cut it
        truncated=truncated_field(body, warnings, cut=bool(_ELLIPSIS_END.search(body))),
        warnings=warnings,
        origin=origin,
    )


def _entry_text(entry: Any) -> str:
    """The fullest text the entry carries: its content, else its summary."""
    candidates = [c.get("value", "") for c in entry.get("content") or [] if isinstance(c, dict)]
    candidates.append(entry.get("summary") or "")
    texts = [html_to_text(c) for c in candidates if c]
    return max(texts, key=len, default="")


def _entry_date(entry: Any) -> tuple[datetime | None, list[str]]:
    for key in ("published", "updated", "created"):
        raw = entry.get(key)
        if not raw:
            continue
        found, warnings = parse_published(raw)
        if found is not None:
            return found, warnings
        # feedparser knows more date dialects, but it reads a zone it does not know as UTC
        parsed = entry.get(f"{key}_parsed")
        if parsed and unknown_time_zone(raw) is None:
            year, month, day, hour, minute, second = parsed[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC), []
        return None, warnings
    return None, ["no published date"]


def _short(exc: object) -> str:
    return " ".join(str(exc).split())[:120] or "unreadable"
