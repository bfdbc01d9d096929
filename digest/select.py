"""Which articles make the issue: the window, political or not, one entry per story, ranking.

Pure functions over `digest.models.Article`; the formula is explained in docs/selection.md.
"""

from __future__ import annotations

import heapq
import math
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from digest.classify import POLITICAL_THRESHOLD, political_score
from digest.classify.features import STOPWORDS
from digest.errors import DigestError
from digest.models import Article
from digest.sources.fields import normalise_url

__all__ = [
    "Story",
    "distinct_sites",
    "group_near_duplicates",
    "in_window",
    "parse_since",
    "rank",
    "select_stories",
]

# Near-duplicate detection: 5-word shingles, of which a fixed quarter (by hash) is kept. Keeping
# by hash value, not by position, means two copies keep the same shingles, so the overlap of the
# samples estimates the overlap of the whole texts.
SHINGLE_WORDS = 5
SAMPLE_MODULUS = 4
MIN_SAMPLED_SHINGLES = 3  # fewer than this and the text is too short to call a duplicate
# Share of the shorter text's shingles found in the other: containment, not Jaccard, so a copy
# cut short by the re-publisher still matches its full original.
DUPLICATE_CONTAINMENT = 0.5
# A shingle in more articles than this is boilerplate (a footer, a wire credit), not content.
BOILERPLATE_DOCUMENT_COUNT = 50

# Ranking (see docs/selection.md).
RECENCY_FLOOR = 0.5  # the oldest article in the window keeps half its political score
COVERAGE_BONUS = 0.1  # per other site that ran the story ...
COVERAGE_BONUS_CAP = 3  # ... up to this many
SAME_SITE_PENALTY = 0.7  # each story already taken from a site multiplies its next by this
# Diversity of stories (see docs/selection.md): cosine similarity of content-word counts to the
# most similar story already taken. In the sample week unrelated stories sit below 0.15, two
# different stories about one Budget at 0.42, another site's rewrite of the same report at 0.74.
RELATED_SIMILARITY = 0.2  # below this, no penalty; above, the score shrinks linearly ...
SAME_STORY_SIMILARITY = 0.6  # ... and from here on it is the same story: listed, not repeated

_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass
class Story:
    """One entry of the issue: the representative article and the other sites that ran it."""

    article: Article
    other_sources: list[str] = field(default_factory=list)
    score: float = 0.0


MAX_SINCE = timedelta(days=3650)


