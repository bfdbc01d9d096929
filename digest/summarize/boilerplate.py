"""Sentences a newsletter summary must never show: calls to action, credits, bylines, bare links."""

from __future__ import annotations

import re

from digest.summarize.sentences import words


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CALL_TO_ACTION = re.compile(
    r"""\b(?:
        subscribe | sign\s+up | newsletter | read\s+more | click\s+here | follow\s+us
      | share\s+(?:this|on) | all\s+rights\s+reserved | cookies? | advertisement
      | (?:photo|image|picture|video)\s*(?:credit|copyright|caption)?\s*: | getty\s+images
      | (?:associated\s+press|reuters|afp|pa\s+media)\s*/ | image\s+copyright
      | related\s*: | see\s+also | more\s+on\s+this\s+story | download\s+(?:our|the)\s+app
      | continue\s+reading | watch\s*: | listen\s*:
      | scroll\s+down | toggle\s+caption | enlarge\s+this\s+image | hide\s+caption
      | ^(?:pictured|above|below|left|right)\s*:
    )(?!\w)""",
    re.IGNORECASE | re.VERBOSE,
)
# a photo caption run into the text: "Baron (left) helps with the dishes"
_CAPTION = re.compile(
    r"\((?:pictured\b[^)]{0,40}|file\s+(?:photo|picture)|(?:above|below|left|right|centre|center"
    r"|top|bottom|inset)(?:\s*(?:,|and)\s*(?:above|below|left|right|centre|center|top|bottom))?)\)",
    re.IGNORECASE,
)
# Photo captions as pages run them into the text: a short label and a colon ("Tragic: this file
# photo shows..."), or a description of what a picture shows ("... is pictured", ", left, ...").
_CAPTION_LABEL = re.compile(r"^([A-Z][\w'’-]*(?:\s+[\w'’-]+){0,3}):\s+\S")
# A label that introduces a quotation, or a dateline or kicker on a lede, is not a caption's.
_NOT_CAPTION_LABELS = _wordset(
    """said says told tells added adds asked asks explained wrote writes warned warns insisted
    replied declared announced stated argued claimed admitted exclusive breaking update updated
    analysis opinion comment live watch revealed editor's note"""
)
_PICTURE_WORDS = re.compile(
    r"\b(?:file\s+(?:photo|picture|image)|,\s+(?:left|right|centre|center),|"
    r"\((?:ap|afp|reuters|getty)\b[^)]*\)|photo\s+(?:by|credit)|photograph:)",
    re.IGNORECASE,
)
# The first word of every alternative of _CALL_TO_ACTION and _PICTURE_WORDS: a sentence without
# one of them (as a whole word, case-folded) cannot match either, and most sentences have none,
# so the two long patterns run only on the few that do.
_KEYWORDS = _wordset(
    """subscribe sign newsletter read click follow share all cookie cookies advertisement photo
    image picture video getty associated reuters afp pa related see more download continue watch
    listen scroll toggle enlarge hide pictured above below left right file centre center ap
    photograph"""
)
_TOKEN = re.compile(r"\w+")
_URL_ONLY = re.compile(r"^[(<\[]?(?:https?://|www\.)\S+[)>\]]?$", re.IGNORECASE)
_BYLINE = re.compile(r"^(?:by|written\s+by|reporting\s+by)\s+[A-Z]", re.IGNORECASE)
_COPYRIGHT = re.compile(r"[©®]")
MIN_WORDS = 4  # shorter sentences are datelines, captions or fragments, never a useful summary line
_MAX_BYLINE_WORDS = 12


def is_boilerplate(sentence: str) -> bool:
    """True when `sentence` is page furniture rather than reporting."""
    text = sentence.strip()
    tokens = words(text)
    if len(tokens) < MIN_WORDS or _URL_ONLY.match(text) or _COPYRIGHT.search(text):
        return True
    # all its letters capitals (`SPECIAL REPORT`); str.isupper first, as most text fails it
    if text.isupper() and all(c.isupper() for c in text if c.isalpha()):
        return True
    if _BYLINE.match(text) and len(tokens) <= _MAX_BYLINE_WORDS:
        return True
    if _CAPTION.search(text):
        return True
    if _KEYWORDS.isdisjoint(_TOKEN.findall(text.casefold())):
        return _caption_label(text)
    return bool(_CALL_TO_ACTION.search(text) or is_caption(text))


def is_caption(text: str) -> bool:
    """True when `text` reads as a photo caption rather than reporting."""
    if _PICTURE_WORDS.search(text):
        return True
    return _caption_label(text)


def _caption_label(text: str) -> bool:
    label = _CAPTION_LABEL.match(text)
    if label is None:
        return False
    # `Tragic: the memorial...` labels a picture; `Mr Straw said: "..."` introduces a quotation,
    # and `WASHINGTON:` or `Exclusive:` heads a lede
    name = label.group(1)
    return not name.isupper() and not _NOT_CAPTION_LABELS.intersection(name.lower().split())
