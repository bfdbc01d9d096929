"""`digest subscribers ...` through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import mailbox
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Subscriber
from digest.project import init_project
from digest.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "subscribers"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = init_project(tmp_path / "news")
    project.close()
    return project.root


def run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--project", str(root), "subscribers", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def listed(root: Path, *args: str) -> list[dict[str, object]]:
    code, out, _ = run(root, "list", "--json", *args)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_import_reports_bad_rows_by_line_and_exits_partial(root: Path) -> None:
    code, out, err = run(root, "import", str(FIXTURES / "messy.csv"), "--list", "news")
    assert code == 1
    assert out == ""
    assert "messy.csv:3: 'not-an-address' is not a valid email address" in err
    assert "messy.csv:5: name holds a line break" in err
    assert "messy.csv:7: 5 fields" in err
    assert "2 added" in err and "1 duplicate merged" in err and "3 bad rows skipped" in err
    assert "Traceback" not in err
    news = [s for s in listed(root) if s["list"] == "news"]
    assert news == [
        {
            "email": "ada@example.org",
            "name": "Lovelace; Ada",
            "list": "news",
            "status": "active",
            "attributes": {"city": "London", "plan": "pro"},
        },
        {
            "email": "katherine@example.com",
            "name": 'Katherine "Kate" Johnson',
            "list": "news",
            "status": "active",
            "attributes": {"city": "Hampton"},
        },
    ]


def test_a_clean_import_exits_zero_and_defaults_to_the_file_name(root: Path) -> None:
    code, _, err = run(root, "import", str(FIXTURES / "plain.csv"), "--json")
    assert code == 0, err
    assert (root / "subscribers" / "plain.csv").exists()
    assert {s["email"] for s in listed(root, "--list", "plain")} == {
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
    }


def test_add_list_count_export_remove(root: Path) -> None:
    code, _, err = run(root, "add", "Zoe@Example.ORG", "--name", "Zoë", "--list", "vip")
    assert code == 2 and "--list vip: no such list (lists: example)" in err
    code, _, err = run(
        root, "add", "Zoe@Example.ORG", "--name", "Zoë", "--list", "vip", "--new-list"
    )
    assert code == 0 and "created list vip" in err
    assert run(root, "add", "zoe@example.org", "--name", "Zoë Z", "--list", "vip")[0] == 0
    [zoe] = listed(root, "--list", "vip")
    assert (zoe["email"], zoe["name"], zoe["status"]) == ("Zoe@example.org", "Zoë Z", "active")

    code, out, _ = run(root, "count", "--json")
    counts = {c["list"]: c for c in map(json.loads, out.splitlines())}
    assert code == 0 and counts["vip"]["total"] == 1 and counts["example"]["total"] == 3

    code, out, _ = run(root, "export")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert {r["email"] for r in rows} == {
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
        "Zoe@example.org",
    }
    assert set(rows[0]) >= {"email", "name", "list", "status"}

    assert run(root, "remove", "zoe@example.org")[0] == 0
    assert listed(root, "--list", "vip") == []
    code, _, err = run(root, "remove", "zoe@example.org")
    assert code == 1 and "not on any list" in err


def test_bad_input_is_one_line_not_a_traceback(root: Path) -> None:
    code, _, err = run(root, "add", "not an address")
    assert code == 2 and "not a valid email address" in err and "Traceback" not in err
    code, _, err = run(root, "import", str(root / "missing.csv"))
    assert code == 2 and "missing.csv" in err and "Traceback" not in err
    code, _, err = run(root, "list", "--list", "nope")
    assert code == 2 and "no list named 'nope'" in err


def test_suppressed_shows_in_list_and_survives_reimport_and_add(root: Path) -> None:
    store = Store(root / ".digest" / "digest.sqlite3")
    store.suppress("grace@example.org", "unsubscribed", list_name="example")
    store.close()
    statuses = {s["email"]: s["status"] for s in listed(root)}
    assert statuses["grace@example.org"] == "unsubscribed"

    code, _, err = run(root, "add", "grace@example.org", "--list", "example")
    assert code == 1 and "suppressed" in err
    code, _, err = run(root, "import", str(FIXTURES / "plain.csv"), "--list", "fresh")
    assert code == 0 and "not added grace@example.org" in err
    assert "grace@example.org" not in {s["email"] for s in listed(root, "--list", "fresh")}


def test_forget_erases_the_rows_and_keeps_the_suppression(root: Path) -> None:
    code, _, err = run(root, "forget", "grace@example.org")
    assert code == 0 and "1 list row," in err
    assert "grace" not in (root / "subscribers" / "example.csv").read_text().lower()
    store = Store(root / ".digest" / "digest.sqlite3")
    try:
        assert store.is_suppressed("grace@example.org")
        assert (
            store.db.execute(
                "SELECT count(*) FROM suppressions WHERE email IS NOT NULL"
            ).fetchone()[0]
            == 0
        )
    finally:
        store.close()
    run(root, "import", str(FIXTURES / "plain.csv"), "--list", "example")
    assert "grace@example.org" not in {s["email"] for s in listed(root)}


def _write_big_broken_list(root: Path) -> Path:
    """The reviewer's list: an unbalanced quote on line 3, then 6000 people (> 128 KB)."""
    rows = "".join(f"reader{n:05d}@example.org,Reader {n}\n" for n in range(6000))
    path = root / "subscribers" / "big.csv"
    path.write_text(f'email,name\na1@example.org,Ann\na2@example.org,"Bob Jr\n{rows}')
    return path


