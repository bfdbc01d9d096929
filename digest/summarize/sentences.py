"""Offline sentence splitting and word tokenizing.

Sentences are returned as verbatim substrings of the body (with their offsets) so that a summary
can always be checked against the text it came from. pysbd does the splitting: it is rule-based and
needs no data download, unlike NLTK's punkt which sumy's default tokenizer wants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_LINE = re.compile(r"[^\n]+")
_SENTENCE_END = re.compile(r"""[.!?…]["'”’)\]]*\s*$""")
# A line at least this long that does not end a sentence is taken for hard-wrapped prose and joined
# to the next line; shorter lines (headings, bylines, captions) stand alone.
_WRAPPED_LINE_CHARS = 40


@dataclass(frozen=True)
class Span:
    """One sentence of a body: `text == body[start:end]`."""

    text: str
    start: int
    end: int
    paragraph: int  # index of the paragraph (block of lines) it belongs to
    first_in_paragraph: bool


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _blocks(body: str) -> list[tuple[int, int, int]]:
    """(start, end, paragraph) of each block of text that pysbd splits on its own."""
    blocks: list[tuple[int, int, int]] = []
    paragraph = -1
    previous_end = -1
    joinable = False
    for line in _LINE.finditer(body):
        if not line.group().strip():
            continue
        new_paragraph = previous_end < 0 or "\n" in body[previous_end : line.start()].replace(
            "\n", "", 1
        )
        if new_paragraph:
            paragraph += 1
        if joinable and not new_paragraph:
            start, _, para = blocks[-1]
            blocks[-1] = (start, line.end(), para)
        else:
            blocks.append((line.start(), line.end(), paragraph))
        text = line.group().rstrip()
        joinable = len(text) >= _WRAPPED_LINE_CHARS and not _SENTENCE_END.search(text)
        previous_end = line.end()
    return blocks


_QUOTES = '"“”'
# Sentence boundaries pysbd misses: a full stop followed by a quotation that opens a new sentence
# (`... weeks. "We are ...`), or a closing quote followed by a capital (`... said." The ...`).
# Also a full stop after an all-lowercase word or a number, then a capital (`children. The`):
# abbreviations that pysbd guards (`Mr.`, `U.S.`, `p.m.`) are capitalised or single letters.
_MISSED_BOUNDARY = re.compile(
    r"""(?<=[.!?])\s+(?=["“][A-Z])"""
    r"""|(?<=[.!?]["”])\s+(?=["“]?[A-Z])"""
    r"""|(?<=\b[a-z]{2}[.!?])\s+(?=[A-Z])|(?<=[a-z]{3}[.!?])\s+(?=[A-Z])"""
    r"""|(?<=\d\d[.!?])\s+(?=[A-Z])|(?<=%[.!?])\s+(?=[A-Z])"""
)


def _segment(block: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `block`, trimmed, quotes kept with their own sentence."""
    # Newlines inside a block are wrapping, not boundaries; same length so offsets stay valid.
    flat = block.replace("\n", " ").replace("\r", " ")
    pieces: list[tuple[int, int]] = []
    cursor = 0
    for segment in _segmenter().segment(flat):
        raw = segment.sent
        start = (
            segment.start if flat[segment.start : segment.end] == raw else flat.find(raw, cursor)
        )
        if start < 0:  # pysbd changed the text: leave this piece to the neighbours' gap
            continue
        cursor = start + len(raw)
        for match_start, match_end in _split_missed(flat, start, cursor):
            pieces.append((match_start, match_end))
    return _reattach_quotes(flat, pieces)


def _split_missed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [start]
    for match in _MISSED_BOUNDARY.finditer(text, start, end):
        cuts.extend((match.start(), match.end()))
    cuts.append(end)
    return [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _reattach_quotes(text: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """pysbd hands a closing quote to the next sentence (`" She said ...`): give it back."""
    fixed: list[tuple[int, int]] = []
    for raw_start, raw_end in pieces:
        start, end = _trim(text, raw_start, raw_end)
        if start == end:
            continue
        if fixed and text[start] in _QUOTES and (end - start == 1 or text[start + 1].isspace()):
            previous_start, _ = fixed[-1]
            fixed[-1] = (previous_start, start + 1)
            start, end = _trim(text, start + 1, end)
            if start == end:
                continue
        fixed.append((start, end))
    return fixed


def split_spans(body: str) -> list[Span]:
    """Every sentence of `body` in document order, with offsets into `body`."""
    spans: list[Span] = []
    last_paragraph = -1
    for block_start, block_end, paragraph in _blocks(body):
        for start, end in _segment(body[block_start:block_end]):
            absolute_start, absolute_end = block_start + start, block_start + end
            spans.append(
                Span(
                    body[absolute_start:absolute_end],
                    absolute_start,
                    absolute_end,
                    paragraph,
                    first_in_paragraph=paragraph != last_paragraph,
                )
            )
            last_paragraph = paragraph
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each a verbatim substring of it, in order."""
    return [span.text for span in split_spans(text)]


def words(text: str) -> list[str]:
    """Word tokens (letters/digits, with inner apostrophes), as written."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return len(words(text))


class OfflineTokenizer:
    """A drop-in for sumy's `Tokenizer` that needs no NLTK data (works with `PlaintextParser`)."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))
