"""Subscriber lists as a library: parsing hand-edited CSV, importing, suppression, forgetting."""

from __future__ import annotations

import mailbox
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.models import Subscriber
from digest.project import Project, init_project
from digest.store import email_hash
from digest.subscribers import (
    ListError,
    NotOnList,
    add_subscriber,
    all_subscribers,
    forget,
    import_file,
    iter_subscribers,
    parse_list,
    read_list_file,
    remove_subscriber,
)
from digest.tokens import load_secret

FIXTURES = Path(__file__).parent / "fixtures" / "subscribers"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    project = init_project(tmp_path / "news")
    (project.subscribers_dir / "example.csv").unlink()
    yield project
    project.close()


def test_messy_file_reports_each_bad_row_by_line_and_keeps_the_rest() -> None:
    parsed = read_list_file(FIXTURES / "messy.csv")

    problems = {p.line: p.reason for p in parsed.problems}
    assert sorted(problems) == [3, 5, 7]
    assert "not-an-address" in problems[3] and "not a valid email" in problems[3]
    assert "line break" in problems[5]
    assert "5 fields but the header has 4" in problems[7]
    assert all(str(p).startswith(f"{FIXTURES / 'messy.csv'}:") for p in parsed.problems)

    by_email = {s.email: s for s in parsed.subscribers}
    assert sorted(by_email) == ["ada@example.org", "katherine@example.com"]
    # the BOM and `;` were understood: the quoted name kept its `;`, the columns their names
    assert by_email["ada@example.org"].name == "Lovelace; Ada"
    assert by_email["ada@example.org"].attributes == {"city": "London", "plan": "pro"}
    assert by_email["katherine@example.com"].name == 'Katherine "Kate" Johnson'
    assert by_email["katherine@example.com"].attributes == {"city": "Hampton"}
    assert parsed.duplicates == 1


def test_duplicate_fills_in_what_the_first_row_left_empty() -> None:
    parsed = parse_list(
        "email,name,city\nada@example.org,,\nAda@EXAMPLE.org,Ada,London\n",
        list_name="x",
        source="x.csv",
    )
    [ada] = parsed.subscribers
    assert (ada.email, ada.name, ada.attributes) == ("ada@example.org", "Ada", {"city": "London"})


@pytest.mark.parametrize("separator", ["\r", "\n", "\u2028"])
def test_line_break_in_an_attribute_is_refused(separator: str) -> None:
    text = f'email,name,note\nada@example.org,Ada,"one{separator}two"\nb@example.org,B,ok\n'
    parsed = parse_list(text, list_name="x", source="x.csv")
    assert [p.line for p in parsed.problems] == [2]
    assert "note holds a line break" in parsed.problems[0].reason
    assert [s.email for s in parsed.subscribers] == ["b@example.org"]


def test_a_file_without_an_email_column_is_an_error() -> None:
    with pytest.raises(ListError, match=r"x.csv:1: no `email` column"):
        parse_list("name,city\nAda,London\n", list_name="x", source="x.csv")


def test_import_merges_and_skips_suppressed_and_keeps_bad_rows_of_the_target(
    project: Project,
) -> None:
    target = project.subscribers_dir / "news.csv"
    # an editor's file with a bad row: rewriting the list must not lose it
    target.write_text("email,name\nada@example.org,Ada\nbroken-row,Someone\n", encoding="utf-8")
    project.store.suppress("Grace@example.org", "unsubscribed")

    report = import_file(FIXTURES / "plain.csv", project.subscribers_dir, project.store, "news")

    assert (report.added, report.updated, report.unchanged) == (1, 1, 0)
    assert report.suppressed == ["grace@example.org"]
    text = target.read_text(encoding="utf-8")
    assert "broken-row,Someone" in text
    assert "grace" not in text.lower()
    rows = {s.email: s for s in read_list_file(target).subscribers}
    assert rows["ada@example.org"].name == "Ada Lovelace"
    assert rows["ada@example.org"].attributes == {"team": "engines"}
    assert rows["linus@example.net"].attributes == {"team": "kernel"}

    again = import_file(FIXTURES / "plain.csv", project.subscribers_dir, project.store, "news")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_suppression_wins_over_a_hand_edited_list(project: Project) -> None:
    add_subscriber(project.subscribers_dir, project.store, "ada@example.org", list_name="news")
    add_subscriber(project.subscribers_dir, project.store, "bob@example.org", list_name="news")
    project.store.suppress("ada@example.org", "bounced")
    # an editor puts the address back by hand, in another spelling
    with (project.subscribers_dir / "news.csv").open("a", encoding="utf-8") as f:
        f.write("ADA@example.org,Ada again\n")

    statuses = {s.email: s.status for s in all_subscribers(project.subscribers_dir, project.store)}
    assert statuses == {"ada@example.org": "bounced", "bob@example.org": "active"}
    sendable = iter_subscribers(project.subscribers_dir, store=project.store)
    assert [s.email for s in sendable] == ["bob@example.org"]


