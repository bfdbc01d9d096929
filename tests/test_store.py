"""The state store, run against both backends: the SQLite file and a real PostgreSQL server
started by the tests (conftest's `postgres`). Only what is the same on both is tested here;
SQLite's own concerns (WAL, file modes, damaged files) are in test_foundation/test_trust."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from send_support import make_project
from typer.testing import CliRunner

from digest.cli import app
from digest.errors import ConfigError, DigestError
from digest.models import Article, Subscriber
from digest.store import GAVE_UP_PREFIX, IssueExists, Store, now_utc
from digest.store.database import PostgresDatabase, SQLiteDatabase

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file's path, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def open_store(target: str) -> Store:
    return Store.connect(target) if target.startswith("postgresql:") else Store(Path(target))


@pytest.fixture
def store(target: str) -> Store:
    return open_store(target)


def test_migrations_apply_once_and_give_the_same_version_on_both(target: str) -> None:
    first = open_store(target)
    version = first.schema_version
    assert first.db.applied == version == len(SQLiteDatabase.migrations)
    first.close()
    again = open_store(target)
    assert again.db.applied == 0 and again.schema_version == version
    assert len(SQLiteDatabase.migrations) == len(PostgresDatabase.migrations)


def test_a_newer_schema_is_refused_in_one_line(target: str) -> None:
    store = open_store(target)
    newer = store.schema_version + 1
    if isinstance(store.db, SQLiteDatabase):
        store.db.execute(f"PRAGMA user_version = {newer}")
    else:
        store.db.execute(store.db.query("set_schema_version"), (newer,))
    store.close()
    with pytest.raises(DigestError, match=rf"written by a newer digest \(schema {newer}\)") as err:
        open_store(target)
    assert "\n" not in str(err.value) and "test-only-password" not in str(err.value)


def test_same_url_or_same_body_is_one_article(store: Store) -> None:
    when = datetime(2026, 11, 20, 9, tzinfo=UTC)
    first = Article(
        title="A", body="Ministers met today.", source_url="www.example.org/a", published=when
    )
    first.origin = "one.txt"
    assert store.add_article(first) == (1, True)
    same_url = Article(title="A2", body="Other text.", source_url="https://WWW.example.org/a")
    same_url.origin = "two.txt"
    assert store.add_article(same_url) == (1, False)
    same_body = Article(title="B", body="ministers  met today", source_url="https://other.org/b")
    assert store.add_article(same_body) == (1, False)
    stored = store.article(1)
    assert stored.source_url == "https://www.example.org/a"
    # the addresses it was found at are kept apart from the files and feeds it came from
    assert stored.sources == ["https://www.example.org/a", "https://other.org/b"]
    assert stored.origin == "one.txt"
    assert store.article_origins(1) == ["one.txt", "two.txt"]
    assert store.count_articles() == 1
    assert store.newest_published() == when


def test_a_better_copy_improves_the_stored_article(store: Store) -> None:
    """A feed's undated teaser arrives first; the dated, complete page at the same URL follows."""
    teaser = Article(
        title="Budget vote",
        body="MPs will vote on the budget",
        truncated=True,
        source_url="https://news.example.org/budget",
        political_score=0.4,
    )
    assert store.add_article(teaser) == (1, True)
    when = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC)
    page = Article(
        title="MPs back the budget",
        body="MPs will vote on the budget today. It passed.",
        source_url="https://news.example.org/budget",
        published=when,
        authors=["A. Writer"],
    )
    assert store.add_article(page) == (1, False)
    stored = store.article(1)
    assert stored.published == when and not stored.truncated
    assert stored.body == page.body and stored.authors == ["A. Writer"]
    assert stored.political_score is None  # recomputed from the full text
    store.add_article(teaser)  # a later worse copy changes nothing back
    assert store.article(1).body == page.body
    # the window's bounds are exact to the microsecond (no 4-byte floats)
    assert [a.id for a in store.articles_published_between(when - timedelta(days=1), when)] == [1]
    assert store.articles_published_between(when, when + timedelta(days=1)) == []
    store.set_political_scores([(1, 0.75)])
    assert store.article(1).political_score == 0.75


