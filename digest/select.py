"""Which articles make the issue: the window, political or not, one entry per story, ranking.

Pure functions over `digest.models.Article`; the formula is explained in docs/selection.md.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from digest.classify import POLITICAL_THRESHOLD, political_score
from digest.errors import DigestError
from digest.identity import (
    BOILERPLATE_DOCUMENT_COUNT,
    DUPLICATE_CONTAINMENT,
    MIN_SAMPLED_SHINGLES,
    SAME_STORY_SIMILARITY,
    Fingerprints,
    SentMatch,
    SentStories,
    similarity,
)
from digest.models import Article
from digest.sources.fields import normalise_url
from digest.wording import plural

__all__ = [
    "LeftOut",
    "Selection",
    "Story",
    "distinct_sites",
    "group_near_duplicates",
    "in_window",
    "parse_since",
    "rank",
    "select",
    "select_stories",
]

# Ranking (see docs/selection.md).
RECENCY_FLOOR = 0.5  # the oldest article in the window keeps half its political score
COVERAGE_BONUS = 0.1  # per other site that ran the story ...
COVERAGE_BONUS_CAP = 3  # ... up to this many
SAME_SITE_PENALTY = 0.7  # each story already taken from a site multiplies its next by this
# Diversity of stories (see docs/selection.md): cosine similarity of content-word counts to the
# most similar story already taken; from identity.SAME_STORY_SIMILARITY on it is the same story.
RELATED_SIMILARITY = 0.2  # below this, no penalty; above, the score shrinks linearly

_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


@dataclass
class Story:
    """One entry of the issue: the representative article and the other sites that ran it."""

    article: Article
    other_sources: list[str] = field(default_factory=list)
    score: float = 0.0
    # every other article this entry stands for (copies, other sites' versions): recorded with
    # the issue, so none of them comes back once it is sent
    merged: list[Article] = field(default_factory=list)
    update_of: SentMatch | None = None  # a development of a story already sent

    @property
    def merged_ids(self) -> list[int]:
        return [a.id for a in self.merged if a.id is not None]


@dataclass
class LeftOut:
    """An article the selection did not take, and why, for the editor (`digest build`)."""

    article: Article
    reason: str  # undated | outside-window | under-cutoff | merged | already-sent | update
    detail: str  # the reason in words, naming the score, the story or the issue

    def to_json(self) -> dict[str, object]:
        return {
            "article_id": self.article.id,
            "title": self.article.title,
            "source": self.article.source_name or self.article.origin,
            "published": self.article.published.isoformat() if self.article.published else None,
            "political_score": (
                None
                if self.article.political_score is None
                else round(self.article.political_score, 4)
            ),
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class Selection:
    stories: list[Story]  # best first, at most the limit
    left_out: list[LeftOut] = field(default_factory=list)
    # developments of sent stories, never taken unasked: an editor may pull one in
    updates: list[Story] = field(default_factory=list)
    already_sent: int = 0  # stories left out because they are stories of sent issues


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


def group_near_duplicates(
    articles: Sequence[Article], fingerprints: Fingerprints | None = None
) -> list[list[Article]]:
    """Articles grouped so each group is one story's copies; the representative comes first.

    Candidates are found through an inverted index of sampled shingles, so only articles that
    share text are ever compared: near-linear for a week of news rather than all pairs.
    """
    fingerprint = fingerprints or Fingerprints()
    samples = [fingerprint(a).shingles for a in articles]
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
    fingerprints: Fingerprints | None = None,
    left_out: list[LeftOut] | None = None,
) -> list[Story]:
    """Stories in issue order: political score × recency × coverage, then spread across sites
    and across stories. A story that is the same as one taken is folded into it (named in
    `left_out` as merged)."""
    stories = [_story(group, as_of, since) for group in groups]
    return _take_diverse(
        stories, limit, fingerprints or Fingerprints(), left_out if left_out is not None else []
    )


def _story(group: Sequence[Article], as_of: datetime, since: timedelta) -> Story:
    lead = group[0]
    others = distinct_sites(_other_sources(group), lead)
    political = max(_score(a) for a in group)
    newest = max((_aware(a.published) for a in group if a.published), default=as_of - since)
    freshness = min(1.0, max(0.0, 1.0 - (as_of - newest) / since))
    recency = RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * freshness
    coverage = 1.0 + COVERAGE_BONUS * min(len(others), COVERAGE_BONUS_CAP)
    return Story(lead, others, political * recency * coverage, merged=list(group[1:]))


def _take_diverse(
    stories: Sequence[Story],
    limit: int | None,
    fingerprints: Fingerprints,
    left_out: list[LeftOut],
) -> list[Story]:
    """Greedy: take the best story after its penalties, for what its site already placed and
    for how close it is to a story already taken; a story as good as one taken is folded into
    it as another site that reported it. Penalties only ever lower a score, so a story's last
    computed score bounds its next (lazy greedy): only the head of the queue is recomputed."""
    queue = [(-story.score, order, story) for order, story in enumerate(stories)]
    heapq.heapify(queue)
    taken: dict[str, int] = defaultdict(int)
    chosen: list[Story] = []
    wanted = limit if limit is not None else len(stories)
    while queue and len(chosen) < wanted:
        _, order, story = heapq.heappop(queue)
        closest, closeness = _closest(story, chosen, fingerprints)
        if closest is not None and closeness >= SAME_STORY_SIMILARITY:
            closest.other_sources = distinct_sites(
                [*closest.other_sources, story.article.source_url or "", *story.other_sources],
                closest.article,
            )
            closest.merged += [story.article, *story.merged]
            left_out.append(_merged(story.article, closest, f"same story, {closeness:.2f} alike"))
            continue
        site = story.article.source_name
        relatedness = max(0.0, closeness - RELATED_SIMILARITY) / (1.0 - RELATED_SIMILARITY)
        effective = story.score * SAME_SITE_PENALTY ** taken[site] * (1.0 - relatedness)
        if queue and effective < -queue[0][0]:
            heapq.heappush(queue, (-effective, order, story))
            continue
        story.score = effective
        taken[site] += 1
        chosen.append(story)
    return chosen


def _merged(article: Article, into: Story, how: str) -> LeftOut:
    where = into.article.source_name or "another source"
    return LeftOut(article, "merged", f"merged into {into.article.title!r} ({where}; {how})")


def _closest(
    story: Story, chosen: Sequence[Story], fingerprints: Fingerprints
) -> tuple[Story | None, float]:
    """The taken story most like `story`, and their similarity (0 when none is taken)."""
    best, best_similarity = None, 0.0
    mine = fingerprints(story.article)
    for other in chosen:
        alike = similarity(mine, fingerprints(other.article))
        if alike > best_similarity:
            best, best_similarity = other, alike
    return best, best_similarity


def select_stories(articles: Iterable[Article], **options: Any) -> list[Story]:
    """In-window political stories, one entry per story, best first, at most `limit`: `select`
    without what it left out."""
    return select(articles, **options).stories


def select(
    articles: Iterable[Article],
    *,
    as_of: datetime,
    since: timedelta,
    limit: int | None = None,
    min_score: float = POLITICAL_THRESHOLD,
    exclude: Collection[int] = (),
    sent: SentStories | None = None,
) -> Selection:
    """In-window political stories, one entry per story, best first, at most `limit`, and
    every article left out with its reason.

    A story that is one already sent (`sent`, by story identity: digest.identity; or any of
    whose copies has an id in `exclude`) is left out whole, so another site's version or a
    re-dated republication of last week's story does not come back as news. A development of
    a sent story (later, with new matter) is left out too but offered in `updates`."""
    if limit is not None and limit < 1:
        raise DigestError(f"--limit {limit}: must be at least 1")
    articles = list(articles)
    window = in_window(articles, as_of, since)
    result = Selection(stories=[])
    inside = {id(a) for a in window}
    for article in articles:
        if id(article) not in inside:
            result.left_out.append(_outside(article, as_of, since))
    political = []
    for article in window:
        if _score(article) >= min_score:
            political.append(article)
        else:
            detail = f"political score {_score(article):.2f} is under the cutoff {min_score:.2f}"
            result.left_out.append(LeftOut(article, "under-cutoff", detail))
    fingerprints = Fingerprints()
    fresh: list[list[Article]] = []
    for group in group_near_duplicates(political, fingerprints):
        match = _sent_match(group, exclude, sent)
        if match is None:
            fresh.append(group)
            for copy in group[1:]:
                result.left_out.append(_merged(copy, Story(group[0]), "a copy of its text"))
        elif match.development:
            result.already_sent += 1
            update = _story(group, as_of, since)
            update.update_of = match
            result.updates.append(update)
            result.left_out += [LeftOut(a, "update", match.reason()) for a in group]
        else:
            result.already_sent += 1
            result.left_out += [LeftOut(a, "already-sent", match.reason()) for a in group]
    result.stories = rank(
        fresh,
        as_of=as_of,
        since=since,
        limit=limit,
        fingerprints=fingerprints,
        left_out=result.left_out,
    )
    result.updates.sort(key=lambda story: -story.score)
    taken = {id(a) for story in result.stories for a in (story.article, *story.merged)}
    result.left_out += [
        LeftOut(
            group[0],
            "ranked-lower",
            f"ranked below the {plural(len(result.stories), 'story')} taken",
        )
        for group in fresh
        if id(group[0]) not in taken
    ]
    return result


def _sent_match(
    group: Sequence[Article], exclude: Collection[int], sent: SentStories | None
) -> SentMatch | None:
    if exclude and any(a.id in exclude for a in group):
        from digest.identity import SentStory

        return SentMatch(SentStory(0, "", None, group[0].title), False, 1.0)
    return sent.match(group) if sent else None


def _outside(article: Article, as_of: datetime, since: timedelta) -> LeftOut:
    if article.published is None:
        return LeftOut(article, "undated", "no publication date (add a Published: line)")
    return LeftOut(
        article,
        "outside-window",
        f"published {_aware(article.published):%Y-%m-%d %H:%M}, outside the window"
        f" {as_of - since:%Y-%m-%d %H:%M} to {as_of:%Y-%m-%d %H:%M} UTC",
    )