def test_iter_subscribers_sends_each_address_once(
    project: Project,
) -> None:
    shutil.copy(FIXTURES / "plain.csv", project.subscribers_dir / "a.csv")
    shutil.copy(FIXTURES / "messy.csv", project.subscribers_dir / "b.csv")
    everyone = list(iter_subscribers(project.subscribers_dir, store=project.store))
    assert [s.email for s in everyone] == [
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
        "katherine@example.com",
    ]
    assert {s.list for s in everyone} == {"a", "b"}
    assert [
        s.email for s in iter_subscribers(project.subscribers_dir, "b", store=project.store)
    ] == [
        "ada@example.org",
        "katherine@example.com",
    ]


def test_remove_takes_every_row_off_and_reports_an_unknown_address(project: Project) -> None:
    shutil.copy(FIXTURES / "messy.csv", project.subscribers_dir / "b.csv")
    removed = remove_subscriber(project.subscribers_dir, "Ada@Example.org", store=project.store)
    assert removed == {"b": 2}  # the row and its duplicate
    text = (project.subscribers_dir / "b.csv").read_text(encoding="utf-8")
    assert "ada@" not in text.lower()
    # the rest of the hand-edited file, bad rows included, is still there and still `;`
    assert "not-an-address;Nobody" in text
    assert "linus@example.net;Linus;Helsinki;free;extra" in text
    with pytest.raises(NotOnList):
        remove_subscriber(project.subscribers_dir, "nobody@example.org", store=project.store)


def test_forget_leaves_only_a_hash(project: Project) -> None:
    shutil.copy(FIXTURES / "plain.csv", project.subscribers_dir / "a.csv")
    add_subscriber(project.subscribers_dir, project.store, "ada@example.org", list_name="b")
    store = project.store
    issue = store.create_issue(key="w1", subject="s", entries=[], html="<p>x</p>", text="x")
    store.add_recipients(issue.id, [Subscriber("ada@example.org", "Ada", "a")])
    store.mark_send(issue.id, "ada@example.org", "failed", reply="550 ada@example.org unknown")
    store.suppress("ada@example.org", "complained", list_name="a")
    message = EmailMessage()
    message["To"] = "Ada Lovelace <ada@example.org>"
    message.set_content("hello")
    mailbox.Maildir(project.outbox_dir, create=True).add(message)

    report = forget(project.subscribers_dir, store, "ADA@example.org", outbox=project.outbox_dir)

    assert (report.list_rows, report.send_rows, report.outbox_messages) == (2, 1, 1)
    assert report.reason == "complained"
    for path in project.subscribers_dir.glob("*.csv"):
        assert "ada" not in path.read_text(encoding="utf-8").lower()
    rows = store.db.execute("SELECT * FROM suppressions").fetchall()
    assert [(r["email_hash"], r["email"], r["list"]) for r in rows] == [
        (email_hash("ada@example.org"), None, None)
    ]
    assert store.db.execute("SELECT count(*) FROM sends").fetchone()[0] == 0
    assert len(mailbox.Maildir(project.outbox_dir)) == 0
    # a re-import does not bring her back
    report2 = import_file(FIXTURES / "plain.csv", project.subscribers_dir, store, "a")
    assert report2.suppressed == ["ada@example.org"]
    assert "ada" not in (project.subscribers_dir / "a.csv").read_text(encoding="utf-8").lower()


def test_forget_someone_never_suppressed_adds_a_hashed_suppression(project: Project) -> None:
    add_subscriber(project.subscribers_dir, project.store, "bob@example.org", list_name="a")
    report = forget(project.subscribers_dir, project.store, "bob@example.org")
    assert report.reason == "unsubscribed"
    assert project.store.is_suppressed("bob@example.org")
    assert project.store.db.execute("SELECT email FROM suppressions").fetchone()[0] is None


