"""The bounce mailbox against an attacker (issue 24): a message that breaks the parser is
quarantined and the run goes on; none costs more than its limits, none is parsed twice; a legacy
Message-ID proves nothing once its issue is old; a lying IMAP server moves nothing unread."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from imap_support import DOVECOT, PASSWORD, USER, Dovecot, dovecot_server, hostile_imap
from test_bounces import (
    FIXED,
    bounce_project,
    digest,
    drop,
    fill,
    left_in,
    processed,
    sent_messages,
)

from digest.bounces import process_bounces
from digest.bounces.guard import MAX_MESSAGE_BYTES
from digest.project import Project, open_project
from digest.store import Store, now_utc

QUARANTINE = ".digest-quarantine"


@pytest.fixture
def issued(tmp_path: Path) -> Iterator[Project]:
    """Issue 1 sent through the outbox to three readers, with a VERP bounce address."""
    readers = ["gone@example.net", "full@example.net", "angry@example.net"]
    project = bounce_project(tmp_path / "p", readers)
    code, _, err = digest(project.root, "send")
    assert code == 0, err
    yield project
    project.close()


def nested(depth: int, message_id: str = "<nest@attacker.example>") -> bytes:
    """A mail of `depth` multipart parts, each inside the last (~70 bytes a level)."""
    head = (
        "From: someone@attacker.example\r\nTo: bounces@example.org\r\nSubject: hello\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
    ).encode()
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi" + closing + b"\r\n"


def junk(size: int, message_id: str = "<junk@attacker.example>") -> bytes:
    """A large mail that is no bounce, shaped for flufl.bounce's slowest path: a phrase that
    starts one of its heuristics, then long lines its address patterns backtrack over."""
    head = (
        "From: someone@attacker.example\r\nTo: bounces@example.org\r\nSubject: offer\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain\r\n\r\n"
        "Your message could not be delivered to\r\n"
    ).encode()
    line = b"a" * 16000 + b"\r\n"
    return head + line * (size // len(line))


def quarantined(folder: Path) -> list[Path]:
    cur = folder / QUARANTINE / "cur"
    return sorted(cur.iterdir()) if cur.exists() else []


def test_a_nested_bomb_is_quarantined_and_the_real_report_still_acts(
    issued: Project, tmp_path: Path
) -> None:
    """It raised RecursionError: `digest bounces` failed, and `digest run` with it, every run."""
    folder = tmp_path / "bounces"
    bomb = nested(2000)
    assert 120_000 < len(bomb) < 200_000
    drop(folder, bomb, fill("postfix-hard.eml", sent_messages(issued)["gone@example.net"], "x"))
    code, out, err = digest(issued.root, "bounces", str(folder), "--json")
    assert code == 1, err
    report = json.loads(out)
    (line,) = report["quarantined"]
    assert "Message-ID <nest@attacker.example>" in line and "nested" in line
    assert f"quarantined in {folder / QUARANTINE}" in line and line in err
    assert report["suppressed"] == 1 and report["left"] == []
    assert issued.open_store().suppression_reason("gone@example.net") == "bounced"
    # kept, byte for byte and unflagged, where a mail program shows it as a folder
    (kept,) = quarantined(folder)
    assert kept.read_bytes() == bomb and kept.name.endswith(":2,")
    assert (folder / QUARANTINE / "maildirfolder").exists()
    assert left_in(folder) == 0 and len(processed(folder)) == 1
    code, out, _ = digest(issued.root, "bounces", str(folder), "--json")
    assert code == 0 and json.loads(out)["read"] == 0


def test_digest_run_goes_on_past_a_bomb(tmp_path: Path) -> None:
    folder = tmp_path / "bounce-mailbox"
    drop(folder, nested(2000))
    project = bounce_project(tmp_path / "p", ["ok@example.net"], source=folder)
    assert digest(project.root, "issue", "approve", "1")[0] == 0
    code, out, err = digest(project.root, "run", "--as-of", "2026-03-04T10:00:00+00:00")
    assert code == 1 and "quarantined" in err and " sent via outbox" in out
    assert len(quarantined(folder)) == 1


def test_an_mbox_bomb_goes_to_the_quarantine_mbox_beside_it(
    issued: Project, tmp_path: Path
) -> None:
    message = sent_messages(issued)["gone@example.net"]
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for data in (
        fill("personal.eml", message, "x"),
        nested(2000),
        fill("qmail-hard.eml", message, "x"),
    ):
        box.add(data)
    box.close()
    code, out, err = digest(issued.root, "bounces", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and report["suppressed"] == 1, err
    assert len(report["left"]) == 1 and len(report["quarantined"]) == 1
    assert [str(m["Subject"]) for m in mailbox.mbox(path)] == ["Question about your newsletter"]
    kept = Path(f"{path}.digest-quarantine")
    assert kept.stat().st_mode & 0o777 == 0o600
    kept_box = mailbox.mbox(kept)
    (only,) = [kept_box.get_bytes(key) for key in kept_box.iterkeys()]  # parsed, it would recurse
    assert b"Message-ID: <nest@attacker.example>" in only and only.count(b"multipart/mixed") == 2000


def test_a_message_over_the_size_limit_is_quarantined_unparsed(
    issued: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    huge = junk(MAX_MESSAGE_BYTES + 100_000, "<huge@attacker.example>")
    drop(folder, huge)
    code, out, _ = digest(issued.root, "bounces", str(folder), "--json")
    (line,) = json.loads(out)["quarantined"]
    assert code == 1 and "<huge@attacker.example>" in line and "4 MiB" in line
    (kept,) = quarantined(folder)
    assert kept.stat().st_size == len(huge)


def test_a_message_over_its_time_budget_is_quarantined(issued: Project, tmp_path: Path) -> None:
    folder = tmp_path / "bounces"
    drop(folder, junk(1024 * 1024))
    report = process_bounces(open_project(issued.root), str(folder), seconds=0.001)
    (line,) = report.quarantined
    assert "<junk@attacker.example>" in line and "0.001 s budget" in line


def test_junk_is_read_within_limits_once_and_never_parsed_again(
    issued: Project, tmp_path: Path
) -> None:
    """1 MiB of flufl.bounce's slowest shape: recognised as nothing (not quarantined: within
    the limits it is cheap), left in place, and the next run does not parse it."""
    folder = tmp_path / "bounces"
    drop(folder, junk(1024 * 1024))
    code, out, err = digest(issued.root, "bounces", str(folder), "--json")
    report = json.loads(out)
    assert code == 1 and report["quarantined"] == [], err
    assert "not a bounce, complaint or unsubscribe request" in report["left"][0]
    code, out, _ = digest(issued.root, "bounces", str(folder), "--json")
    (line,) = json.loads(out)["left"]
    assert "not parsed again" in line and left_in(folder) == 1


def test_a_real_report_that_reuses_a_junk_mails_message_id_still_acts(
    issued: Project, tmp_path: Path
) -> None:
    """What was seen is remembered by its bytes: an attacker who sends junk under the
    Message-ID a real report will have cannot make that report be skipped."""
    report = fill("postfix-hard.eml", sent_messages(issued)["gone@example.net"], "x")
    real_id = b"<20261130080112.4Yx2Wq1c3Fz9tB@mail.example.org>"
    assert real_id in report
    folder = tmp_path / "bounces"
    drop(folder, junk(10_000, real_id.decode()))
    assert digest(issued.root, "bounces", str(folder))[0] == 1
    drop(folder, report)
    code, out, _ = digest(issued.root, "bounces", str(folder), "--json")
    assert json.loads(out)["suppressed"] == 1
    assert issued.open_store().suppression_reason("gone@example.net") == "bounced"


# -- Message-IDs of issues sent before they were keyed --------------------------------------------


def forged_with_legacy_id(project: Project, reader: str) -> bytes:
    """A DSN to the fixed bounce address quoting only the original's Message-ID (no VERP
    token, no signed link): what anybody can compute for an issue without a Message-ID key."""
    message = sent_messages(project)[reader]
    data = fill("postfix-hard.eml", message, reader)
    data = data.replace(str(message["Return-Path"]).strip("<>").encode(), FIXED.encode())
    return data.replace(b"List-Unsubscribe:", b"X-Removed:")


def test_a_legacy_message_id_proves_whose_a_report_is_only_for_14_days(tmp_path: Path) -> None:
    project = bounce_project(tmp_path / "p", ["gone@example.net", "full@example.net"])
    project.store.db.execute("UPDATE issues SET message_id_key = ''")  # as issues sent before
    assert digest(project.root, "send")[0] == 0
    folder = tmp_path / "bounces"
    drop(folder, forged_with_legacy_id(project, "gone@example.net"))
    code, _, err = digest(project.root, "bounces", str(folder))
    assert code == 0, err
    assert project.open_store().suppression_reason("gone@example.net") == "bounced"
    # 15 days after the send began: the same kind of report suppresses nobody
    then = (now_utc() - timedelta(days=15)).isoformat()
    project.store.db.execute("UPDATE issues SET send_started = ?, sent_at = ?", (then, then))
    drop(folder, forged_with_legacy_id(project, "full@example.net"))
    code, _, err = digest(project.root, "bounces", str(folder))
    assert code == 1 and "may be forged" in err
    assert "Message-ID of issue 1 it quotes is no proof more than 14 days" in err
    assert not project.open_store().is_suppressed("full@example.net")


def test_a_keyed_message_id_keeps_proving_after_14_days(issued: Project, tmp_path: Path) -> None:
    then = (now_utc() - timedelta(days=60)).isoformat()
    issued.store.db.execute("UPDATE issues SET send_started = ?, sent_at = ?", (then, then))
    folder = tmp_path / "bounces"
    drop(folder, forged_with_legacy_id(issued, "gone@example.net"))
    assert digest(issued.root, "bounces", str(folder))[0] == 0
    assert issued.open_store().suppression_reason("gone@example.net") == "bounced"


# -- a lying IMAP server ---------------------------------------------------------------------------


def imap_bounces(project: Project, port: int) -> tuple[int, str, str]:
    config = project.config.path
    config.write_text(config.read_text().replace("timeout = 30", "timeout = 2"))
    return digest(
        project.root,
        "bounces",
        f"imap://{USER}@127.0.0.1:{port}/INBOX",
        "--allow-plaintext",
        "--json",
        env={"DIGEST_IMAP_PASSWORD": PASSWORD},
    )


def moving(commands: list[str]) -> list[str]:
    return [c for c in commands if any(w in c.upper() for w in (" STORE ", " MOVE ", " COPY "))]


@pytest.mark.parametrize(
    ("lie", "says"),
    [
        ("literal", "announced 99999999999 bytes"),
        ("drip", "no complete answer within 2 s"),
    ],
)
def test_a_lying_server_ends_the_session_and_moves_nothing(
    issued: Project, lie: str, says: str
) -> None:
    report = fill("postfix-hard.eml", sent_messages(issued)["gone@example.net"], "x")
    with hostile_imap([report], lie) as server:
        code, out, err = imap_bounces(issued, server.port)
    assert code == 1 and says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and PASSWORD not in out + err
    assert moving(server.commands) == []


def test_garbage_uids_are_ignored_and_only_what_was_read_is_moved(issued: Project) -> None:
    messages = sent_messages(issued)
    reports = [
        fill("postfix-hard.eml", messages["gone@example.net"], "x"),
        fill("arf-yahoo.eml", messages["angry@example.net"], "x"),
        fill("qmail-hard.eml", messages["full@example.net"], "x"),
    ]
    with hostile_imap(reports, "uids") as server:
        code, out, err = imap_bounces(issued, server.port)
    report = json.loads(out)
    assert code == 1, err
    assert any("not a UID ('2:*', 'abc', '4294967296')" in line for line in report["left"])
    assert any("UID 3: cannot be read" in line for line in report["left"])
    # UID 1 was read and handled; "2:*" (every message) and UID 3 (answered as UID 7) were not
    store = issued.open_store()
    assert store.suppression_reason("gone@example.net") == "bounced"
    assert not store.is_suppressed("full@example.net")
    assert [command.partition(" ")[2] for command in moving(server.commands)] == [
        "UID STORE 1 +FLAGS.SILENT (\\Seen)",
        'UID MOVE 1 "INBOX.Processed"',
    ]
    assert not any("2:*" in c or "abc" in c for c in server.commands)


@pytest.fixture
def imap_server() -> Iterator[Dovecot]:
    if not DOVECOT.exists():
        pytest.skip("Debian's dovecot is not installed (apt install dovecot-imapd)")
    with dovecot_server() as server:
        yield server


def test_on_a_real_imap_server_a_bomb_goes_to_the_quarantine_folder_unread(
    issued: Project, imap_server: Dovecot
) -> None:
    message = sent_messages(issued)["gone@example.net"]
    imap_server.append("INBOX", nested(2000), fill("postfix-hard.eml", message, "x"))
    code, out, err = imap_bounces(issued, imap_server.port)
    report = json.loads(out)
    assert code == 1 and report["suppressed"] == 1, err
    (line,) = report["quarantined"]
    assert "UID 1 (Message-ID <nest@attacker.example>)" in line and "digest-quarantine" in line
    assert imap_server.subjects("INBOX") == []
    ((subject, flags),) = imap_server.subjects("INBOX.digest-quarantine")
    assert subject == "hello" and "\\Seen" not in flags
    assert len(imap_server.subjects("INBOX.Processed")) == 1


def test_a_flat_mail_of_many_parts_is_quarantined(issued: Project, tmp_path: Path) -> None:
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % n for n in range(5000))
    data = (
        b"From: a@attacker.example\r\nMessage-ID: <flat@attacker.example>\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts + b"--B--\r\n"
    )
    folder = tmp_path / "bounces"
    drop(folder, data)
    code, out, _ = digest(issued.root, "bounces", str(folder), "--json")
    (line,) = json.loads(out)["quarantined"]
    assert code == 1 and "<flat@attacker.example>" in line and "more than 1000 parts" in line


def test_on_a_real_imap_server_an_oversized_mail_is_read_only_so_far(
    issued: Project, imap_server: Dovecot
) -> None:
    huge = junk(MAX_MESSAGE_BYTES + 100_000, "<huge@attacker.example>")
    imap_server.append("INBOX", huge)
    code, out, err = imap_bounces(issued, imap_server.port)
    (line,) = json.loads(out)["quarantined"]
    assert code == 1 and "<huge@attacker.example>" in line and "4 MiB" in line, err
    assert [s for s, _ in imap_server.subjects("INBOX.digest-quarantine")] == ["offer"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_verdicts_are_remembered_updated_and_pruned_on_both_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = (
        Store(tmp_path / "s.db")
        if backend == "sqlite"
        else Store.connect(request.getfixturevalue("postgres_url"))
    )
    assert store.message_verdict("1:aa") is None
    store.remember_message("1:aa", "unknown", "not a bounce", "<a@b>")
    store.remember_message("1:bb", "unknown", "not a bounce", "")
    store.remember_message("1:bb", "quarantined", "too deep", "")  # the later verdict wins
    assert store.message_verdict("1:aa") == ("unknown", "not a bounce")
    assert store.message_verdict("1:bb") == ("quarantined", "too deep")
    with pytest.raises(ValueError):
        store.remember_message("1:cc", "applied", "", "")
    old = (now_utc() - timedelta(days=100)).isoformat()
    store.db.execute("UPDATE bounce_messages SET last_seen = ? WHERE digest = '1:aa'", (old,))
    assert store.forget_old_messages(90) == 1
    assert store.message_verdict("1:aa") is None and store.message_verdict("1:bb") is not None
    store.close()
