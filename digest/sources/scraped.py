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
from digest.sources.errors import ParseError
from digest.sources.fields import (
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
}
_FOOTER_LINE = re.compile(
    r"^\s*(by|authors?|title|sourced from|source|published date|published)\s*:\s?(.*)$",
    re.IGNORECASE,
)
# Whole lines that are the site's furniture, never article text.
_CHROME_LINE = re.compile(
    r"^\s*(?:[×☰≡]\s.*"
    r"|read more|share(?: this)?(?: article)?|advertisement|skip to (?:main )?content"
    r")\s*$",
    re.IGNORECASE,
)
# Chrome recognised by the words it holds, but only on a short line: a body paragraph that merely
# mentions a privacy policy or a newsletter is article text.
_SHORT_CHROME_LINE = re.compile(
    r"subscribe to our newsletter|privacy policy.*terms and conditions"
    r"|^\s*did you miss our previous article",
    re.IGNORECASE,
)
_MAX_CHROME_CHARS = 80
_MAX_HEADLINE_CHARS = 200


def find_footer(lines: list[str]) -> tuple[int, int] | None:
    """The [start, end) line range of the last metadata block holding a `Title:` and at least one
    more footer key, or None."""
    end = len(lines)
    while end > 0:
        # Walk back to the last footer-looking line, then take the contiguous block around it.
        last = next((i for i in range(end - 1, -1, -1) if _FOOTER_LINE.match(lines[i])), None)
        if last is None:
            return None
        start = last
        while start > 0 and _FOOTER_LINE.match(lines[start - 1]):
            start -= 1
        keys = {
            _FOOTER_KEYS[m.group(1).lower()]
            for m in map(_FOOTER_LINE.match, lines[start : last + 1])
            if m
        }
        if "title" in keys and len(keys) >= 2:
            return start, last + 1
        end = start
    return None


def looks_scraped(text: str) -> bool:
    return find_footer(text.split("\n")) is not None


def parse_scraped(text: str, origin: str | None = None) -> Article:
    lines = text.split("\n")
    footer = find_footer(lines)
    if footer is None:
        raise ParseError("no metadata footer (By:/Title:/Sourced From:/Published Date:)")
    start, end = footer
    fields: dict[str, str] = {}
    for line in lines[start:end]:
        match = _FOOTER_LINE.match(line)
        if match:
            fields.setdefault(_FOOTER_KEYS[match.group(1).lower()], match.group(2).strip())

    warnings: list[str] = []
    content = [line for line in lines[:start] if not _is_chrome(line)]
    headline, body_lines = _split_headline(content)
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


def _is_chrome(line: str) -> bool:
    if _CHROME_LINE.match(line):
        return True
    return len(line.strip()) <= _MAX_CHROME_CHARS and bool(_SHORT_CHROME_LINE.search(line))


def _split_headline(lines: list[str]) -> tuple[str | None, list[str]]:
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
