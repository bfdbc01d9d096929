"""Offline sentence splitting and word tokenizing, built for throughput.

Sentences are returned as verbatim substrings of the body (with their offsets) so that a summary
can always be checked against the text it came from. The splitter is one compiled regular
expression that finds every place a sentence could end (a full stop, `?`, `!` or an ellipsis,
any closing quotes or brackets, then white space) and a few set look-ups that decide whether it
does: not after a title (`Mr.`, `Gov.`), an initial (`George W. Bush`) or, unless a sentence
plainly starts next, an abbreviation that may also end one (`U.S.`, `p.m.`, `Inc.`, `etc.`);
never before a lower-case word. It needs no data download (unlike NLTK's punkt, which sumy's
default tokenizer wants) and costs tens of microseconds an article, linear in its length.
`bench/sentences.py` compares it with pysbd, the splitter it replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_LINE = re.compile(r"[^\n]+")
_SENTENCE_END = re.compile(r"""[.!?…]["'”’)\]]*\s*$""")
# A line at least this long that does not end a sentence is taken for hard-wrapped prose and joined
# to the next line; shorter lines (headings, bylines, captions) stand alone.
_WRAPPED_LINE_CHARS = 40

# Where a sentence may end: terminators, then closing quotes or brackets (they stay with the
# sentence they close), then white space, then any opening quotes or brackets and the first
# character of what follows (none at the end of the block). A quote mark set off by spaces
# (`body. ' Also`) may close the sentence before it or open the next: `detached` holds it.
_CANDIDATE = re.compile(
    r"""(?P<stop>[.!?…]+)["'”’)\]]*(?:\s+(?P<detached>["'”’]+)(?=\s))?(?P<gap>\s+)"""
    r"""["'“‘(\[]*(?P<first>.)?"""
)
# quote marks, not apostrophes: a single one only where it does not stand inside a word
_QUOTE_MARK = re.compile(r"""["“”]|(?<!\w)['‘’]|['‘’](?!\w)""")
_QUOTES = frozenset("\"'“‘")
_OPENERS = frozenset("\"'“‘([")
_LONGEST_ABBREVIATION = 12  # characters looked back for the word before a full stop


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Titles before a name: a full stop after one never ends a sentence.
_TITLES = _wordset(
    """mr mrs ms messrs mme mlle dr prof gov sen rep gen col lt sgt capt cmdr adm maj brig cpl
    pvt rev fr hon pres supt det insp atty amb ald st"""
)
# Abbreviations that may also end a sentence: one ends it only when a sentence plainly starts
# next (`... in the U.S. The bill`, not `the U.S. Senate`, `No. 10`, `Jan. 5` or `vs. Smith`).
_ABBREVIATIONS = _wordset(
    """no nos vs v etc approx est dept fig figs vol vols pp p ed eds inc ltd co corp bros plc llc
    assn univ ave blvd rd mt ft jr sr esq al cf ca viz"""
)
# The same, as written with a capital only: months, days and US states (`CRESTVIEW, Fla.`),
# which in lower case are words that end sentences (`he fell ill.`, `the sun.`).
_CAPITALISED_ABBREVIATIONS = _wordset(
    """Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Mon Tue Tues Wed Thu Thur Thurs Fri Sat
    Sun Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich Minn Miss Mo
    Mont Neb Nev Okla Ore Pa Tenn Tex Va Vt Wash Wis Wyo"""
)
# Words that open sentences far more often than they follow an abbreviation inside one.
_STARTERS = _wordset(
    """the a an he she it they we i you his her its their our my this that these those there here
    but and or so yet if when while after before in on at for as by with from to of since
    although though because however meanwhile now then what who why how where which some many
    most all no not one two both each every officials critics mr mrs ms dr sir"""
)


@dataclass(frozen=True)
class Span:
    """One sentence of a body: `text == body[start:end]`."""

    text: str
    start: int
    end: int
    paragraph: int  # index of the paragraph (block of lines) it belongs to
    first_in_paragraph: bool


def _blocks(body: str) -> list[tuple[int, int, int]]:
    """(start, end, paragraph) of each block of text that is split on its own."""
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


