"""The web archive as an Atom feed (`/archive/feed.xml`): one entry per sent issue, newest first.

Built with ElementTree, so every title and name is escaped by the serialiser; dates are RFC 3339
in UTC, ids the issues' web addresses (RFC 4287: a feed has an author, an id, a title, an
updated date and a link to itself; each entry an id, a title, an updated date and a link).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree

from digest.models import Issue

ATOM = "http://www.w3.org/2005/Atom"
FEED_PATH = "/archive/feed.xml"
MAX_ENTRIES = 50


def _rfc3339(moment: datetime) -> str:
    when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ElementTree.Element, tag: str, text: str = "", **attributes: str) -> None:
    child = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text:
        child.text = text


def atom_feed(issues: Sequence[tuple[Issue, datetime]], *, name: str, base_url: str) -> bytes:
    """The feed of `issues` (each with when its send finished, or began), newest first."""
    ElementTree.register_namespace("", ATOM)
    base = base_url.rstrip("/")
    newest = sorted(issues, key=lambda pair: pair[1], reverse=True)[:MAX_ENTRIES]
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"{base}/")
    _add(feed, "title", name)
    _add(feed, "updated", _rfc3339(newest[0][1] if newest else datetime(1970, 1, 1, tzinfo=UTC)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}{FEED_PATH}")
    _add(feed, "link", rel="alternate", type="text/html", href=f"{base}/")
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _add(author, "name", name)
    for issue, sent in newest:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        url = f"{base}/issues/{issue.id}"
        _add(entry, "id", url)
        _add(entry, "title", issue.subject)
        _add(entry, "updated", _rfc3339(sent))
        _add(entry, "published", _rfc3339(sent))
        _add(entry, "link", rel="alternate", type="text/html", href=url)
        stories = "; ".join(e.title for e in issue.entries)
        if stories:
            _add(entry, "summary", stories)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