def test_a_broken_list_is_counted_in_full_and_never_rewritten(root: Path) -> None:
    path = _write_big_broken_list(root)
    before = path.read_bytes()

    code, out, err = run(root, "count", "--list", "big", "--json")
    assert code == 1  # partial: one row skipped, and said so
    assert json.loads(out) == {"list": "big", "total": 6001, "active": 6001}
    assert f"{path}:3: " in err and "quote" in err

    for args in (
        ("add", "new@example.org", "--list", "big"),
        ("import", str(FIXTURES / "plain.csv"), "--list", "big"),
        ("remove", "reader00001@example.org"),
    ):
        code, _, err = run(root, *args)
        assert code == 2, args
        assert f"{path}:3: " in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
        assert path.read_bytes() == before

    for args in (("list", "--list", "big"), ("export", "--list", "big")):
        code, _, err = run(root, *args)
        assert code == 1 and f"{path}:3: " in err, args


def test_export_to_a_folder_that_does_not_exist_is_one_line(root: Path) -> None:
    target = root / "nonexistent" / "x.csv"
    code, _, err = run(root, "export", "-o", str(target))
    assert code == 2
    assert str(target) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_files_that_cannot_be_read_or_written_are_one_line(root: Path) -> None:
    code, _, err = run(root, "import", str(root / "subscribers"))  # a folder, not a file
    assert code == 2 and "subscribers" in err and "Traceback" not in err

    folder = root / "subscribers"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.write_text("not a folder\n")  # the lists' folder is a file
    code, _, err = run(root, "add", "new@example.org")
    assert code == 2 and "cannot write" in err and "Traceback" not in err


