"""Story identity: when two articles report one story.

One notion, used everywhere a story is recognised: by the selection when it merges copies and
other sites' versions into one entry, by the build when it leaves out stories that already went
out in a sent issue, and by the build's report when it says why an article was left out.

Two articles are one story when one is a copy of the other (at least half of the shorter
text's sampled 5-word shingles are in the other: a re-run, a re-dated republication, a cut-down
copy) or when their topic words are alike (cosine similarity of content-word counts at least
`SAME_STORY_SIMILARITY`: another outlet's rewrite of the same report). docs/selection.md.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.classify.features import STOPWORDS
from digest.models import Article

# Copies: 5-word shingles, of which a fixed quarter (by hash) is kept. Keeping by hash value, not
# by position, means two copies keep the same shingles, so the overlap of the samples estimates
# the overlap of the whole texts.
SHINGLE_WORDS = 5
SAMPLE_MODULUS = 4
MIN_SAMPLED_SHINGLES = 3  # fewer than this and the text is too short to call a copy
# Share of the shorter text's shingles found in the other: containment, not Jaccard, so a copy
# cut short by the re-publisher still matches its full original.
DUPLICATE_CONTAINMENT = 0.5
# A shingle in more articles than this is boilerplate (a footer, a wire credit), not content.
BOILERPLATE_DOCUMENT_COUNT = 50
# Topic: cosine similarity of content-word counts. In the sample week unrelated stories sit
# below 0.15, two different stories about one Budget at 0.42, another site's rewrite of the same
# report at 0.74.
SAME_STORY_SIMILARITY = 0.6
# A later article on a sent story is a development (offered to the editor, never sent unasked)
# when it was published after every article the story stood for and at least this share of its
# content words (by count) never appeared in any of them: new names, numbers, events. A
# re-dated republication adds next to nothing (under 0.05 in the tests); a follow-up that
# recalls the story in three paragraphs and reports the next step in one is at 0.38.
DEVELOPMENT_NOVELTY = 0.3

# how many of a candidate's heaviest content words find the sent articles it is compared with
TOP_WORDS = 5

_WORD = re.compile(r"\w+")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class Fingerprint:
    """What identity compares of an article: sampled shingles of its body, and its content
    words (title and body, no stop words or numbers) as counts scaled to unit length."""

    shingles: set[int]
    words: dict[str, float]


def sampled_shingles(body: str) -> set[int]:
    tokens = _WORD.findall(body.lower())
    hashes = {
        zlib.crc32(" ".join(tokens[i : i + SHINGLE_WORDS]).encode())
        for i in range(max(0, len(tokens) - SHINGLE_WORDS + 1))
    }
    return {h for h in hashes if h % SAMPLE_MODULUS == 0}


def content_words(article: Article) -> dict[str, float]:
    counts = Counter(
        word
        for word in _WORD.findall(f"{article.title} {article.body}".lower())
        if len(word) > 2 and not word.isdigit() and word not in STOPWORDS
    )
    norm = math.sqrt(sum(n * n for n in counts.values())) or 1.0
    return {word: n / norm for word, n in counts.items()}


class Fingerprints:
    """Fingerprints computed once per article object for the life of one selection."""

    def __init__(self) -> None:
        self._cache: dict[int, Fingerprint] = {}

    def __call__(self, article: Article) -> Fingerprint:
        key = id(article)
        if key not in self._cache:
            self._cache[key] = Fingerprint(sampled_shingles(article.body), content_words(article))
        return self._cache[key]


def containment(a: set[int], b: set[int]) -> float:
    """Share of the smaller sample found in the other (0 when either is too short to tell)."""
    smaller = min(len(a), len(b))
    if smaller < MIN_SAMPLED_SHINGLES:
        return 0.0
    return len(a & b) / smaller


def is_copy(a: Fingerprint, b: Fingerprint) -> bool:
    return containment(a.shingles, b.shingles) >= DUPLICATE_CONTAINMENT


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Cosine similarity of the content words."""
    small, large = (a.words, b.words) if len(a.words) <= len(b.words) else (b.words, a.words)
    return sum(weight * large.get(word, 0.0) for word, weight in small.items())


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    return is_copy(a, b) or similarity(a, b) >= SAME_STORY_SIMILARITY


def novelty(candidate: Fingerprint, known: Iterable[Fingerprint]) -> float:
    """Share of the candidate's content words (by count) that none of `known` used."""
    vocabulary: set[str] = set()
    for other in known:
        vocabulary.update(other.words)
    total = sum(candidate.words.values()) or 1.0
    return sum(w for word, w in candidate.words.items() if word not in vocabulary) / total


# -- stories already sent ---------------------------------------------------------------------


