"""Selection: the window, one entry per story, ranking by score, recency and site diversity."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.models import Article
from digest.select import group_near_duplicates, in_window, parse_since, select_stories

FIXTURES = Path(__file__).parent / "fixtures" / "classify"
AS_OF = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
_VOCABULARY = [f"word{i}" for i in range(5000)]


def _text(seed: int, words: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCABULARY) for _ in range(words)) + "."


def _article(
    n: int,
    *,
    site: str = "example.org",
    hours_ago: float | None = 1.0,
    score: float | None = 0.9,
    body: str | None = None,
    title: str | None = None,
    truncated: bool = False,
) -> Article:
    return Article(
        id=n,
        title=title or f"Story {n}",
        body=body if body is not None else _text(n),
        source_url=f"https://{site}/{n}",
        published=None if hours_ago is None else AS_OF - timedelta(hours=hours_ago),
        political_score=score,
        truncated=truncated,
    )


def _fixture(name: str) -> tuple[str, str]:
    title, _, body = (FIXTURES / name).read_text(encoding="utf-8").partition("\n")
    return title.strip(), body.strip()


# -- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        (" 3D ", timedelta(days=3)),
    ],
)
def test_parse_since_reads_hours_days_weeks(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "-1d", "1.5d", "7 days", "3m", "1y"])
def test_parse_since_rejects_other_forms_with_the_input_named(text: str) -> None:
    with pytest.raises(DigestError, match=r"--since .*12h, 7d or 2w"):
        parse_since(text)


# -- window ---------------------------------------------------------------------------------


def test_window_edges() -> None:
    exactly_now = _article(1, hours_ago=0)
    future = _article(2, hours_ago=-0.001)
    undated = _article(3, hours_ago=None)
    at_start = _article(4, hours_ago=7 * 24)
    just_inside = _article(5, hours_ago=7 * 24 - 0.001)
    kept = in_window([exactly_now, future, undated, at_start, just_inside], AS_OF, WEEK)
    assert [a.id for a in kept] == [1, 5]


def test_window_needs_an_aware_as_of() -> None:
    with pytest.raises(DigestError, match="--as-of"):
        in_window([], AS_OF.replace(tzinfo=None), WEEK)


def test_naive_published_is_read_as_utc_rather_than_crashing() -> None:
    article = _article(1)
    article.published = (AS_OF - timedelta(hours=1)).replace(tzinfo=None)
    assert in_window([article], AS_OF, WEEK) == [article]


def test_select_leaves_out_future_undated_and_old_articles() -> None:
    articles = [
        _article(1, hours_ago=2),
        _article(2, hours_ago=-2),
        _article(3, hours_ago=None),
        _article(4, hours_ago=24 * 8),
    ]
    stories = select_stories(articles, as_of=AS_OF, since=WEEK, limit=10)
    assert [s.article.id for s in stories] == [1]


# -- political or not -----------------------------------------------------------------------


def test_scores_are_computed_when_missing_and_non_political_left_out() -> None:
    political = _article(1, score=None, body=_fixture("politics_001.txt")[1], site="a.example")
    sport = _article(2, score=None, body=_fixture("sport_001.txt")[1], site="b.example")
    stories = select_stories([political, sport], as_of=AS_OF, since=WEEK, limit=10)
    assert [s.article.id for s in stories] == [1]
    assert political.political_score is not None and political.political_score >= 0.5
    assert sport.political_score is not None and sport.political_score < 0.5


def test_min_score_is_respected() -> None:
    articles = [_article(1, score=0.95), _article(2, score=0.7, site="b.example")]
    stories = select_stories(articles, as_of=AS_OF, since=WEEK, limit=10, min_score=0.8)
    assert [s.article.id for s in stories] == [1]


# -- near-duplicates ------------------------------------------------------------------------


def test_same_story_under_another_headline_on_another_site_is_one_entry() -> None:
    title, body = _fixture("politics_003.txt")
    original = _article(1, site="bbc.example", hours_ago=10, title=title, body=body)
    paragraphs = body.split("\n\n")
    # The re-publisher rewrites the headline, drops a paragraph and adds its own footer.
    copy_body = "\n\n".join(paragraphs[:1] + paragraphs[2:]) + "\n\nShare this story on Facebook."
    copy = _article(
        2, site="news.example", hours_ago=4, title="A different headline", body=copy_body
    )
    other = _article(3, site="bbc.example", hours_ago=5)
    stories = select_stories([copy, other, original], as_of=AS_OF, since=WEEK, limit=10)
    assert sorted(s.article.id for s in stories) == [1, 3]
    merged = next(s for s in stories if s.article.id == 1)
    assert merged.other_sources == ["https://news.example/2"]
    assert next(s for s in stories if s.article.id == 3).other_sources == []


def test_a_complete_copy_represents_the_story_over_an_earlier_truncated_one() -> None:
    _, body = _fixture("politics_005.txt")
    cut = body[: len(body) // 2]
    truncated = _article(1, site="a.example", hours_ago=20, body=cut, truncated=True)
    complete = _article(2, site="b.example", hours_ago=3, body=body)
    [story] = select_stories([truncated, complete], as_of=AS_OF, since=WEEK, limit=10)
    assert story.article.id == 2
    assert story.other_sources == ["https://a.example/1"]


def test_earliest_complete_copy_represents_the_story() -> None:
    body = _text(99, 300)
    later = _article(1, site="a.example", hours_ago=2, body=body)
    earlier = _article(2, site="b.example", hours_ago=30, body=body)
    [story] = select_stories([later, earlier], as_of=AS_OF, since=WEEK, limit=10)
    assert story.article.id == 2


def test_different_stories_sharing_boilerplate_are_not_merged() -> None:
    footer = " ".join(["Sign up for our newsletter to get the latest political news daily"] * 3)
    articles = [_article(i, body=_text(i, 200) + " " + footer) for i in range(1, 6)]
    assert len(group_near_duplicates(articles)) == 5


def test_short_bodies_are_never_merged_on_too_little_evidence() -> None:
    articles = [_article(1, body="Minister resigns."), _article(2, body="Minister resigns.")]
    assert len(group_near_duplicates(articles)) == 2


# -- ranking --------------------------------------------------------------------------------


def test_higher_political_score_ranks_first_and_newer_breaks_a_tie() -> None:
    articles = [
        _article(1, score=0.6, site="a.example", hours_ago=1),
        _article(2, score=0.99, site="b.example", hours_ago=1),
        _article(3, score=0.99, site="c.example", hours_ago=100),
    ]
    stories = select_stories(articles, as_of=AS_OF, since=WEEK, limit=3)
    assert [s.article.id for s in stories] == [2, 3, 1]
    assert stories[0].score > stories[1].score > stories[2].score


def test_one_site_does_not_fill_the_issue() -> None:
    busy = [_article(i, site="busy.example", score=0.95, hours_ago=i) for i in range(1, 9)]
    quiet = [_article(i, site=f"quiet{i}.example", score=0.85, hours_ago=i) for i in (20, 21)]
    stories = select_stories(busy + quiet, as_of=AS_OF, since=WEEK, limit=5)
    sites = [s.article.source_name for s in stories]
    assert len(stories) == 5
    assert "quiet20.example" in sites and "quiet21.example" in sites
    assert sites[0] == "busy.example"


def test_a_story_run_by_more_sites_ranks_higher() -> None:
    shared = _text(500, 300)
    widely_run = [_article(i, site=f"s{i}.example", score=0.9, body=shared) for i in (1, 2, 3)]
    alone = _article(4, site="t.example", score=0.9)
    stories = select_stories([alone, *widely_run], as_of=AS_OF, since=WEEK, limit=2)
    assert stories[0].article.id in (1, 2, 3)
    assert len(stories[0].other_sources) == 2


def test_limit() -> None:
    articles = [_article(i, site=f"s{i}.example") for i in range(1, 11)]
    assert len(select_stories(articles, as_of=AS_OF, since=WEEK, limit=4)) == 4
    assert len(select_stories(articles, as_of=AS_OF, since=WEEK, limit=None)) == 10
    with pytest.raises(DigestError, match="--limit 0"):
        select_stories(articles, as_of=AS_OF, since=WEEK, limit=0)


def test_a_story_already_sent_stays_out_with_its_re_runs() -> None:
    title, body = _fixture("politics_003.txt")
    sent = _article(1, site="bbc.example", hours_ago=30, title=title, body=body)
    paragraphs = body.split("\n\n")
    re_run = _article(2, site="news.example", hours_ago=2, body="\n\n".join(paragraphs[1:]))
    fresh = _article(3, site="bbc.example", hours_ago=5)
    stories = select_stories([sent, re_run, fresh], as_of=AS_OF, since=WEEK, exclude={1})
    assert [s.article.id for s in stories] == [3]