def parse_since(text: str, name: str = "--since") -> timedelta:
    """`"12h"`, `"7d"` or `"2w"` as a timedelta; anything else is a DigestError naming the
    input (`name`: the option or setting it came from)."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise DigestError(
            f"{name} {text!r}: expected a positive whole number of hours, days or weeks, "
            "like 12h, 7d or 2w"
        )
    hours = int(match.group(1)) * {"h": 1, "d": 24, "w": 168}[match.group(2).lower()]
    if hours > MAX_SINCE.total_seconds() / 3600:
        raise DigestError(f"{name} {text!r}: at most {MAX_SINCE.days} days")
    return timedelta(hours=hours)


def _aware(moment: datetime) -> datetime:
    # The model promises aware datetimes; a naive one from a careless source is read as UTC
    # rather than crashing the comparison.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def in_window(articles: Iterable[Article], as_of: datetime, since: timedelta) -> list[Article]:
    """Articles published in (as_of - since, as_of]; undated and future-dated ones never are."""
    if as_of.tzinfo is None:
        raise DigestError(f"--as-of {as_of.isoformat()}: needs a time zone, e.g. +00:00")
    start = as_of - since
    return [a for a in articles if a.published and start < _aware(a.published) <= as_of]


def _sampled_shingles(body: str) -> set[int]:
    tokens = _WORD.findall(body.lower())
    hashes = {
        zlib.crc32(" ".join(tokens[i : i + SHINGLE_WORDS]).encode())
        for i in range(max(0, len(tokens) - SHINGLE_WORDS + 1))
    }
    return {h for h in hashes if h % SAMPLE_MODULUS == 0}


class _Clusters:
    """Union-find over article positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def group_near_duplicates(articles: Sequence[Article]) -> list[list[Article]]:
    """Articles grouped so each group is one story; the representative comes first.

    Candidates are found through an inverted index of sampled shingles, so only articles that
    share text are ever compared: near-linear for a week of news rather than all pairs.
    """
    samples = [_sampled_shingles(a.body) for a in articles]
    postings: dict[int, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        for h in sample:
            postings[h].append(i)
    clusters = _Clusters(len(articles))
    for i, sample in enumerate(samples):
        if len(sample) < MIN_SAMPLED_SHINGLES:
            continue
        shared: dict[int, int] = defaultdict(int)
        for h in sample:
            docs = postings[h]
            if len(docs) > BOILERPLATE_DOCUMENT_COUNT:
                continue
            for j in docs:
                if j > i:
                    shared[j] += 1
        for j, n in shared.items():
            smaller = min(len(sample), len(samples[j]))
            if smaller >= MIN_SAMPLED_SHINGLES and n / smaller >= DUPLICATE_CONTAINMENT:
                clusters.union(i, j)
    groups: dict[int, list[Article]] = defaultdict(list)
    for i, article in enumerate(articles):
        groups[clusters.find(i)].append(article)
    return [sorted(group, key=_representative_order) for group in groups.values()]


def _representative_order(article: Article) -> tuple[bool, datetime, int, int]:
    # A complete body summarises better than a cut-off one; among complete copies the earliest
    # is most likely the original reporting, which deserves the link; then the fuller text.
    published = _aware(article.published) if article.published else datetime.max.replace(tzinfo=UTC)
    return (article.truncated, published, -len(article.body), article.id or 0)


def _other_sources(group: Sequence[Article]) -> list[str]:
    """The addresses at which other sites ran the story: article URLs only (never a feed's or a
    file's origin), cleaned of credentials and trackers, as they are published."""
    lead = group[0]
    own = {normalise_url(lead.source_url), normalise_url(lead.origin)}
    seen: set[str] = set()
    out: list[str] = []
    candidates = list(lead.sources)
    for other in group[1:]:
        candidates += [other.source_url or "", *other.sources]
    for url in map(normalise_url, candidates):
        if url and url not in own and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def distinct_sites(urls: Iterable[str], lead: Article) -> list[str]:
    """The first URL of each site, leaving out the lead's own site: "Also reported by" names
    sites, and a site that re-ran a story twelve times is one of them."""
    seen = {lead.source_name} if lead.source_name else set()
    out: list[str] = []
    for url in urls:
        site = _site(url)
        if site and site not in seen:
            seen.add(site)
            out.append(url)
    return out


def _score(article: Article) -> float:
    if article.political_score is None:
        article.political_score = political_score(article.title, article.body)
    return article.political_score


def rank(
    groups: Sequence[Sequence[Article]],
    *,
    as_of: datetime,
    since: timedelta,
    limit: int | None,
) -> list[Story]:
    """Stories in issue order: political score × recency × coverage, then spread across sites
    and across stories."""
    stories = []
    for group in groups:
        lead = group[0]
        others = distinct_sites(_other_sources(group), lead)
        political = max(_score(a) for a in group)
        newest = max((_aware(a.published) for a in group if a.published), default=as_of - since)
        freshness = min(1.0, max(0.0, 1.0 - (as_of - newest) / since))
        recency = RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * freshness
        coverage = 1.0 + COVERAGE_BONUS * min(len(others), COVERAGE_BONUS_CAP)
        stories.append(Story(lead, others, political * recency * coverage))
    return _take_diverse(stories, limit)


def _take_diverse(stories: Sequence[Story], limit: int | None) -> list[Story]:
    """Greedy: take the best story after its penalties, for what its site already placed and
    for how close it is to a story already taken; a story as good as one taken is folded into
    it as another site that reported it. Penalties only ever lower a score, so a story's last
    computed score bounds its next (lazy greedy): only the head of the queue is recomputed."""
    queue = [(-story.score, order, story) for order, story in enumerate(stories)]
    heapq.heapify(queue)
    taken: dict[str, int] = defaultdict(int)
    chosen: list[Story] = []
    words: dict[int, dict[str, float]] = {}
    wanted = limit if limit is not None else len(stories)
    while queue and len(chosen) < wanted:
        _, order, story = heapq.heappop(queue)
        closest, similarity = _closest(story, chosen, words)
        if closest is not None and similarity >= SAME_STORY_SIMILARITY:
            closest.other_sources = distinct_sites(
                [*closest.other_sources, story.article.source_url or "", *story.other_sources],
                closest.article,
            )
            continue
        site = story.article.source_name
        relatedness = max(0.0, similarity - RELATED_SIMILARITY) / (1.0 - RELATED_SIMILARITY)
        effective = story.score * SAME_SITE_PENALTY ** taken[site] * (1.0 - relatedness)
        if queue and effective < -queue[0][0]:
            heapq.heappush(queue, (-effective, order, story))
            continue
        story.score = effective
        taken[site] += 1
        chosen.append(story)
    return chosen


def _closest(
    story: Story, chosen: Sequence[Story], words: dict[int, dict[str, float]]
) -> tuple[Story | None, float]:
    """The taken story most like `story`, and their similarity (0 when none is taken)."""
    best, best_similarity = None, 0.0
    mine = _content_words(story.article, words)
    for other in chosen:
        theirs = _content_words(other.article, words)
        small, large = (mine, theirs) if len(mine) <= len(theirs) else (theirs, mine)
        similarity = sum(weight * large.get(word, 0.0) for word, weight in small.items())
        if similarity > best_similarity:
            best, best_similarity = other, similarity
    return best, best_similarity


def _content_words(article: Article, cache: dict[int, dict[str, float]]) -> dict[str, float]:
    """Counts of the words that carry the topic (no stop words), scaled to unit length."""
    key = id(article)
    if key not in cache:
        counts = Counter(
            word
            for word in _WORD.findall(f"{article.title} {article.body}".lower())
            if len(word) > 2 and not word.isdigit() and word not in STOPWORDS
        )
        norm = math.sqrt(sum(n * n for n in counts.values())) or 1.0
        cache[key] = {word: n / norm for word, n in counts.items()}
    return cache[key]


def select_stories(
    articles: Iterable[Article],
    *,
    as_of: datetime,
    since: timedelta,
    limit: int | None = None,
    min_score: float = POLITICAL_THRESHOLD,
    exclude: Collection[int] = (),
) -> list[Story]:
    """In-window political stories, one entry per story, best first, at most `limit`.

    A story any of whose copies has an id in `exclude` (articles already sent) is left out
    whole, so another site's re-run of last week's story does not come back as news."""
    if limit is not None and limit < 1:
        raise DigestError(f"--limit {limit}: must be at least 1")
    window = in_window(articles, as_of, since)
    political = [a for a in window if _score(a) >= min_score]
    groups = group_near_duplicates(political)
    if exclude:
        groups = [g for g in groups if not any(a.id in exclude for a in g)]
    return rank(groups, as_of=as_of, since=since, limit=limit)