def test_add_refuses_a_bad_address_and_a_bad_list_name(project: Project) -> None:
    with pytest.raises(ListError, match="not a valid email"):
        add_subscriber(project.subscribers_dir, project.store, "ada@", list_name="a")
    with pytest.raises(ListError, match="list name"):
        add_subscriber(project.subscribers_dir, project.store, "a@example.org", list_name="../x")
    with pytest.raises(ListError, match="line break"):
        add_subscriber(project.subscribers_dir, project.store, "a@example.org", name="A\r\nBcc: x")
    assert list(project.subscribers_dir.glob("*.csv")) == []


# -- a hand-edited list that cannot be read to the end ------------------------------------------


def _big_unbalanced(rows: int) -> str:
    """A list whose third line opens a quote it never closes, followed by `rows` good rows: more
    than csv's 128 KB field limit when `rows` is large."""
    body = "".join(f"reader{n:05d}@example.org,Reader {n}\n" for n in range(rows))
    return 'email,name\na1@example.org,Ann\na2@example.org,"Bob Jr\n' + body


@pytest.mark.parametrize("rows", [3, 6000])
def test_an_unbalanced_quote_is_reported_for_its_line_and_the_rows_after_it_are_read(
    rows: int,
) -> None:
    parsed = parse_list(_big_unbalanced(rows), list_name="big", source="big.csv")

    assert [(p.line, "quote" in p.reason) for p in parsed.problems] == [(3, True)]
    assert [p.line for p in parsed.unreadable] == [3]
    emails = [s.email for s in parsed.subscribers]
    assert len(emails) == rows + 1
    assert emails[0] == "a1@example.org"
    assert emails[-1] == f"reader{rows - 1:05d}@example.org"


def test_a_quote_closed_lines_later_does_not_swallow_the_rows_between() -> None:
    parsed = read_list_file(FIXTURES / "unbalanced.csv")
    assert [p.line for p in parsed.problems] == [3]
    assert [s.email for s in parsed.subscribers] == [
        "a1@example.org",
        "a3@example.org",
        "a4@example.org",
        "a5@example.org",
    ]
    assert {s.email: s.name for s in parsed.subscribers}["a4@example.org"] == "Di"


def test_a_quoted_line_break_in_a_name_is_a_bad_row_not_an_unreadable_file() -> None:
    # the messy fixture's Grace row: a well-formed quoted field that holds a line break, with no
    # address swallowed; the row is skipped but the file can still be rewritten around it
    parsed = read_list_file(FIXTURES / "messy.csv")
    assert parsed.unreadable == []


def _broken_list(project: Project) -> tuple[Path, bytes]:
    path = project.subscribers_dir / "big.csv"
    path.write_text(_big_unbalanced(6000), encoding="utf-8")
    return path, path.read_bytes()


def test_a_list_that_cannot_be_read_to_the_end_is_never_rewritten(project: Project) -> None:
    path, before = _broken_list(project)
    folder, store = project.subscribers_dir, project.store
    attempts = [
        lambda: add_subscriber(folder, store, "new@example.org", list_name="big"),
        lambda: add_subscriber(folder, store, "a1@example.org", list_name="big"),
        lambda: import_file(FIXTURES / "plain.csv", folder, store, "big"),
        lambda: remove_subscriber(folder, "reader00042@example.org", store=store),
        lambda: remove_subscriber(folder, "a2@example.org", "big", store=store),
        lambda: forget(folder, store, "reader00042@example.org"),
    ]
    for attempt in attempts:
        with pytest.raises(ListError, match=rf"{path}:3: .*quote"):
            attempt()
        assert path.read_bytes() == before
    # forget changed nothing either: no suppression was recorded
    assert not store.is_suppressed("reader00042@example.org")


def test_remove_and_forget_leave_a_broken_list_alone_when_the_address_is_not_in_it(
    project: Project,
) -> None:
    path, before = _broken_list(project)
    add_subscriber(project.subscribers_dir, project.store, "zoe@example.org", list_name="vip")
    assert remove_subscriber(project.subscribers_dir, "zoe@example.org", store=project.store) == {
        "vip": 1
    }
    assert path.read_bytes() == before


