"""Plain text articles: the first non-empty line is the title, the rest the body
(as in the BBC News Summary data set). A scraped page without its metadata footer is read the
same way, after its site chrome is dropped: its headline is then the title."""

from __future__ import annotations

from digest.models import Article
from digest.sources.chrome import is_chrome
from digest.sources.errors import ParseError
from digest.sources.fields import decode_entities, ends_mid_sentence, join_paragraphs

_MAX_TITLE_CHARS = 300


def parse_plaintext(
    text: str, origin: str | None = None, learned: frozenset[str] = frozenset()
) -> Article:
    lines = [line for line in decode_entities(text).split("\n") if not is_chrome(line, learned)]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ParseError("empty: no text")
    title = " ".join(lines[first].split())
    body = join_paragraphs(lines[first + 1 :])
    if not body:
        raise ParseError("no body: only a title line")
    warnings: list[str] = ["no source URL", "no published date"]
    if len(title) > _MAX_TITLE_CHARS:
        warnings.append(f"first line is {len(title)} characters long: is it really the title?")
    truncated = ends_mid_sentence(body)
    if truncated:
        warnings.append("body stops mid-sentence: marked truncated")
    return Article(title=title, body=body, truncated=truncated, warnings=warnings, origin=origin)
