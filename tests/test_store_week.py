"""Issue 23's store queries on both backends (SQLite and a real PostgreSQL, as test_store.py):
story identity's record of what was sent (merged articles included), "sent this period",
per-issue send times, the articles search, deleting a list, and undoing a failed start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from send_support import ENTRIES
from test_store import open_store, target  # noqa: F401 - the backend-parametrised fixture

from digest.models import Article, IssueEntry, Subscriber
from digest.store import Store

WHEN = datetime(2026, 11, 20, 9, tzinfo=UTC)


@pytest.fixture
def store(target: str) -> Store:  # noqa: F811 - target is the imported fixture
    return open_store(target)


def add(store: Store, title: str, body: str, url: str, **fields: object) -> int:
    article_id, _ = store.add_article(Article(title=title, body=body, source_url=url, **fields))  # type: ignore[arg-type]
    return article_id


def entry(article_id: int, title: str, merged: list[int] | None = None) -> IssueEntry:
    return IssueEntry(
        **{**vars(ENTRIES[0]), "article_id": article_id, "title": title, "merged_ids": merged or []}
    )


def test_merged_articles_are_sent_with_their_story(store: Store) -> None:
    lead = add(store, "Budget passes", "MPs passed the budget.", "https://a.org/1")
    copy = add(store, "Budget passed", "The budget was passed by MPs.", "https://b.org/1")
    other = add(store, "Strike ends", "The strike ended.", "https://a.org/2")
    unsent = add(store, "Later news", "Nothing sent.", "https://c.org/1")
    issue = store.create_issue(
        key="2026-W47",
        subject="S",
        entries=[entry(lead, "Budget passes", [copy]), entry(other, "Strike ends")],
        html="<p>",
        text="t",
    )
    assert store.sent_stories() == []  # a draft went nowhere
    store.set_issue_status(issue.id, "sending")
    store.set_issue_status(issue.id, "sent")
    stories = store.sent_stories()
    assert [(s.issue_key, s.title, [a.id for a in s.articles]) for s in stories] == [
        ("2026-W47", "Budget passes", [lead, copy]),
        ("2026-W47", "Strike ends", [other]),
    ]
    assert stories[0].sent_at is not None and store.article_ids_in_issues() == {lead, copy, other}
    assert unsent not in store.article_ids_in_issues()
    assert [a.id for a in store.articles_by_ids([other, 999, lead])] == [lead, other]
    # an edit of a draft keeps issue_articles in step: the dropped copy is no longer sent
    draft = store.create_issue(
        key="2026-W48", subject="S", entries=[entry(unsent, "Later news")], html="", text=""
    )
    store.save_draft(
        draft.id, subject="S", subject_custom=False, intro="", entries=[entry(lead, "Again")],
        runners_up=[], html="", text="",
    )  # fmt: skip
    store.set_issue_status(draft.id, "sending")
    assert {s.title for s in store.sent_stories()} == {"Budget passes", "Strike ends", "Again"}
    assert unsent not in store.article_ids_in_issues()


def test_an_issue_whose_send_began_this_period_is_found(store: Store) -> None:
    first = store.create_issue(key="by-hand", subject="S", entries=[], html="", text="")
    second = store.create_issue(key="2026-W47", subject="S", entries=[], html="", text="")
    before = datetime.now(UTC) - timedelta(hours=1)
    assert store.issues_send_started(before) == []
    store.set_issue_status(first.id, "sending")
    store.set_issue_status(first.id, "sent")
    (found,) = store.issues_send_started(before)
    assert found[0].key == "by-hand" and found[1] >= before
    assert store.issues_send_started(datetime.now(UTC) + timedelta(days=3)) == []
    assert second.id not in [issue.id for issue, _ in store.issues_send_started(before)]


def test_a_send_time_is_kept_in_utc_and_scheduled_issues_come_soonest_first(store: Store) -> None:
    late = store.create_issue(key="a", subject="S", entries=[], html="", text="")
    soon = store.create_issue(key="b", subject="S", entries=[], html="", text="")
    paris = datetime(2026, 12, 8, 8, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert store.schedule_issue(late.id, paris + timedelta(days=1))
    assert store.schedule_issue(soon.id, paris)
    assert store.issue(soon.id).send_at == datetime(2026, 12, 8, 8, tzinfo=UTC)
    assert store.scheduled_issues() == []  # drafts wait for approval
    for issue in (late, soon):
        store.set_issue_status(issue.id, "approved")
    assert [i.key for i in store.scheduled_issues()] == ["b", "a"]
    assert store.schedule_issue(late.id, None) and store.issue(late.id).send_at is None
    store.set_issue_status(soon.id, "sending")
    assert not store.schedule_issue(soon.id, None)  # its send has begun
    assert store.scheduled_issues() == []


def test_articles_are_found_by_text_date_source_and_score(store: Store) -> None:
    old = add(
        store, "Budget talks", "Ministers MET.", "https://news.example.org/a",
        published=WHEN - timedelta(days=9), political_score=0.9,
    )  # fmt: skip
    new = add(
        store, "Football", "A match about the budget.", "https://sport.example.net/b",
        published=WHEN, political_score=0.1,
    )  # fmt: skip
    undated = add(store, "Undated budget", "No date.", "https://news.example.org/c")
    assert [a.id for a in store.find_articles(text="BUDGET")] == [new, old, undated]
    assert [a.id for a in store.find_articles(text="ministers met")] == [old]
    assert [a.id for a in store.find_articles(start=WHEN - timedelta(days=1))] == [new]
    assert [a.id for a in store.find_articles(end=WHEN)] == [old]
    assert [a.id for a in store.find_articles(source="NEWS.example")] == [old, undated]
    assert [a.id for a in store.find_articles(min_score=0.5)] == [old]
    assert [a.id for a in store.find_articles(limit=1)] == [new]
    # LIKE's wildcards in what the editor typed are plain characters
    rate = add(store, "Rates at 5%", "Up 5% on the year, a_b.", "https://news.example.org/d")
    assert [a.id for a in store.find_articles(text="5%")] == [rate]
    assert [a.id for a in store.find_articles(text="a_b")] == [rate]
    assert store.find_articles(text="t%g") == store.find_articles(text="_udget") == []
    assert [a.id for a in store.find_articles(source="news_example")] == []


def test_deleting_a_list_leaves_the_other_lists(store: Store) -> None:
    people = [
        Subscriber("ada@example.org", "Ada", "weekly"),
        Subscriber("bob@example.org", "Bob", "weekly"),
    ]
    assert store.sync_list("weekly", "f1", people, drop_missing=True)
    store.subscribe(Subscriber("cy@example.org", "Cy", list="weekly"), origin="web")
    store.subscribe(Subscriber("ada@example.org", "Ada", list="daily"), origin="web")
    origins = store.list_origins("weekly")
    assert origins["web"] == 1 and sum(origins.values()) == 3
    assert store.delete_list("weekly") == 3
    assert store.list_origins("weekly") == {} and store.list_fingerprint("weekly") is None
    assert store.subscriber_lists() == ["daily"]
    assert store.delete_list("weekly") == 0


def test_a_start_that_tried_nobody_is_undone(store: Store) -> None:
    issue = store.create_issue(
        key="k", subject="S", entries=[], html="", text="", status="approved"
    )
    store.set_issue_status(issue.id, "sending")
    store.set_issue_transport(issue.id, "smtp")
    store.add_recipients(issue.id, [Subscriber("ada@example.org", "Ada")])
    assert store.undo_send_start(issue.id)
    again = store.issue(issue.id)
    assert again.status == "approved" and store.issue_transport(issue.id) is None
    assert not store.has_recipients(issue.id)
    store.set_issue_status(issue.id, "sending")
    store.add_recipients(issue.id, [Subscriber("ada@example.org", "Ada")])
    store.mark_send(issue.id, "ada@example.org", "sent")
    assert not store.undo_send_start(issue.id) and store.issue(issue.id).status == "sending"


def test_articles_a_build_would_leave_out_unsaid_are_found(store: Store) -> None:
    start, end = WHEN - timedelta(days=7), WHEN
    inside = add(store, "In", "Inside the week.", "https://a.org/in", published=WHEN)
    old = add(store, "Old", "Before the week.", "https://a.org/old", published=start)
    undated = add(store, "Undated", "No date.", "https://a.org/undated")
    assert [a.id for a in store.new_articles_outside(start, end)] == [old, undated]
    assert inside not in [a.id for a in store.new_articles_outside(start, end)]
    store.create_issue(key="k", subject="S", entries=[], html="", text="")
    later = add(store, "Later", "After the build.", "https://a.org/later")
    assert [a.id for a in store.new_articles_outside(start, end)] == [later]