def test_reserved_test_domains_need_an_explicit_setting(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "testers.csv"
    source.write_text("email,name\nann@qa.test,Ann\nbob@example.org,Bob\n", encoding="utf-8")
    code, _, err = run(root, "import", str(source), "--list", "qa")
    assert code == 1 and "ann@qa.test" in err
    assert [row["email"] for row in listed(root, "--list", "qa")] == ["bob@example.org"]

    config = root / "digest.toml"
    config.write_text(
        config.read_text().replace("allow_test_domains = false", "allow_test_domains = true")
    )
    code, _, err = run(root, "import", str(source), "--list", "qa")
    assert code == 0, err
    emails = sorted(str(row["email"]) for row in listed(root, "--list", "qa"))
    assert emails == ["ann@qa.test", "bob@example.org"]


def test_sync_brings_an_edited_file_in_and_export_reads_the_store(root: Path) -> None:
    path = root / "subscribers" / "news.csv"
    path.write_text("email,name,team\nada@example.org,Ada,engines\n", encoding="utf-8")
    code, out, err = run(root, "sync")
    assert code == 0 and "list news: synced" in err
    code, _, err = run(root, "sync")
    assert code == 0 and "0 lists synced" in err
    path.write_text("email,name,team\nada@example.org,Ada L,engines\nbad,Bad,\n", encoding="utf-8")
    code, _, err = run(root, "sync", "--list", "news")
    assert code == 1 and "news.csv:3:" in err and "list news: synced" in err
    path.unlink()  # the store holds the list now
    code, out, _ = run(root, "export", "--list", "news")
    assert code == 0
    assert list(csv.DictReader(io.StringIO(out))) == [
        {
            "email": "ada@example.org",
            "name": "Ada L",
            "list": "news",
            "status": "active",
            "team": "engines",
        }
    ]


def _outbox(root: Path) -> list[mailbox.MaildirMessage]:
    return (
        list(mailbox.Maildir(root / "outbox", create=False)) if (root / "outbox").exists() else []
    )


def test_add_confirm_sends_the_confirmation_and_list_shows_who_is_pending(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "a-test-secret-that-is-long-enough")
    code, _, err = run(root, "add", "Zoe@Example.ORG", "--name", "Zoë", "--confirm")
    assert code == 0, err
    assert "confirmation sent to Zoe@Example.ORG for list example" in err
    [message] = _outbox(root)
    assert message["To"] == "Zoe@example.org"
    body = message.get_payload(decode=True).decode()
    assert "/confirm?token=" in body
    # pending until confirmed: listed by status, not sent to
    assert [(s["email"], s["name"]) for s in listed(root, "--status", "pending")] == [
        ("Zoe@example.org", "Zoë")
    ]
    assert {s["email"] for s in listed(root, "--status", "active")} == {
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
    }
    # an active address is told so, and nothing is sent; so is a bounced one
    code, _, err = run(root, "add", "ada@example.org", "--confirm")
    assert code == 1 and "no confirmation sent to ada@example.org: already active" in err
    store = Store(root / ".digest" / "digest.sqlite3")
    store.suppress("grace@example.org", "bounced")
    store.close()
    code, _, err = run(root, "add", "grace@example.org", "--confirm")
    assert code == 1 and "suppressed (bounced)" in err
    assert len(_outbox(root)) == 1
    assert [s["email"] for s in listed(root, "--status", "bounced")] == ["grace@example.org"]
    code, _, err = run(root, "list", "--status", "gone")
    assert code == 2 and "--status gone: no such status (one of active, pending" in err


def test_add_to_a_list_without_a_file_is_a_store_row(root: Path) -> None:
    """A list that only `[lists]` names, or only the store holds (sign-ups), takes `add`
    without a file being made for it."""
    config = root / "digest.toml"
    config.write_text(config.read_text() + '\n[lists]\nnews = "The weekly digest"\n')
    code, _, err = run(root, "add", "zoe@example.org", "--name", "Zoë", "--list", "news")
    assert code == 0 and "zoe@example.org added to list news" in err
    assert not (root / "subscribers" / "news.csv").exists()
    assert [(s["email"], s["status"]) for s in listed(root, "--list", "news")] == [
        ("zoe@example.org", "active")
    ]
    code, _, err = run(root, "add", "zoe@example.org", "--name", "Zoë Z", "--list", "news")
    assert code == 0 and "updated on list news" in err
    store = Store(root / ".digest" / "digest.sqlite3")
    assert store.db.scalar("SELECT origin FROM subscribers WHERE list = 'news'") == "cli"
    store.subscribe(Subscriber(email="web@example.org", list="signups"), origin="web")
    store.close()
    code, _, err = run(root, "add", "ann@example.org", "--list", "signups")
    assert code == 0 and "ann@example.org added to list signups" in err
    assert {s["email"] for s in listed(root, "--list", "signups")} == {
        "web@example.org",
        "ann@example.org",
    }
    assert sorted(p.name for p in (root / "subscribers").iterdir()) == ["example.csv"]
    # a list nobody knows still needs --new-list
    code, _, err = run(root, "add", "ann@example.org", "--list", "nwes")
    assert code == 2 and "no such list (lists: example, news, signups)" in err
    assert listed(root, "--list", "news", "--status", "pending") == []


def test_results_go_to_stdout_and_the_footnote_to_stderr(root: Path) -> None:
    """Issue 23: `subscribers list | wc -l` counted nothing, the rows were on stderr."""
    code, out, err = run(root, "list")
    assert code == 0 and len(out.splitlines()) == 3
    assert all(line.startswith("example\t") for line in out.splitlines())
    assert "3 subscribers" in err and "3 subscribers" not in out
    code, out, _ = run(root, "count")
    assert code == 0 and "example: 3 (3 active)" in out and "3 active of 3" in out
