"""RSS 2.0 and Atom feeds, read with feedparser from bytes we fetched or read ourselves
(feedparser is never handed a URL or a path, so it never fetches or opens anything)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from digest.models import Article
from digest.sources.errors import ParseError
from digest.sources.fields import (
    html_to_text,
    normalise_url,
    parse_published,
    source_url_field,
    split_authors,
    truncated_field,
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
# RSS 2.0, Atom, RSS 1.0/0.90, and Microsoft's CDF (`<CHANNEL>`), which feedparser also reads
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_SNIFF_CHARS = 64 * 1024  # room for a long internal DTD subset before the root element
_ELLIPSIS_END = re.compile(r"(?:\[?\s*(?:…|\.\.\.)\s*\]?|\[\s*…\s*\])\s*$")


def xml_root(text: str) -> str | None:
    """The root element's name when `text` opens as an XML document (after any declaration,
    processing instructions, comments and DOCTYPE), else None. `<rdf:RDF>` gives `rdf:RDF`."""
    found = _XML_ROOT.match(text[:_SNIFF_CHARS])
    return found.group("root") if found else None


def is_feed_root(root: str | None) -> bool:
    """True for RSS 2.0 (`rss`), Atom (`feed`), RSS 1.0 (`rdf:RDF`) and CDF (`CHANNEL`), with
    any prefix."""
    return root is not None and root.rpartition(":")[2].lower() in _FEED_ROOTS


def looks_like_feed(head: bytes) -> bool:
    """True when the first bytes open an RSS, Atom or RSS 1.0 document (an ASCII-compatible
    encoding is assumed here; the caller checks decoded text too)."""
    prologue = head[:_SNIFF_CHARS].removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    return is_feed_root(xml_root(prologue))


_T = TypeVar("_T")
# A scheme-less link whose first segment ends like a file name is a relative path, not a host.
_FILE_NAME = re.compile(r"\.(?:s?html?|php\d?|aspx?|jspx?|cfm|cgi|xml|rss|pl)$", re.IGNORECASE)
_XML_ENCODING = re.compile(r"""(\A\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


@dataclass
class LinkOnly:
    """A feed entry with a headline and a link but no text: its page is the article."""

    title: str
    url: str
    published: datetime | None
    authors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def as_utf8_xml(text: str) -> bytes:
    """XML text we decoded ourselves (UTF-16/32 without a byte-order mark, say) as UTF-8 bytes
    whose declaration says so, for feedparser, which cannot sniff those encodings."""
    return _XML_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8", "replace")


def parse_feed(
    data: bytes, origin: str | None = None, url: str | None = None
) -> list[Article | LinkOnly]:
    """Every entry of the feed: an Article when it carries text, a LinkOnly when it has only a
    headline and a link. ParseError when it is not a readable feed or no entry has either.
    `url` is where the feed was fetched from, a base for relative links."""
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
    feed = parsed.get("feed") or {}
    bases = [b for b in (_absolute(feed.get("link"), url), url) if b]
    feed_author = _guard(lambda: str(feed.get("author") or ""), [], "")
    items: list[Article | LinkOnly] = []
    for entry in entries:
        item = _entry_item(entry, origin, feed_author, bases)
        if item is not None:
            item.warnings[:0] = feed_warnings
            items.append(item)
    if not items:
        raise ParseError("no entry in the feed has a title and text, or a link")
    return items


def _guard(compute: Callable[[], _T], warnings: list[str], default: _T, name: str = "") -> _T:
    """One field of one entry: whatever goes wrong reading it costs that field, not the feed."""
    try:
        return compute()
    except Exception as exc:  # hostile input through a third-party parser
        if name:
            warnings.append(f"{name} not readable ({exc.__class__.__name__}): left empty")
        return default


def _entry_item(
    entry: Any, origin: str | None, feed_author: str, bases: list[str]
) -> Article | LinkOnly | None:
    warnings: list[str] = []
    title = _guard(lambda: _entry_title(entry), warnings, "", "title")
    body = _guard(lambda: _entry_text(entry), warnings, "", "text")
    no_authors: list[str] = []
    authors = _guard(lambda: _entry_authors(entry, feed_author), warnings, no_authors, "authors")
    published = _guard(lambda: _entry_date(entry, warnings), warnings, None, "published date")
    link = _guard(lambda: _entry_link(entry, bases, warnings), warnings, None, "link")
    if not body:
        page = normalise_url(link)
        return LinkOnly(title, page, published, authors, warnings) if title and page else None
    if not title:
        title = body.split("\n", 1)[0][:120]
        warnings.append("entry has no title; its first line is used")
    return Article(
        title=title,
        body=body,
        authors=authors,
        source_url=source_url_field(link, warnings),
        published=published,
        # a feed's summary often ends in "…" where the publisher cut it
        truncated=truncated_field(body, warnings, cut=bool(_ELLIPSIS_END.search(body))),
        warnings=warnings,
        origin=origin,
    )


def _entry_title(entry: Any) -> str:
    """A title is text: entities are decoded (feedparser did it), and markup is stripped only
    where the feed says the title is HTML, so "Why Vec&lt;T&gt; wins" keeps its `<T>`."""
    detail = entry.get("title_detail") or {}
    raw = entry.get("title") or ""
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        raw = html_to_text(raw)
    return " ".join(raw.split())


def _entry_authors(entry: Any, feed_author: str) -> list[str]:
    names = [a.get("name", "") for a in entry.get("authors") or [] if isinstance(a, dict)]
    return split_authors([n for n in names if n] or entry.get("author") or feed_author)


def _entry_text(entry: Any) -> str:
    """The fullest text the entry carries: its content, else its summary."""
    candidates = [c.get("value", "") for c in entry.get("content") or [] if isinstance(c, dict)]
    candidates.append(entry.get("summary") or "")
    texts = [html_to_text(c) for c in candidates if c]
    return max(texts, key=len, default="")


def _entry_date(entry: Any, warnings: list[str]) -> datetime | None:
    """Our own reading of the entry's date, never feedparser's: it guesses (`2013-xx-27` as
    1 November, a 25th hour as the next day, an unknown month name as the 1st)."""
    for key in ("published", "updated", "created"):
        raw = str(entry.get(key) or "")
        if raw.strip():
            found, date_warnings = parse_published(raw)
            warnings.extend(date_warnings)
            return found
    warnings.append("no published date")
    return None


def _entry_link(entry: Any, bases: list[str], warnings: list[str]) -> str | None:
    """The entry's link made absolute: feedparser has applied any xml:base; what is still
    relative is resolved against the feed's own link, else the URL it was fetched from. With
    nothing to resolve against, a relative link is dropped: a host is never made up from it."""
    raw = (entry.get("link") or "").strip()
    if not raw or urlsplit(raw).scheme:
        return raw or None
    first = raw.split("/", 1)[0]
    if bases:
        host = (urlsplit(bases[0]).hostname or "").removeprefix("www.")
        if first.removeprefix("www.") == host:
            return raw  # "example.org/a" in a feed of example.org: the host, scheme left out
        return urljoin(bases[0], raw)
    if raw.startswith(("/", ".")) or _FILE_NAME.search(first) or "." not in first:
        warnings.append(f"relative link {raw[:80]!r} and no feed address to resolve it against")
        return None
    return raw  # "example.org/a": a host without its scheme


def _absolute(link: object, url: str | None) -> str | None:
    """The feed's own link as an absolute http(s) URL (resolved against `url`), else None."""
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = urljoin(url, link.strip()) if url else link.strip()
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _short(exc: object) -> str:
    return " ".join(str(exc).split())[:120] or "unreadable"
