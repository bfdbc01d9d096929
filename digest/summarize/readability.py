"""Does a sentence read on its own? The checks every summary's choice passes through.

Two ways an extract fails a reader:
- it *opens* with a sentence that leans on one we did not take: a pronoun or demonstrative subject
  ("He attacked...", "This means..."), a connective ("And there was...", "However, ..."), or a
  quotation ("'We will win,' he said."): a summary opens with the news, not with what somebody
  said about it;
- it shows part of a quotation that runs over several sentences: the opening quote mark without its
  closing one, or the other way round.

`quote_groups` finds the runs of sentences one quotation spans, so that a summary leaves them out;
`needs_antecedent` flags the sentences that may not open a summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Subjects and openers that point back to something said before.
_BACK_POINTERS = _wordset(
    """he she they it his her hers their theirs its him them such both another either neither
    the_latter the_former"""
)
# "This week, ..." or "This helpful dog..." introduces its own subject; "This is...", "That
# means...", "These were..." stand for something said before.
_DEMONSTRATIVES = _wordset("this that these those")
_PRONOUN_USE = _wordset(
    """is was are were has had have will would could can should may might must means meant
    comes came followed follows includes included led leads made makes prompted raised
    sparked shows showed suggests suggested isn't wasn't"""
)
_CONNECTIVES = _wordset(
    """and but or nor so yet however also meanwhile moreover furthermore nevertheless nonetheless
    instead still then thus therefore besides likewise similarly otherwise indeed anyway hence
    consequently additionally further too afterwards accordingly regardless"""
)
_CONNECTIVE_PHRASES = (
    "in addition",
    "on the other hand",
    "as a result",
    "at the same time",
    "by contrast",
    "in contrast",
    "even so",
    "for example",
    "for instance",
    "in fact",
    "after that",
    "despite this",
    "despite that",
    "because of this",
    "as well",
    "not only",
    "in turn",
    "on top of that",
    "at that time",
    "the latter",
    "the former",
)
_FIRST_WORDS = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_LEADING_NOISE = re.compile(r"""^[\s"“”'‘’(\[—–-]+""")
# Which way a double quote mark faces: an opening one follows the start, a space or a bracket and
# comes before a word; curly ones say so themselves.
_OPENING = re.compile(r"""“|(?:^|(?<=[\s(\[—–-]))"(?=\s?[A-Za-z0-9'‘])""")
_CLOSING = re.compile(r"""[”"]""")
# Single quotes double as apostrophes (and, in detokenised text, float between spaces: `artists '
# entrance`), so they are read leniently: a quotation opens at the start of a sentence or after a
# space, and closes after punctuation (`,' he said`, `.'`), which a possessive never does.
_SINGLE_OPENING = re.compile(r"""‘|(?:^|(?<=[\s(\[—–-]))'(?=\s?[A-Za-z0-9])""")
_CONNECTIVE_OPENINGS = tuple(phrase + end for phrase in _CONNECTIVE_PHRASES for end in " ,")
_SINGLE_CLOSING = re.compile(r"""’(?=\s|$)|(?<=[.,!?])\s?'(?=\s|$)""")
_QUOTE_CHARACTERS = frozenset("“”\"‘’'")
_SINGLE_QUOTES = frozenset("‘’'")


def needs_antecedent(sentence: str) -> bool:
    """True when `sentence` cannot open a summary: it points back to one before it."""
    text = sentence.strip()
    starts_with_quote = text[:1] in "\"“'‘"
    rest = _LEADING_NOISE.sub("", text).lower()
    tokens = _FIRST_WORDS.findall(rest[:80])
    if not tokens:
        return False
    if starts_with_quote:
        return True
    first = tokens[0]
    if first in _BACK_POINTERS or first in _CONNECTIVES:
        return True
    if first in _DEMONSTRATIVES and (len(tokens) == 1 or tokens[1] in _PRONOUN_USE):
        return True
    if len(tokens) > 1 and f"{first}_{tokens[1]}" in _BACK_POINTERS:
        return True
    return rest.startswith(_CONNECTIVE_OPENINGS)


def quote_changes(sentence: str) -> tuple[int, int]:
    """(quotations opened and not closed, quotations closed and not opened) within `sentence`."""
    if not _QUOTE_CHARACTERS.intersection(sentence):  # most sentences: every pattern needs one
        return 0, 0
    text = sentence.strip()
    opening = {m.start() for m in _OPENING.finditer(text)}
    events = sorted(
        [(i, 1) for i in opening]
        + [(m.start(), -1) for m in _CLOSING.finditer(text) if m.start() not in opening]
    )
    depth = unopened = 0
    for _, step in events:
        if step > 0:
            depth += 1
        elif depth:
            depth -= 1
        else:
            unopened += 1
    if not _SINGLE_QUOTES.intersection(text):
        return depth, unopened
    # single quotes: only what is unambiguous counts
    single_open = [m.start() for m in _SINGLE_OPENING.finditer(text)]
    single_close = [m.end() for m in _SINGLE_CLOSING.finditer(text)]
    if text[:1] in "'‘" and not any(c > 1 for c in single_close):
        depth += 1
    elif single_close and not any(o < single_close[0] for o in single_open):
        unopened += 1
    return depth, unopened


def has_quotation(sentence: str) -> bool:
    """True when `sentence` quotes somebody: double quote marks, or single ones (British and
    Daily Mail style) that open before a word and close after punctuation or a word."""
    if any(mark in sentence for mark in '"“”'):
        return True
    return bool(_SINGLE_OPENING.search(sentence) and _SINGLE_CLOSING.search(sentence))


def unbalanced(sentence: str) -> bool:
    """True when `sentence` holds part of a quotation that begins or ends in another sentence."""
    unclosed, unopened = quote_changes(sentence)
    return bool(unclosed or unopened)


def quote_groups(
    sentences: Sequence[str], paragraphs: Sequence[int] | None = None, max_span: int = 8
) -> list[int]:
    """A group id per sentence: the sentences one quotation runs through share an id.

    A sentence that opens a quotation without closing it is joined by those that follow in its
    paragraph until one closes it (at most `max_span` sentences). A quotation still open at the end
    of its paragraph (news runs long quotations on into the next one, which opens with a mark of
    its own) would show a lone quote mark however it was cut: its unbalanced sentences, like a
    sentence that closes a quotation it did not open, get the id -1 and are never shown.
    """
    n = len(sentences)
    paragraphs = paragraphs if paragraphs is not None else [0] * n
    groups = list(range(n))
    changes = [quote_changes(s) for s in sentences]
    i = 0
    while i < n:
        unclosed, unopened = changes[i]
        if not unclosed:
            if unopened:
                groups[i] = -1
            i += 1
            continue
        depth, j = unclosed, i + 1
        while j < n and depth and j - i < max_span:
            if paragraphs[j] != paragraphs[j - 1]:
                break
            opened, closed = changes[j]
            depth = max(0, depth + opened - closed)
            j += 1
        for k in range(i, j):
            if depth == 0:
                groups[k] = i
            elif changes[k] != (0, 0):
                groups[k] = -1
        i = j
    return groups