def test_issues_are_unique_by_key_and_a_failed_commit_leaves_nothing(store: Store) -> None:
    article_id, _ = store.add_article(Article(title="T", body="B", source_url="https://x.org/t"))
    from send_support import ENTRIES

    entries = [ENTRIES[0].__class__(**{**vars(ENTRIES[0]), "article_id": article_id})]
    issue = store.create_issue(key="2026-W01", subject="S", entries=entries, html="<p>", text="t")
    assert store.issue(issue.id).entries[0].title == ENTRIES[0].title
    with pytest.raises(IssueExists):
        store.create_issue(key="2026-W01", subject="S", entries=[], html="", text="")

    def refuse(_: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.create_issue(
            key="2026-W02", subject="S", entries=[], html="", text="", before_commit=refuse
        )
    assert store.issue_by_key("2026-W02") is None and store.latest_issue().id == issue.id
    store.set_issue_status(issue.id, "sending")
    assert store.article_ids_in_issues() == {article_id} and store.last_sent_at() is None
    store.set_issue_status(issue.id, "sent")
    assert store.last_sent_at() is not None and [i.key for i in store.issues("sent")] == [
        "2026-W01"
    ]
    store.set_issue_transport(issue.id, "outbox")
    assert store.issue_transport(issue.id) == "outbox"
    # an id given after the highest one, also after a failed insert
    assert (
        store.create_issue(key="2026-W03", subject="S", entries=[], html="", text="").id > issue.id
    )


def test_send_rows_snapshot_once_and_come_back_in_order(store: Store) -> None:
    issue = store.create_issue(key="k", subject="S", entries=[], html="", text="")
    people = [
        Subscriber(email=f"r{n:03d}@example.net", list="l", attributes={"n": n}) for n in range(7)
    ]
    assert store.add_recipients(issue.id, people) == 7
    assert store.add_recipients(issue.id, people[:3]) == 0  # a resumed send re-queues nobody
    first = store.recipient_batch(issue.id, ("pending",), limit=4)
    assert [r.subscriber.email for r in first] == [p.email for p in people[:4]]
    store.mark_send(issue.id, people[0].email, "sent", reply="250 ok")
    store.mark_send(issue.id, people[1].email, "deferred", reply="451 later", next_try=1.5)
    rest = store.recipient_batch(issue.id, ("pending", "deferred"), after=first[-1].rowid)
    assert [r.subscriber.attributes["n"] for r in rest] == [4, 5, 6]
    deferred = store.recipient_batch(issue.id, ("deferred",))
    assert deferred[0].attempts == 1 and deferred[0].next_try == 1.5
    assert [s.email for s in store.recipients(issue.id, ("sent",))] == [people[0].email]
    counts = store.send_counts(issue.id)
    assert (counts.sent, counts.deferred, counts.pending) == (1, 1, 5)
    assert len(store.sent_in_last_hour()) == 1 and store.has_recipients(issue.id)


def test_only_permanent_failures_since_the_last_delivery_count_as_bounces(store: Store) -> None:
    email = "gone@example.net"
    for number, (status, reply) in enumerate(
        [
            ("failed", "550 no"),
            ("sent", "250"),
            ("failed", "550 no"),
            ("failed", f"{GAVE_UP_PREFIX}5 tries"),
            ("failed", "550 no"),
        ]
    ):
        issue = store.create_issue(key=f"k{number}", subject="S", entries=[], html="", text="")
        store.add_recipients(issue.id, [Subscriber(email=email, list="l")])
        store.mark_send(issue.id, email, status, reply=reply)
    assert store.consecutive_failures(email) == 2


def test_soft_bounces_reported_later_count_and_a_bounced_delivery_is_no_delivery(
    store: Store,
) -> None:
    email = "full@example.net"
    issues = []
    for number in range(4):
        issue = store.create_issue(key=f"s{number}", subject="S", entries=[], html="", text="")
        store.add_recipients(issue.id, [Subscriber(email=email, list="l")])
        store.mark_send(issue.id, email, "sent", reply="250 ok")
        issues.append(issue.id)
    assert store.consecutive_failures(email) == 0
    # the relay accepted issues 2 and 3, then the mailbox's server refused them for a while
    assert store.record_bounce("<dsn1@mx>", email, issues[2], "soft", "4.2.2 full")
    assert store.record_bounce("<dsn2@mx>", email, issues[3], "soft", "4.2.2 full")
    assert store.consecutive_failures(email) == 2
    # the same report read again counts nothing, and two reports of one issue count once
    assert not store.record_bounce("<dsn1@mx>", email, issues[2], "soft", "4.2.2 full")
    assert store.record_bounce("<dsn3@mx>", email, issues[3], "soft", "4.4.7 expired")
    assert store.consecutive_failures(email) == 2
    # a hard bounce is not counted here: it suppresses at once
    assert store.record_bounce("<dsn4@mx>", email, issues[1], "hard", "5.1.1")
    assert store.consecutive_failures(email) == 2


def test_a_suppression_keeps_its_detail_and_when_and_the_report_lists_it(store: Store) -> None:
    issue = store.create_issue(key="k", subject="S", entries=[], html="", text="")
    store.add_recipients(
        issue.id, [Subscriber(email="Gone@Example.net", list="l"), Subscriber(email="ok@x.org")]
    )
    before = now_utc()
    store.suppress("gone@example.net", "bounced", list_name="l", detail="5.1.1 user unknown")
    (row,) = store.suppressed_recipients(issue.id, before)
    assert row["email"] == "gone@example.net" and row["reason"] == "bounced"
    assert row["detail"] == "5.1.1 user unknown"
    assert datetime.fromisoformat(row["suppressed"]) >= before
    store.suppress("gone@example.net", "complained", detail="feedback: abuse")
    (listed,) = store.suppression_list()
    assert (listed["reason"], listed["detail"], listed["list"]) == (
        "complained",
        "feedback: abuse",
        "l",
    )
    assert store.suppression_list("bounced") == []
    store.record_bounce("<r@mx>", "Gone@Example.net", issue.id, "complaint", "abuse")
    store.forget("gone@example.net")
    assert store.db.scalar("SELECT count(*) FROM bounces") == 0
    assert store.suppression_list()[0]["email"] is None
    assert store.known_recipient("ok@x.org") == ("ok@x.org", None)
    store.mark_send(issue.id, "ok@x.org", "sent")
    assert store.known_recipient("OK@x.org") == ("ok@x.org", issue.id)
    assert store.known_recipient("nobody@x.org") is None


def test_forget_keeps_only_the_hash(store: Store) -> None:
    issue = store.create_issue(key="k", subject="S", entries=[], html="", text="")
    store.add_recipients(issue.id, [Subscriber(email="Someone@Example.net", list="l")])
    store.suppress("someone@example.net", "bounced", list_name="l")
    assert store.is_suppressed(" SOMEONE@example.net") and store.suppression_count() == 1
    assert store.forget("someone@example.net") == (1, "bounced")
    assert store.is_suppressed("someone@example.net") and not store.has_recipients(issue.id)
    assert store.db.all("SELECT email, list FROM suppressions")[0][0] is None
    assert store.forget("never@example.net") == (0, "unsubscribed")


def _add_many(target: str) -> None:
    store = open_store(target)
    for i in range(150):
        body = f"Story number {i} about the budget. " * 3
        store.add_article(Article(title=f"t{i}", body=body, source_url=f"https://x.org/{i}"))
    store.close()


@pytest.mark.slow
def test_concurrent_ingests_store_each_article_once(target: str) -> None:
    """Four processes ingesting the same articles at once: no crash, no duplicate."""
    open_store(target).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(target,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert open_store(target).count_articles() == 150


def test_an_ingest_waits_for_another_storing_the_same_article(target: str) -> None:
    """The dedupe's read-then-insert is exclusive: a second process storing the same article
    while the first has not committed finds it afterwards instead of failing on the unique
    index (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock)."""
    import threading

    first = open_store(target)
    article = Article(title="T", body="The same story, twice.", source_url="https://x.org/same")
    outcome: list[object] = []

    def second() -> None:
        outcome.append(open_store(target).add_article(article))

    with first.db.transaction(exclusive="articles"):
        first.db.execute(
            "INSERT INTO articles (url, body_hash, title, body, added) VALUES (?, ?, ?, ?, ?)",
            ("https://x.org/same", "other-hash", "T", "b", "2026-11-20"),
        )
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # it is waiting for this transaction
        assert thread.is_alive()
    thread.join(30)
    assert outcome == [(1, False)]


# -- PostgreSQL: URLs, passwords, commands --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://digest:hunter2@db.example.org/digest",
        "postgresql://digest@db.example.org/digest?password=hunter2",
    ],
)
def test_a_password_in_the_url_is_refused_without_printing_it(tmp_path: Path, url: str) -> None:
    from digest.config import load_config
    from digest.project import init_project

    init_project(tmp_path)
    with pytest.raises(ConfigError, match="must not hold the password") as err:
        load_config(tmp_path / "digest.toml", env={"DIGEST_DATABASE_URL": url})
    assert "hunter2" not in str(err.value)
    config = tmp_path / "digest.toml"
    config.write_text(config.read_text().replace('url = ""', f'url = "{url}"'))
    result = runner.invoke(app, ["--project", str(tmp_path), "store", "migrate"], env={})
    assert result.exit_code == 2 and "store.url" in result.output and "hunter2" not in result.output


