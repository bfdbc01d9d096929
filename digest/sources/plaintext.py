"""Plain text articles: the first non-empty line is the title, the rest the body
(as in the BBC News Summary data set). A scraped page without its metadata footer is read the
same way, after its site chrome is dropped: its headline is then the title.

Lines like `Published: 2022-01-09`, `Date: …`, `Source: https://…` or `By: …` among the first
lines (above or below the title) are the article's fields, not its text: they are read and left
out of the body."""

from __future__ import annotations

import re
from datetime import datetime

from digest.models import Article
from digest.sources.chrome import is_chrome
from digest.sources.errors import ParseError
from digest.sources.fields import (
    decode_entities,
    ends_mid_sentence,
    join_paragraphs,
    normalise_url,
    parse_published,
    split_authors,
)

_MAX_TITLE_CHARS = 300
# A body is prose when at least this share of its whitespace-separated tokens are words (letters,
# maybe with a quote or punctuation around them): /etc/passwd, a CSV file or a config file is
# made of tokens like `root:x:0:0:root:/root:/bin/bash` and is no article.
_MIN_WORD_SHARE = 0.5
_MIN_WORDS = 1
_WORD_TOKEN = re.compile(r"^[\"'“‘(\[]*[^\W\d_]+(?:[-'’][^\W\d_]+)*[\"'”’)\].,;:!?…]*$")
# how many non-empty lines at the top may be field lines (title included)
_FIELD_LINES = 6
_FIELD = re.compile(
    r"^\s*(published|date|posted|source|url|link|by|author|authors)\s*:\s*(\S.*?)\s*$",
    re.IGNORECASE,
)
_FIELD_NAMES = {
    "published": "published",
    "date": "published",
    "posted": "published",
    "source": "url",
    "url": "url",
    "link": "url",
    "by": "authors",
    "author": "authors",
    "authors": "authors",
}


class _Fields:
    def __init__(self) -> None:
        self.published: datetime | None = None
        self.url: str | None = None
        self.authors: list[str] = []
        self.warnings: list[str] = []

    def take(self, line: str) -> bool:
        """Read `line` when it is a field line whose value makes sense; False to keep it as
        text ("Date: to be announced" is a sentence, not a date)."""
        match = _FIELD.match(line)
        if not match:
            return False
        name, value = _FIELD_NAMES[match.group(1).lower()], match.group(2)
        if name == "published" and self.published is None:
            published, warnings = parse_published(value)
            if published is None:
                return False
            self.published = published
            self.warnings += warnings
            return True
        if name == "url" and self.url is None:
            self.url = normalise_url(value)
            return self.url is not None
        if name == "authors" and not self.authors and len(value) <= 200:
            self.authors = split_authors(value)
            return bool(self.authors)
        return False


def looks_like_prose(body: str) -> bool:
    """Whether the body is written in words, as an article is, rather than data."""
    tokens = body.split()
    words = sum(1 for token in tokens if _WORD_TOKEN.match(token))
    return words >= _MIN_WORDS and words >= _MIN_WORD_SHARE * len(tokens)


def _read_fields(lines: list[str]) -> tuple[_Fields, list[str]]:
    """The field lines among the first `_FIELD_LINES` non-empty lines, and the other lines."""
    fields = _Fields()
    kept: list[str] = []
    seen = 0
    for line in lines:
        if seen < _FIELD_LINES and line.strip():
            seen += 1
            if fields.take(line):
                continue
        kept.append(line)
    return fields, kept


def parse_plaintext(
    text: str, origin: str | None = None, learned: frozenset[str] = frozenset()
) -> Article:
    lines = [line for line in decode_entities(text).split("\n") if not is_chrome(line, learned)]
    fields, lines = _read_fields(lines)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ParseError("empty: no text")
    title = " ".join(lines[first].split())
    body = join_paragraphs(lines[first + 1 :])
    if not body:
        raise ParseError("no body: only a title line")
    if not looks_like_prose(body):
        raise ParseError(
            "not an article: no text in sentences (a data, configuration or program file?)"
        )
    warnings = [
        *fields.warnings,
        *([] if fields.url else ["no source URL"]),
        *([] if fields.published else ["no published date"]),
    ]
    if len(title) > _MAX_TITLE_CHARS:
        warnings.append(f"first line is {len(title)} characters long: is it really the title?")
    truncated = ends_mid_sentence(body)
    if truncated:
        warnings.append("body stops mid-sentence: marked truncated")
    return Article(
        title=title,
        body=body,
        authors=fields.authors,
        source_url=fields.url,
        published=fields.published,
        truncated=truncated,
        warnings=warnings,
        origin=origin,
    )
