"""The scraper's format: site chrome, the site's headline, body paragraphs, a metadata footer
(`By:`, `Title:`, `Sourced From:`, `Published Date:`), then more chrome.

    × UK PoliticsWorld PoliticsVideos...        ← navigation
    Subscribe To Our Newsletter                 ← chrome
    <site headline>
    <paragraph>
    ...
    By: A and B
    Title: <original title>
    Sourced From: www.example.com/path
    Published Date: Fri, 31 Dec 2021 01:07:50 +0000
    Read More / Did you miss our previous article... / <link>   ← chrome
"""

from __future__ import annotations

import re

from digest.models import Article
from digest.sources.chrome import is_chrome
from digest.sources.errors import ParseError
from digest.sources.fields import (
    decode_entities,
    ends_sentence,
    join_paragraphs,
    published_field,
    source_url_field,
    split_authors,
    truncated_field,
)

_FOOTER_KEYS = {
    "by": "by",
    "author": "by",
    "authors": "by",
    "title": "title",
    "sourced from": "url",
    "source": "url",
    "published date": "published",
    "published": "published",
    "date": "published",
}
_FOOTER_LINE = re.compile(
    r"^\s*(by|authors?|title|sourced from|source|published date|published|date)\s*:\s?(.*)$",
    re.IGNORECASE,
)
# "By Ruth Ellison and Mark Bevan" without a colon: only names (capitalised words joined by
# commas, "and", "&"), so "By the end of the year, ..." stays body text.
_NAME = r"[A-Z][\w.'’-]*"
_BYLINE = re.compile(rf"^\s*([Bb][Yy])\s+({_NAME}(?:(?:\s*[,&]\s*|\s+and\s+|\s+){_NAME})*)\s*$")
# The heading of a block about other stories, which may hold its own `Title:` lines.
_RELATED_HEADING = re.compile(
    r"^\s*(?:related(?: articles| stories| posts| content)?|see also|more stories"
    r"|you may also like|recommended(?: for you)?|more from [\w .]{1,60})\s*:?\s*$",
    re.IGNORECASE,
)
_MAX_HEADLINE_CHARS = 200


def _footer_field(line: str) -> tuple[str, str] | None:
    """(key, value) of a footer line, or None."""
    found = _FOOTER_LINE.match(line) or _BYLINE.match(line)
    return (_FOOTER_KEYS[found.group(1).lower()], found.group(2).strip()) if found else None


def find_footer(lines: list[str]) -> tuple[int, int] | None:
    """The [start, end) line range of the metadata footer: the last block of footer lines (blank
    lines between them allowed) holding a `Title:` and at least one more key, leaving out blocks
    under a "Related:" heading, which describe other stories. None when there is none."""
    found = _last_footer(lines)
    if found is None:
        return None
    heading = found[0] - 1
    while heading >= 0 and not lines[heading].strip():
        heading -= 1
    if heading >= 0 and _RELATED_HEADING.match(lines[heading]):
        return _last_footer(lines[:heading]) or found
    return found


def _last_footer(lines: list[str]) -> tuple[int, int] | None:
    end = len(lines)
    while end > 0:
        # Walk back to the last footer-looking line, then take the block around it.
        last = next((i for i in range(end - 1, -1, -1) if _FOOTER_LINE.match(lines[i])), None)
        if last is None:
            return None
        start = last
        keys = {field[0] for field in [_footer_field(lines[last])] if field}
        while True:
            before = start - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            field = _footer_field(lines[before]) if before >= 0 else None
            # across a blank line, a key the block already has is the body's ("Source: Reuters")
            if field is None or (before < start - 1 and field[0] in keys):
                break
            keys.add(field[0])
            start = before
        if "title" in keys and len(keys) >= 2:
            return start, last + 1
        end = start
    return None


def looks_scraped(text: str) -> bool:
    return find_footer(text.split("\n")) is not None


def parse_scraped(
    text: str, origin: str | None = None, learned: frozenset[str] = frozenset()
) -> Article:
    """The article in the scraper's format; `learned` are lines known to be the site's chrome."""
    lines = decode_entities(text).split("\n")
    footer = find_footer(lines)
    if footer is None:
        raise ParseError("no metadata footer (By:/Title:/Sourced From:/Published Date:)")
    start, end = footer
    fields: dict[str, str] = {}
    for line in lines[start:end]:
        field = _footer_field(line)
        if field:
            fields.setdefault(*field)

    warnings: list[str] = []
    content = [line for line in lines[:start] if not is_chrome(line, learned)]
    headline, body_lines = split_headline(content)
    body = join_paragraphs(body_lines)
    if not body:
        raise ParseError("no article body before the footer")

    title = " ".join(fields.get("title", "").split())
    if not title:
        if not headline:
            raise ParseError("no title: the footer's Title: is empty and there is no headline")
        title = headline
        warnings.append("footer Title: is empty; the site's headline is used")

    return Article(
        title=title,
        body=body,
        authors=split_authors(fields.get("by")),
        source_url=source_url_field(fields.get("url"), warnings),
        published=published_field(fields.get("published"), warnings),
        headline=headline if headline and _differs(headline, title) else None,
        truncated=truncated_field(body, warnings),
        warnings=warnings,
        origin=origin,
    )


def split_headline(lines: list[str]) -> tuple[str | None, list[str]]:
    """The site's headline is the first paragraph when it looks like one: a single short line
    followed by more text, and either not ending like a sentence or set apart by a gap of several
    blank lines (as the scraper writes it). Otherwise it is the lede and stays in the body."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None, []
    candidate = " ".join(lines[first].split())
    rest = lines[first + 1 :]
    gap = next((i for i, line in enumerate(rest) if line.strip()), None)
    if gap is None or gap == 0 or len(candidate) > _MAX_HEADLINE_CHARS:
        return None, lines[first:]  # alone, wrapped onto several lines, or too long
    if gap >= 2 or not ends_sentence(candidate):
        return candidate, rest
    return None, lines[first:]


def _differs(headline: str, title: str) -> bool:
    return headline.casefold() != title.casefold()