def test_the_password_comes_from_digest_database_password(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postgres_support import PASSWORD

    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("HOME", "/nonexistent")  # no ~/.pgpass either
    monkeypatch.setenv("DIGEST_DATABASE_PASSWORD", "wrong-password")
    with pytest.raises(DigestError, match="cannot open the state store: .*password") as err:
        Store.connect(postgres_url)
    assert "wrong-password" not in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("DIGEST_DATABASE_PASSWORD", PASSWORD)
    Store.connect(postgres_url).close()


def _project_with_state(root: Path) -> Path:
    project = make_project(root, 5)
    issue = project.store.latest_issue()
    project.store.add_recipients(
        issue.id, [Subscriber(email=f"r{n}@example.net", list="l") for n in range(2500)]
    )
    project.store.suppress("gone@example.net", "bounced")
    project.store.count_story_click(issue.id, 1)
    project.store.count_story_click(issue.id, 1, set_aside=True)
    project.close()
    return root


def test_copy_moves_the_sqlite_state_resumes_and_verifies(
    tmp_path: Path, postgres_url: str
) -> None:
    root = _project_with_state(tmp_path / "p")
    command = ["--project", str(root), "store", "copy", "--to", postgres_url, "--json"]
    # an interrupted copy: the first chunks of sends are in, the rest is not
    source = Store(root / ".digest" / "digest.sqlite3")
    from digest.store.copy import TABLES

    destination = Store.connect(postgres_url)
    for table in TABLES[:4]:
        rows = source.db.all(f"SELECT * FROM {table}")
        names = [d[0] for d in source.db.execute(f"SELECT * FROM {table} LIMIT 0").description]
        destination.db.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(r) for r in rows],
        )
    destination.db.executemany(
        "INSERT INTO sends (issue_id, email, list) VALUES (?, ?, ?)",
        [
            (r["issue_id"], r["email"], r["list"])
            for r in source.db.all("SELECT * FROM sends ORDER BY rowid LIMIT 1000")
        ],
    )
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["sends"] == [1500, 2500, 2500] and counts["suppressions"] == [1, 1, 1]
    assert counts["story_clicks"] == [1, 1, 1]
    assert counts["articles"][0] == 0  # already there
    assert "every table's count matches" in result.output
    again = runner.invoke(app, command)
    assert again.exit_code == 0 and all(c[0] == 0 for c in json.loads(again.stdout).values())
    # the copied project works on PostgreSQL: order kept, new ids after the copied ones
    moved = Store.connect(postgres_url)
    issue = moved.latest_issue()
    emails = [r.subscriber.email for r in moved.recipient_batch(issue.id, ("pending",), limit=3000)]
    assert emails == [r["email"] for r in source.db.all("SELECT email FROM sends ORDER BY rowid")]
    assert (
        moved.create_issue(key="next", subject="S", entries=[], html="", text="").id == issue.id + 1
    )
    assert moved.add_article(Article(title="N", body="New text", source_url="https://n.org/1"))[1]
    [clicks] = moved.story_counts([issue.id])
    assert (clicks.story, clicks.clicks, clicks.set_aside) == (1, 1, 1)
    destination.close()