def test_reading_reports_the_problem_rows_it_skips(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    _broken_list(project)
    seen: list[str] = []
    everyone = all_subscribers(
        project.subscribers_dir, project.store, "big", on_problem=lambda p: seen.append(str(p))
    )
    assert len(everyone) == 6001
    assert len(seen) == 1 and seen[0].startswith(f"{project.subscribers_dir / 'big.csv'}:3: ")

    seen.clear()
    sendable = list(
        iter_subscribers(
            project.subscribers_dir,
            "big",
            store=project.store,
            on_problem=lambda p: seen.append(str(p)),
        )
    )
    assert len(sendable) == 6001 and len(seen) == 1

    # the send engine's call, without on_problem: the problem still reaches the log (stderr)
    with caplog.at_level("WARNING", logger="digest.subscribers"):
        assert (
            len(list(iter_subscribers(project.subscribers_dir, "big", store=project.store))) == 6001
        )
    assert [r.getMessage() for r in caplog.records] == [f"skipped {seen[0]}"]


# -- the signing secret -------------------------------------------------------------------------


def test_a_generated_secret_is_private_long_and_stable(tmp_path: Path) -> None:
    state = tmp_path / ".digest"
    first = load_secret(state, None)
    assert len(first) >= 16
    assert (state / "secret").stat().st_mode & 0o777 == 0o600
    assert load_secret(state, None) == first
    assert sorted(p.name for p in state.iterdir()) == ["secret"]  # no temp file left behind


@pytest.mark.parametrize("content", ["", "\n", "short-secret\n"])
def test_an_empty_or_short_secret_file_is_refused(tmp_path: Path, content: str) -> None:
    # what a crash between creating and writing the file used to leave: every token an HMAC
    # under b"", forgeable by anyone
    state = tmp_path / ".digest"
    state.mkdir()
    (state / "secret").write_text(content)
    with pytest.raises(DigestError, match=r"secret.*at least 32 bytes") as caught:
        load_secret(state, None)
    assert "\n" not in str(caught.value)
    if content.strip():
        assert content.strip() not in str(caught.value)  # a secret is never printed


def test_a_short_digest_secret_is_refused_without_printing_it(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="DIGEST_SECRET.*at least 32 bytes") as caught:
        load_secret(tmp_path, "hunter2")
    assert "hunter2" not in str(caught.value)
    assert load_secret(tmp_path, "x" * 32) == b"x" * 32
    assert not (tmp_path / "secret").exists()


# -- the store is where subscribers live ----------------------------------------------------------


def test_an_older_project_moves_its_lists_into_the_store_on_first_use(project: Project) -> None:
    # a project from before subscribers lived in the store: only its files know them
    (project.subscribers_dir / "news.csv").write_text(
        "email,name,city,Zip Code\n"
        "ada@example.org,Ada,London,N1\n"
        "not-an-address,Nobody,,\n"
        "grace@example.org,Grace,,\n",
        encoding="utf-8",
    )
    assert list(project.store.subscribers()) == []
    seen: list[str] = []
    moved = all_subscribers(project.subscribers_dir, project.store, on_problem=seen.append)
    assert [(s.email, s.attributes) for s in moved] == [
        ("ada@example.org", {"city": "London", "Zip Code": "N1"}),
        ("grace@example.org", {}),
    ]
    assert len(seen) == 1  # the bad row is named (and stays in the file for an editor)
    # the store holds them now: the file can go, nobody is lost
    (project.subscribers_dir / "news.csv").unlink()
    sendable = iter_subscribers(project.subscribers_dir, store=project.store)
    assert [(s.email, s.list, s.attributes.get("city")) for s in sendable] == [
        ("ada@example.org", "news", "London"),
        ("grace@example.org", "news", None),
    ]


def test_an_edited_file_wins_for_its_rows_and_sign_ups_stay(project: Project) -> None:
    path = project.subscribers_dir / "news.csv"
    path.write_text("email,name\nada@example.org,Ada\nbob@example.org,Bob\n", encoding="utf-8")
    all_subscribers(project.subscribers_dir, project.store)
    project.store.subscribe(Subscriber(email="web@example.org", list="news"), origin="web")
    path.write_text("email,name\nada@example.org,Ada Lovelace\n", encoding="utf-8")
    people = {s.email: s.name for s in all_subscribers(project.subscribers_dir, project.store)}
    assert people == {"ada@example.org": "Ada Lovelace", "web@example.org": ""}
    # and `remove` takes a sign-up that no file holds off the store
    assert remove_subscriber(project.subscribers_dir, "web@example.org", store=project.store) == {
        "news": 1
    }
    assert [s.email for s in iter_subscribers(project.subscribers_dir, store=project.store)] == [
        "ada@example.org"
    ]