@dataclass
class SentStory:
    """One entry of a sent issue: every article it stood for (its lead and what was merged)."""

    issue_id: int
    issue_key: str
    sent_at: datetime | None
    title: str
    articles: list[Article] = field(default_factory=list)

    def described(self) -> str:
        if not self.issue_key:
            return "a sent issue"
        when = f" on {self.sent_at:%Y-%m-%d}" if self.sent_at else ""
        return f"issue {self.issue_id} ({self.issue_key}){when}"


@dataclass
class SentMatch:
    story: SentStory
    development: bool  # a later article with new matter: the editor may choose it
    similarity: float

    def reason(self) -> str:
        story = f"{self.story.described()}: {self.story.title!r}"
        if self.development:
            return f"update to a story sent in {story}"
        return f"already sent in {story}"


class SentStories:
    """The stories of sent issues, indexed so that a week's candidates are compared only with
    the sent articles that share a content word or a shingle with them."""

    def __init__(
        self, stories: Sequence[SentStory], fingerprints: Fingerprints | None = None
    ) -> None:
        self.stories = list(stories)
        self._fingerprint = fingerprints = fingerprints or Fingerprints()
        self._owner: list[int] = []  # sent article position -> story position
        self._prints: list[Fingerprint] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._by_shingle: dict[int, list[int]] = defaultdict(list)
        self._ids: dict[int, int] = {}
        for s, story in enumerate(stories):
            for article in story.articles:
                position = len(self._prints)
                fingerprint = fingerprints(article)
                self._owner.append(s)
                self._prints.append(fingerprint)
                if article.id is not None:
                    self._ids[article.id] = s
                for word in fingerprint.words:
                    self._by_word[word].append(position)
                for shingle in fingerprint.shingles:
                    self._by_shingle[shingle].append(position)

    def __bool__(self) -> bool:
        return bool(self.stories)

    def match(self, group: Sequence[Article]) -> SentMatch | None:
        """The sent story that `group` (one story's copies) is, or None when it is news. The
        first copy that matches decides (copies of one text match the same stories)."""
        if any(a.id is not None and a.id in self._ids for a in group):
            found = next(self._ids[a.id] for a in group if a.id is not None and a.id in self._ids)
            return SentMatch(self.stories[found], False, 1.0)
        for article in group:
            best: tuple[float, int] | None = None  # (similarity, story)
            for position, (cosine, copy) in self._related(self._fingerprint(article)).items():
                if copy or cosine >= SAME_STORY_SIMILARITY:
                    key = (1.0 if copy else cosine, self._owner[position])
                    best = key if best is None or key > best else best
            if best is not None:
                score, s = best
                story = self.stories[s]
                return SentMatch(story, self._is_development(group, story), score)
        return None

    def _related(self, mine: Fingerprint) -> dict[int, tuple[float, bool]]:
        """Per sent article that could be the same story as `mine`: their cosine similarity,
        and whether either is a copy of the other. Only articles sharing a shingle, or one of
        `mine`'s TOP_WORDS heaviest content words, are compared (a same story shares its
        heaviest words), so a week's candidates against years of sent stories stays cheap."""
        shared: dict[int, int] = defaultdict(int)
        for shingle in mine.shingles:
            postings = self._by_shingle.get(shingle, ())
            if len(postings) <= BOILERPLATE_DOCUMENT_COUNT:
                for position in postings:
                    shared[position] += 1
        nearby = set(shared)
        # the heaviest words that tell stories apart: a word in many sent articles finds them all
        common = max(BOILERPLATE_DOCUMENT_COUNT, len(self._prints) // 50)
        telling = [w for w in mine.words if len(self._by_word.get(w, ())) <= common]
        for word in sorted(telling, key=mine.words.__getitem__, reverse=True)[:TOP_WORDS]:
            nearby.update(self._by_word.get(word, ()))
        out: dict[int, tuple[float, bool]] = {}
        for position in nearby:
            theirs = self._prints[position]
            smaller = min(len(mine.shingles), len(theirs.shingles))
            copy = (
                smaller >= MIN_SAMPLED_SHINGLES
                and shared.get(position, 0) / smaller >= DUPLICATE_CONTAINMENT
            )
            out[position] = (similarity(mine, theirs), copy)
        return out

    def _is_development(self, group: Sequence[Article], story: SentStory) -> bool:
        """Published after every article the sent story stood for, with new matter. (Dates of
        articles, not of the send: an issue is often sent days after its newest story.)"""
        sent_dates = [_aware(a.published) for a in story.articles if a.published]
        if not sent_dates:
            return False
        known = [self._fingerprint(a) for a in story.articles]
        return any(
            a.published is not None
            and _aware(a.published) > max(sent_dates)
            and novelty(self._fingerprint(a), known) >= DEVELOPMENT_NOVELTY
            for a in group
        )
