"""HTML article pages: main text and metadata extracted with trafilatura (no hand-written
scraping). Markup in the text stays text; nothing is run."""

from __future__ import annotations

import re

from digest.models import Article
from digest.sources.errors import ParseError
from digest.sources.feed import xml_root
from digest.sources.fields import (
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


def looks_like_html(text: str) -> bool:
    """An HTML document, or an XHTML one (which may open with an XML declaration)."""
    if _HTML_START.match(text[:4096]):
        return True
    root = xml_root(text)
    return root is not None and root.lower() == "html"


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
            include_tables=False,
            date_extraction_params=_DATE_PARAMS,
        )
    except Exception as exc:  # a third-party parser on hostile input: any failure is this input's
        raise ParseError(f"page not readable: {exc.__class__.__name__}") from None
    if document is None or isinstance(document, dict):
        raise ParseError("no article text found in the page")
    paragraphs = [" ".join(line.split()) for line in (document.text or "").split("\n")]
    paragraphs = [p for p in paragraphs if p]
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
        truncated=truncated_field(body, warnings),
        warnings=warnings,
        origin=origin,
    )
