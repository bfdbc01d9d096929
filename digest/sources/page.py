"""HTML article pages: main text and metadata extracted with trafilatura (no hand-written
scraping). Markup in the text stays text; nothing is run."""

from __future__ import annotations

import re

from digest.models import Article
from digest.sources.chrome import is_chrome
from digest.sources.errors import ParseError
from digest.sources.feed import xml_root
from digest.sources.fields import (
    ends_sentence,
    published_field,
    source_url_field,
    split_authors,
    truncated_field,
)

_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.IGNORECASE | re.DOTALL,
)
_DATE_PARAMS = {
    "extensive_search": False,  # the page's own metadata, not dates guessed from its text
    "original_date": True,  # published, not last modified
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "max_date": "2199-12-31",
}
_MIN_BODY_CHARS = 40
# An XHTML document, or a saved fragment of a page (`<article>…`, `<div>…`): a page, not XML data.
_HTML_ROOTS = frozenset(
    {"html", "body", "main", "article", "section", "div", "p", "h1", "h2", "h3", "header", "table"}
)
# What pages put after the article's last sentence: never its text, and no sign of a cut.
_FURNITURE = re.compile(
    r"(?:\d+\s+)?(?:comments?|responses?|replies)(?:\s*\(\d+\))?"
    r"|(?:leave|add|post|show|view|load)\s+(?:a\s+|the\s+)?(?:comments?|reply)"
    r"|(?:source|sources|via|credit|image credit|photo credit)\s*:.*"
    r"|(?:filed under|tags?|topics?|categories|category|posted in|more on|related topics)\s*:.*"
    r"|(?:©|\(c\)|copyright)\s.*"
    r"|(?:share|print|email|advertisement|related|more|back to top|top)",
    re.IGNORECASE,
)
_MAX_FURNITURE_CHARS = 120
# A table row as trafilatura writes it (`| a | b |`), and the rule under a header row.
_TABLE_ROW = re.compile(r"^\|(.*)\|$")
_TABLE_RULE = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")
# A last paragraph this short is a credit or a label, not a sentence the page cut off.
_MIN_CUT_WORDS = 8
_CUT_ENDING = re.compile(r"[\w,;–—-]$")


def looks_like_html(text: str) -> bool:
    """An HTML document, or an XHTML one (which may open with an XML declaration)."""
    if _HTML_START.match(text[:4096]):
        return True
    root = xml_root(text)
    return root is not None and root.lower() in _HTML_ROOTS


def parse_page(html: str, origin: str | None = None, url: str | None = None) -> Article:
    """One article from a page. `url` is where it was fetched from, used when the page names no
    canonical address."""
    import trafilatura  # slow to import: only when a page turns up

    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,  # where a table is the article (results), it is its text
            date_extraction_params=_DATE_PARAMS,
        )
    except Exception as exc:  # a third-party parser on hostile input: any failure is this input's
        raise ParseError(f"page not readable: {exc.__class__.__name__}") from None
    if document is None or isinstance(document, dict):
        raise ParseError("no article text found in the page")
    paragraphs = _paragraphs(document.text or "")
    title = " ".join((document.title or "").split())
    if paragraphs and title and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]  # the page's <h1> repeats the title
    body = "\n\n".join(paragraphs)
    if len(body) < _MIN_BODY_CHARS:
        raise ParseError("no article text found in the page")
    warnings: list[str] = []
    if not title:
        title = paragraphs[0][:120]
        warnings.append("page has no title; its first line is used")

    return Article(
        title=title,
        body=body,
        authors=split_authors(document.author),
        source_url=source_url_field(document.url or url, warnings),
        published=published_field(document.date, warnings),
        truncated=truncated_field(body, warnings, check=stops_mid_sentence),
        warnings=warnings,
        origin=origin,
    )


def _paragraphs(text: str) -> list[str]:
    """trafilatura's lines as paragraphs: table rows as `a | b | c` text, the rule under a header
    row dropped, and the page's trailing furniture ("Comments", "SOURCE: ...", "Filed under:
    ...") cut off."""
    paragraphs = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if _TABLE_RULE.match(line):
            continue
        row = _TABLE_ROW.match(line)
        if row:
            line = " | ".join(cell.strip() for cell in row.group(1).split("|") if cell.strip())
        if line:
            paragraphs.append(line)
    while paragraphs and _is_furniture(paragraphs[-1]):
        paragraphs.pop()
    return paragraphs


def _is_furniture(paragraph: str) -> bool:
    if len(paragraph) > _MAX_FURNITURE_CHARS:
        return False
    return bool(_FURNITURE.fullmatch(paragraph)) or is_chrome(paragraph)


def stops_mid_sentence(body: str) -> bool:
    """True only where the text really stops inside a sentence: its last paragraph is prose (a
    sentence's worth of words, not a table row or a credit) ending in a word or a comma."""
    last = body.rstrip().rpartition("\n")[2].strip()
    if not last or ends_sentence(last) or " | " in last:
        return False
    return len(last.split()) >= _MIN_CUT_WORDS and bool(_CUT_ENDING.search(last))