def _ends_sentence(text: str, period: int, following: int, quoted: bool) -> bool:
    """Whether the full stop at `text[period]` ends a sentence when the next one would start at
    `text[following]` (not in lower case: the caller has seen to that), after an opening quote
    when `quoted`."""
    start = period
    while start > 0 and period - start <= _LONGEST_ABBREVIATION:
        previous = text[start - 1]
        if previous.isspace() or previous in _OPENERS:
            break
        start -= 1
    word = text[start:period]
    if not word or period - start > _LONGEST_ABBREVIATION:
        return True
    lower = word.lower()
    if lower in _TITLES:
        return False
    if (
        lower in _ABBREVIATIONS
        or word in _CAPITALISED_ABBREVIATIONS
        or (len(word) == 1 and word.isalpha())
    ):
        # an abbreviation that may end a sentence, or an initial (`George W. Bush`); neither
        # comes before a quotation (`Mr P. "Never`)
        return quoted or _starts_sentence(text, following)
    if "." in word:
        # dotted: `U.S`, `p.m`, `Ph.D`, `e.g` (each part one or two letters); a URL or a
        # number like `3.5` ends a sentence as any word does
        parts = word.split(".")
        if all(0 < len(part) <= 2 and part.isalpha() for part in parts):
            return quoted or _starts_sentence(text, following)
    return True


def _starts_sentence(text: str, start: int) -> bool:
    match = _WORD.match(text, start, start + 40)
    return match is not None and match.group().lower() in _STARTERS


def _segment(flat: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `flat[start:end]`, trimmed."""
    pieces: list[tuple[int, int]] = []
    cursor = counted_to = start
    quote_marks = 0
    for candidate in _CANDIDATE.finditer(flat, start, end):
        first = candidate.group("first")
        if first is None:  # only white space up to the end of the block
            break
        sentence_end, next_start = candidate.start("gap"), candidate.end("gap")
        detached = candidate.start("detached")
        if detached >= 0:
            # a double or curly one closes a quotation when the block so far holds an odd number
            # of quote marks (`through it. " Bishop`), else it opens one; a straight single one
            # opens the next sentence (`late. ' My team ... ' perry told`): detokenised text
            # writes both ends so, and the old splitter, which the ranker was fitted on, did too
            quote_marks += len(_QUOTE_MARK.findall(flat, counted_to, detached))
            counted_to = detached
            if flat[detached] == "'" or quote_marks % 2 == 0:
                sentence_end = next_start = detached
        following = candidate.start("first")
        quoted = flat[next_start] in _QUOTES
        # not before a word in lower case (`the U.S. envoy`, `"Why?" he asked`) unless it opens
        # a quotation (`she said. "it was`, as pages that lowercase their text write it)
        if (first.islower() and not (quoted and flat[next_start] != "'")) or (
            first in ".…,;:"  # `said. . . and`, `p.m., when`
        ):
            continue
        if candidate.group("stop") == "." and not _ends_sentence(
            flat, candidate.start("stop"), following, quoted
        ):
            continue
        pieces.append((cursor, sentence_end))
        cursor = next_start
    pieces.append((cursor, end))
    return [piece for piece in (_trim(flat, s, e) for s, e in pieces) if piece[0] < piece[1]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_spans(body: str) -> list[Span]:
    """Every sentence of `body` in document order, with offsets into `body`."""
    # Newlines inside a block are wrapping, not boundaries; same length so offsets stay valid.
    flat = body.replace("\n", " ").replace("\r", " ")
    spans: list[Span] = []
    last_paragraph = -1
    for block_start, block_end, paragraph in _blocks(body):
        for start, end in _segment(flat, block_start, block_end):
            spans.append(
                Span(
                    body[start:end],
                    start,
                    end,
                    paragraph,
                    first_in_paragraph=paragraph != last_paragraph,
                )
            )
            last_paragraph = paragraph
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each a verbatim substring of it, in order."""
    return [span.text for span in split_spans(text)]


@lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """Word tokens (letters/digits, with inner apostrophes), as written. Memoised: the filters,
    the features and the budget each read a sentence's words."""
    return tuple(_WORD.findall(text))


def word_count(text: str) -> int:
    return len(words(text))


class OfflineTokenizer:
    """A drop-in for sumy's `Tokenizer` that needs no NLTK data (works with `PlaintextParser`)."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return words(sentence)