def test_copy_into_a_database_holding_other_rows_says_the_counts_differ(
    tmp_path: Path, postgres_url: str
) -> None:
    root = _project_with_state(tmp_path / "p")
    other = Store.connect(postgres_url)
    other.suppress("someone.else@example.net", "unsubscribed")
    result = runner.invoke(app, ["--project", str(root), "store", "copy", "--to", postgres_url])
    assert result.exit_code == 1
    assert "counts differ for suppressions" in result.output and "Traceback" not in result.output


def test_commands_use_postgresql_when_the_url_is_set(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    runner.invoke(app, ["init", str(root)])
    monkeypatch.setenv("DIGEST_DATABASE_URL", postgres_url)
    migrate = runner.invoke(app, ["--project", str(root), "store", "migrate"])
    assert migrate.exit_code == 0 and "127.0.0.1" in migrate.output
    examples = Path(__file__).resolve().parent.parent / "examples" / "articles"
    build = runner.invoke(
        app, ["--project", str(root), "build", "--articles", str(examples), "--as-of", "2026-11-20"]
    )
    assert build.exit_code in (0, 1), build.output
    assert Store.connect(postgres_url).count_articles() > 0
    assert Store(root / ".digest" / "digest.sqlite3").count_articles() == 0


def test_a_lost_server_is_one_line(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    runner.invoke(app, ["init", str(root)])
    closed = postgres_url.rsplit(":", 1)[0] + ":1/t"  # nothing listens on port 1
    monkeypatch.setenv("DIGEST_DATABASE_URL", closed)
    result = runner.invoke(app, ["--project", str(root), "store", "migrate"])
    assert result.exit_code == 2 and "cannot open the state store" in result.output
    assert len(result.output.strip().splitlines()) == 1


# -- several send workers -------------------------------------------------------------------------


def _queued(store: Store, count: int) -> int:
    issue = store.create_issue(key="k", subject="S", entries=[], html="", text="")
    store.add_recipients(
        issue.id, [Subscriber(email=f"r{n}@x.net", list="l") for n in range(count)]
    )
    return issue.id


def test_workers_claim_disjoint_rows_and_take_over_a_lapsed_lease(target: str) -> None:
    one, two = open_store(target), open_store(target)
    issue_id = _queued(one, 10)
    first = one.claim_batch(issue_id, "w1", lease=60, limit=4)
    second = two.claim_batch(issue_id, "w2", lease=60, limit=100)
    assert [r.subscriber.email for r in first] == [f"r{n}@x.net" for n in range(4)]
    assert [r.subscriber.email for r in second] == [f"r{n}@x.net" for n in range(4, 10)]
    assert one.claim_batch(issue_id, "w1", lease=60, limit=100) == []  # its own are not new
    assert one.others_lease_until(issue_id, "w1") is not None
    one.mark_send(issue_id, "r0@x.net", "sent")
    # w1 dies: once its lease is over, its unsent rows are anyone's (the sent one is not)
    one.db.execute("UPDATE sends SET lease_until = 0 WHERE worker = 'w1'")
    taken = two.claim_batch(issue_id, "w3", lease=60, limit=100)
    assert [r.subscriber.email for r in taken] == ["r1@x.net", "r2@x.net", "r3@x.net"]
    two.release_leases(issue_id, "w2")
    assert [r.rowid for r in one.claim_batch(issue_id, "w1", lease=60, limit=100)] == [
        r.rowid for r in second
    ]


def test_the_pacing_budget_is_shared_by_every_connection(target: str) -> None:
    one, two = open_store(target), open_store(target)
    slots = [store.take_send_slot(0.5, 0) for store in (one, two, one, two)]
    assert [round(b - a, 6) for a, b in zip(slots, slots[1:], strict=False)] == [0.5, 0.5, 0.5]
    # an hourly cap of 3: the fourth slot in an hour waits for the first to be an hour old
    capped = [store.take_send_slot(0, 3) for store in (one, two, one, two)]
    assert capped[3] >= slots[2] + 3600


def test_a_stop_is_recorded_once_and_counts_workers(target: str) -> None:
    store = open_store(target)
    issue_id = _queued(store, 1)
    store.renew_leases(issue_id, "w1", 60)
    store.renew_leases(issue_id, "w2", 60)
    assert store.live_workers(issue_id) == 2
    assert store.stop_send(issue_id, "first") and not store.stop_send(issue_id, "second")
    assert store.send_stopped(issue_id) == "first"
    store.release_leases(issue_id)
    assert store.live_workers(issue_id) == 0
    store.clear_stop(issue_id)
    assert store.send_stopped(issue_id) is None


# -- subscribers ----------------------------------------------------------------------------------


def _people(*emails: str, list_name: str = "news") -> list[Subscriber]:
    return [
        Subscriber(email=e, name=e.split("@")[0].title(), list=list_name, attributes={"city": "X"})
        for e in emails
    ]


def test_a_list_file_syncs_in_once_and_takes_only_its_own_rows_out(store: Store) -> None:
    assert store.sync_list("news", "v1", _people("a@x.org", "b@x.org"), drop_missing=True)
    # the same file again: nothing to write
    assert not store.sync_list("news", "v1", _people("a@x.org"), drop_missing=True)
    store.subscribe(Subscriber(email="web@x.org", list="news"), origin="web")
    edited = _people("b@x.org")
    edited[0].name, edited[0].attributes = "Bea", {"city": "Y", "extra col": "kept"}
    assert store.sync_list("news", "v2", edited, drop_missing=True)
    people = {s.email: s for s in store.subscribers("news")}
    # a@ left with its row in the file; the sign-up no file brought stays; the file's edit wins
    assert sorted(people) == ["b@x.org", "web@x.org"]
    assert (people["b@x.org"].name, people["b@x.org"].attributes) == (
        "Bea",
        {"city": "Y", "extra col": "kept"},
    )
    # a file with bad rows (which may be the missing people) only adds and updates
    assert store.sync_list("news", "v3", _people("c@x.org"), drop_missing=False)
    assert [s.email for s in store.subscribers("news")] == ["b@x.org", "web@x.org", "c@x.org"]
    assert store.subscriber_lists() == ["news"]


def test_a_suppression_wins_over_every_subscriber_row(store: Store) -> None:
    store.sync_list("a", "v1", _people("one@x.org", "two@x.org", list_name="a"), drop_missing=True)
    store.sync_list(
        "b", "v1", _people("ONE@x.org", "three@x.org", list_name="b"), drop_missing=True
    )
    store.subscribe(Subscriber(email="four@x.org", list="b"), origin="web", status="pending")
    store.suppress("Two@X.org", "complained")
    sendable = list(store.active_subscribers())
    # each address once (the first list wins), no suppressed one, no pending one
    assert [(s.email, s.list) for s in sendable] == [("one@x.org", "a"), ("three@x.org", "b")]
    with_suppressed = {s.email: s.status for s in store.active_subscribers(suppressed=True)}
    assert with_suppressed["two@x.org"] == "complained"
    statuses = {(s.list, s.email): s.status for s in store.subscribers()}
    assert statuses[("a", "two@x.org")] == "complained"
    assert statuses[("b", "four@x.org")] == "pending"
    assert store.remove_subscriber("one@x.org") == {"a": 1, "b": 1}
    store.forget("three@x.org")
    assert [s.email for s in store.subscribers()] == ["two@x.org", "four@x.org"]


def test_a_confirmed_sign_up_becomes_active_and_lifts_only_its_own_unsubscribe(
    store: Store,
) -> None:
    ada = Subscriber(email="ada@x.org", name="Ada", list="news")
    store.subscribe(ada, origin="web", status="pending")
    assert store.subscriber_status("ADA@x.org", "news") == "pending"
    assert list(store.active_subscribers()) == []
    store.suppress("ada@x.org", "unsubscribed")
    store.suppress("bob@x.org", "complained")
    store.activate_subscriber("ada@x.org", "news", lift="unsubscribed")
    store.activate_subscriber("bob@x.org", "news", lift="unsubscribed")
    assert [(s.email, s.name) for s in store.active_subscribers()] == [("ada@x.org", "Ada")]
    assert store.suppression_reason("ada@x.org") is None
    assert store.suppression_reason("bob@x.org") == "complained"


def test_rate_limits_are_shared_by_every_connection_and_pruned(target: str) -> None:
    """Two connections (two web replicas) count against one limit; a key's events leave the
    window, and the table, as they age."""
    first, second = open_store(target), open_store(target)
    window, start = 3600.0, 1_000_000.0
    taken = [
        store.take_rate("signup", "192.0.2.1", limit=3, window=window, now=start + n)
        for n, store in enumerate([first, second, first])
    ]
    assert taken == [0.0, 0.0, 0.0]
    # the fourth waits until the first event (at start) leaves the window
    assert second.take_rate("signup", "192.0.2.1", limit=3, window=window, now=start + 10) == (
        pytest.approx(window - 10)
    )
    assert first.take_rate("signup", "192.0.2.2", limit=3, window=window, now=start + 10) == 0
    assert first.take_rate("other", "192.0.2.1", limit=3, window=window, now=start + 10) == 0
    assert first.rate_event_count("signup") == 4  # the refused one is not counted
    # an hour on, the old events are pruned as a new one arrives, and the key may go again
    later = start + window + 5
    assert second.take_rate("signup", "192.0.2.1", limit=3, window=window, now=later) == 0
    # (the other key's event at start + 10 is still in its window; the other bucket prunes itself)
    assert first.rate_event_count("signup") == 2 and first.rate_event_count() == 3
    # no address in the clear
    assert "192.0.2.1" not in json.dumps(
        [list(r) for r in first.db.all("SELECT * FROM rate_events")]
    )
    first.close()
    second.close()


def test_a_persons_own_name_and_leaving_a_list_outlast_the_files_sync(store: Store) -> None:
    store.sync_list("news", "v1", _people("a@x.org", "b@x.org"), drop_missing=True)
    store.sync_list("vip", "v1", _people("a@x.org", list_name="vip"), drop_missing=True)
    assert store.set_own_name("A@x.org", "Ada King") == 2
    assert store.set_own_name("a@x.org", "Ada King") == 0  # nothing to change
    store.leave_list("a@x.org", "vip")
    edited = _people("a@x.org", "b@x.org")
    edited[1].name = "Bea"
    store.sync_list("news", "v2", edited, drop_missing=True)
    store.sync_list("vip", "v2", _people("a@x.org", "c@x.org", list_name="vip"), drop_missing=True)
    rows = store.subscriptions("a@x.org")
    assert {n: (r.name, r.status) for n, r in rows.items()} == {
        "news": ("Ada King", "active"),
        "vip": ("Ada King", "unsubscribed"),
    }
    assert [s.name for s in store.subscribers("news") if s.email == "b@x.org"] == ["Bea"]
    assert [s.list for s in store.active_subscribers() if s.email == "a@x.org"] == ["news"]
    # the listing by status: a row's own, or a suppression's reason
    store.subscribe(Subscriber(email="p@x.org", list="news"), origin="web", status="pending")
    store.suppress("b@x.org", "bounced")
    by_status = {
        status: sorted((s.list, s.email) for s in store.subscribers(status=status))
        for status in ("active", "pending", "unsubscribed", "bounced")
    }
    assert by_status == {
        "active": [("news", "a@x.org"), ("vip", "c@x.org")],
        "pending": [("news", "p@x.org")],
        "unsubscribed": [("vip", "a@x.org")],
        "bounced": [("news", "b@x.org")],
    }
    assert [s.email for s in store.subscribers("vip", status="active")] == ["c@x.org"]
    # choosing the list again on the preferences page makes the row active, name kept
    store.activate_subscriber("a@x.org", "vip", name="ignored for an existing row")
    assert store.subscriptions("a@x.org")["vip"].status == "active"
    assert store.subscriptions("a@x.org")["vip"].name == "Ada King"
