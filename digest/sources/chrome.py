"""Site furniture in scraped text: lines that are never article text.

Two sources of knowledge: patterns every news site shares (navigation bars, "Subscribe To Our
Newsletter", "READ MORE: <another headline>", "Share on Facebook", a bare link), and what a
folder of one site's files teaches: a line that recurs in many different articles is the site's,
not the story's (`learn_chrome`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

# Whole lines that are the site's furniture, never article text.
_CHROME_LINE = re.compile(
    r"^\s*(?:[×☰≡]\s.*"
    r"|read more|share(?: this)?(?: article| story| post)?|advertisement|skip to (?:main )?content"
    r"|related(?: articles| stories| posts| content)?\s*:?"
    r"|(?:https?://|www\.)\S+"  # a bare link: the scraper's "previous article"
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
# A line that opens as a pointer elsewhere: "READ MORE: <another headline>", "ALSO READ - ...",
# "Share on Facebook", "Follow us on Twitter". Up to a headline's length.
_POINTER_LINE = re.compile(
    r"^\s*(?:(?:read more|also read|read also|see also|related|more on this|watch|listen)"
    r"\s*[:\-–—|»>]"
    r"|(?:share|follow(?: us)?|tweet|like us|join us)\b.{0,30}\b(?:on|via)\s+"
    r"(?:facebook|twitter|x|linkedin|whatsapp|instagram|telegram|email|reddit|threads|bluesky"
    r"|youtube|tiktok)\b)",
    re.IGNORECASE,
)
_MAX_POINTER_CHARS = 200
# A line is learned as chrome when it recurs in this many different articles of one folder and
# in at least this share of them.
_MIN_REPEATS = 3
_MIN_SHARE = 0.3
_MAX_LEARNED_CHARS = 300


def is_chrome(line: str, learned: frozenset[str] = frozenset()) -> bool:
    if _CHROME_LINE.match(line):
        return True
    if learned and _key(line) in learned:
        return True
    size = len(line.strip())
    if size <= _MAX_POINTER_CHARS and _POINTER_LINE.match(line):
        return True
    return size <= _MAX_CHROME_CHARS and bool(_SHORT_CHROME_LINE.search(line))


def learn_chrome(texts: Iterable[str]) -> frozenset[str]:
    """The lines that recur across many of the given texts (one site's files). Identical texts
    count once, so one article delivered several times teaches nothing."""
    counts: Counter[str] = Counter()
    seen: set[bytes] = set()
    for text in texts:
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()
        if text and digest not in seen:
            seen.add(digest)
            counts.update({_key(line) for line in text.split("\n")} - {""})
    needed = max(_MIN_REPEATS, round(len(seen) * _MIN_SHARE))
    return frozenset(
        line
        for line, count in counts.items()
        if count >= needed and len(line) <= _MAX_LEARNED_CHARS
    )


def _key(line: str) -> str:
    return " ".join(line.split()).casefold()
