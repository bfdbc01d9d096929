"""`digest bounces`: real DSN, ARF and mailto: shapes (tests/fixtures/bounces) dropped into a real
Maildir or mbox after a real send, recognised, applied to the store and moved; reruns count
nothing twice; and the next send skips whoever was suppressed."""

from __future__ import annotations

import json
import mailbox
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imap_support import PASSWORD, Dovecot, DovecotServers
from send_support import (
    FaultyRelay,
    Relay,
    add_issue,
    free_port,
    make_project,
    running_relay,
)
from typer.testing import CliRunner

from digest.bounces.guard import Refused
from digest.bounces.recognise import recognise_within
from digest.cli import app
from digest.project import Project, open_project
from digest.signup import confirm_token, csrf_pair

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
BOUNCES = "bounces+{token}@example.org"
FIXED = "bounces@example.org"
SECRET = "a-test-secret-of-enough-bytes-for-signing"
ENV = {"DIGEST_SECRET": SECRET}


def digest(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--project", str(root), *args], env=ENV | (env or {}))
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def bounce_project(
    root: Path,
    addresses: list[str],
    *,
    source: Path | str | None = None,
    bounce_limit: int = 3,
    ca_file: Path | None = None,
) -> Project:
    project = make_project(root, addresses)
    config = project.config.path
    transport = f'[transport]\nbounce_address = "{BOUNCES}"\n'
    transport += f'ca_file = "{ca_file}"\n' if ca_file else ""
    text = config.read_text(encoding="utf-8").replace("[transport]\n", transport)
    text = text.replace("bounce_limit = 3", f"bounce_limit = {bounce_limit}")
    if source is not None:
        text = text.replace("[bounces]\n", f'[bounces]\nsource = "{source}"\n')
    config.write_text(text, encoding="utf-8")
    project.close()
    return open_project(root)


def sent_messages(project: Project) -> dict[str, Message]:
    """What the outbox holds, by recipient (the latest copy)."""
    box = mailbox.Maildir(project.outbox_dir, create=False)
    messages = sorted(box, key=lambda m: m.get_date())
    return {str(m["To"]).rpartition("<")[2].strip(">").lower(): m for m in messages}


def fill(fixture: str, message: Message, rcpt: str) -> bytes:
    """A fixture about `message` (what we sent to `rcpt`), with CRLF line ends as mail has."""
    list_unsubscribe = " ".join(str(message["List-Unsubscribe"]).split())
    web_link = re.findall(r"<(https?://[^>]+)>", list_unsubscribe)[0]
    values = {
        "verp": str(message["Return-Path"]).strip("<>"),
        "bounce": FIXED,
        "rcpt": rcpt,
        "message_id": str(message["Message-ID"]),
        "list_unsubscribe": list_unsubscribe,
        "web_token": parse_qs(urlsplit(web_link).query)["token"][0],
    }
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    assert "@@" not in text
    return text.replace("\n", "\r\n").encode()


def drop(folder: Path, *messages: bytes) -> None:
    box = mailbox.Maildir(folder, create=True)
    for data in messages:
        box.add(data)


def processed(folder: Path) -> list[str]:
    return (
        sorted((folder / ".Processed" / "cur").iterdir())
        if (folder / ".Processed").exists()
        else []
    )  # type: ignore[return-value]


def left_in(folder: Path) -> int:
    return len(list((folder / "new").iterdir())) + len(list((folder / "cur").iterdir()))


@pytest.fixture
def sent(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Project]:
    """Issue 1 sent through the outbox to three readers, with a VERP bounce address (and the
    dovecot test CA trusted when the test uses dovecot)."""
    server = request.getfixturevalue("dovecot") if "dovecot" in request.fixturenames else None
    project = bounce_project(
        tmp_path / "p",
        ["gone@example.net", "full@example.net", "angry@example.net"],
        ca_file=server.ca_file if server else None,
    )
    code, _, err = digest(project.root, "send")
    assert code == 0, err
    yield project
    project.close()


CASES = [
    # fixture, reader, (kind, action), suppression reason, what the detail says
    ("postfix-hard.eml", ("hard", "suppressed"), "bounced", "5.1.1 smtp; 550 5.1.1"),
    ("gmail-hard.eml", ("hard", "suppressed"), "bounced", "5.1.1 smtp; The email account"),
    ("exim-hard.eml", ("hard", "suppressed"), "bounced", "no status given"),
    ("qmail-hard.eml", ("hard", "suppressed"), "bounced", "no status given"),
    ("exchange-delayed.eml", ("soft", "counted"), None, "1 of 3: 4.4.7"),
    ("postfix-soft-expired.eml", ("soft", "counted"), None, "1 of 3: 4.2.2"),
    ("arf-yahoo.eml", ("complaint", "suppressed"), "complained", "feedback-type abuse from Yahoo"),
    ("arf-outlook-jmrp.eml", ("complaint", "suppressed"), "complained", "from Hotmail FBL"),
    ("unsubscribe.eml", ("unsubscribe", "suppressed"), "unsubscribed", "mailto: unsubscribe"),
]


@pytest.mark.parametrize(("fixture", "outcome", "reason", "detail"), CASES)
def test_each_shape_is_recognised_applied_and_moved(
    sent: Project,
    tmp_path: Path,
    fixture: str,
    outcome: tuple[str, str],
    reason: str | None,
    detail: str,
) -> None:
    message = sent_messages(sent)["gone@example.net"]
    folder = tmp_path / "bounces"
    drop(folder, fill(fixture, message, "gone@example.net"))
    code, out, err = digest(sent.root, "bounces", str(folder), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["read"] == 1 and report["left"] == []
    (only,) = report["outcomes"]
    assert (only["email"], only["kind"], only["action"]) == ("gone@example.net", *outcome)
    assert detail in only["detail"]
    store = sent.open_store()
    assert store.suppression_reason("gone@example.net") == reason
    # the others are untouched
    assert not store.is_suppressed("full@example.net") and not store.is_suppressed(
        "angry@example.net"
    )
    if reason:
        (row,) = store.suppression_list()
        assert detail in str(row["detail"]) and row["suppressed"]
    # handled: moved into .Processed, flagged seen; a rerun reads nothing
    assert left_in(folder) == 0 and len(processed(folder)) == 1
    assert str(processed(folder)[0]).endswith(":2,S")
    code, out, _ = digest(sent.root, "bounces", str(folder), "--json")
    assert code == 0 and json.loads(out)["read"] == 0


@pytest.mark.parametrize("fixture", ["vacation.eml", "arf-not-spam.eml"])
def test_auto_replies_and_not_spam_reports_are_moved_and_change_nothing(
    sent: Project, tmp_path: Path, fixture: str
) -> None:
    folder = tmp_path / "bounces"
    drop(folder, fill(fixture, sent_messages(sent)["gone@example.net"], "gone@example.net"))
    code, out, _ = digest(sent.root, "bounces", str(folder), "--json")
    report = json.loads(out)
    assert code == 0 and report["ignored"] == 1 and report["outcomes"] == []
    assert sent.open_store().suppression_count() == 0
    assert left_in(folder) == 0


def test_an_unrecognised_message_is_named_and_left_in_place(sent: Project, tmp_path: Path) -> None:
    folder = tmp_path / "bounces"
    message = sent_messages(sent)["gone@example.net"]
    drop(
        folder,
        fill("personal.eml", message, "gone@example.net"),
        fill("postfix-hard.eml", message, "gone@example.net"),
    )
    code, out, err = digest(sent.root, "bounces", str(folder))
    assert code == 1
    (line,) = [line for line in err.splitlines() if "left in place" in line]
    assert line.startswith(f"{folder}: new/") and "not a bounce, complaint" in line
    assert "read 2 messages (1 hard bounce); suppressed 1 address" in out
    assert left_in(folder) == 1 and len(processed(folder)) == 1
    # still there next time, still named; nothing counted again
    code, out, err = digest(sent.root, "bounces", str(folder))
    assert code == 1 and "read 1 message;" in out and "left in place" in err


def test_the_verp_token_wins_over_the_address_a_report_names(sent: Project, tmp_path: Path) -> None:
    """gone@ forwards to an old mailbox (full@ is also a reader) that refuses: the bounce came
    back to gone@'s envelope sender, so gone@ is the one suppressed, whatever it names."""
    message = sent_messages(sent)["gone@example.net"]
    folder = tmp_path / "bounces"
    drop(folder, fill("postfix-hard.eml", message, "full@example.net"))
    code, out, _ = digest(sent.root, "bounces", str(folder), "--json")
    assert code == 0
    store = sent.open_store()
    assert store.suppression_reason("gone@example.net") == "bounced"
    assert not store.is_suppressed("full@example.net")


def test_a_verp_address_an_mta_changed_the_case_of_still_names_its_recipient(
    sent: Project, tmp_path: Path
) -> None:
    message = sent_messages(sent)["gone@example.net"]
    verp = str(message["Return-Path"]).strip("<>")
    data = fill("qmail-hard.eml", message, "someone-else@example.com")
    folder = tmp_path / "bounces"
    drop(folder, data.replace(verp.encode(), verp.upper().encode()))
    code, out, _ = digest(sent.root, "bounces", str(folder), "--json")
    (only,) = json.loads(out)["outcomes"]
    assert code == 0 and (only["email"], only["action"]) == ("gone@example.net", "suppressed")


def test_a_report_with_nothing_of_ours_in_it_is_left_unless_addresses_are_trusted(
    sent: Project, tmp_path: Path
) -> None:
    """Anybody can mail the bounce address a report naming a reader: without our VERP token,
    Message-ID or a signed link it suppresses nobody, and is named and left for a person."""
    message = sent_messages(sent)["gone@example.net"]
    forged = fill("exim-hard.eml", message, "gone@example.net").replace(
        str(message["Message-ID"]).encode(), b"<made-up@example.org>"
    )
    folder = tmp_path / "bounces"
    drop(folder, forged)
    code, out, err = digest(sent.root, "bounces", str(folder))
    assert code == 1 and "gone@example.net" in err and "may be forged" in err
    assert left_in(folder) == 1 and not sent.open_store().is_suppressed("gone@example.net")
    config = sent.config.path
    config.write_text(
        config.read_text().replace("trust_addresses = false", "trust_addresses = true")
    )
    code, out, err = digest(sent.root, "bounces", str(folder))
    assert code == 0 and left_in(folder) == 0, err
    trusting = open_project(sent.root)
    assert trusting.store.suppression_reason("gone@example.net") == "bounced"
    trusting.close()


def test_a_report_read_again_counts_nothing(sent: Project, tmp_path: Path) -> None:
    """As if a crash came between applying a report and moving it: the copy left behind is
    recognised as counted already."""
    message = sent_messages(sent)["full@example.net"]
    data = fill("exchange-delayed.eml", message, "full@example.net")
    folder = tmp_path / "bounces"
    drop(folder, data)
    digest(sent.root, "bounces", str(folder))
    drop(folder, data)
    code, out, _ = digest(sent.root, "bounces", str(folder), "--json")
    (only,) = json.loads(out)["outcomes"]
    assert code == 0 and only["action"] == "already-counted"
    assert sent.open_store().consecutive_failures("full@example.net") == 1


def test_soft_bounces_on_consecutive_issues_reach_the_bounce_limit(tmp_path: Path) -> None:
    project = bounce_project(tmp_path / "p", ["full@example.net", "ok@example.net"], bounce_limit=2)
    folder = tmp_path / "bounces"
    actions = []
    for number in range(2):
        if number:
            add_issue(project, f"2026-W1{number}", status="approved")
        code, _, err = digest(project.root, "send")
        assert code == 0, err
        message = sent_messages(project)["full@example.net"]
        report = fill("postfix-soft-expired.eml", message, "full@example.net")
        # each issue's report is another message, with its own Message-Id
        drop(folder, report.replace(b"5Qa1Zz2d4Gh0uC@", f"{number}-5Qa1Zz2d4Gh0uC@".encode()))
        code, out, _ = digest(project.root, "bounces", str(folder), "--json")
        actions += [o["action"] for o in json.loads(out)["outcomes"]]
    assert actions == ["counted", "suppressed"]
    (row,) = project.open_store().suppression_list()
    assert row["reason"] == "bounced" and "2 failed issues in a row" in str(row["detail"])


def test_an_mbox_is_rewritten_with_only_what_was_left(sent: Project, tmp_path: Path) -> None:
    message = sent_messages(sent)["angry@example.net"]
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for fixture in ("arf-yahoo.eml", "personal.eml", "postfix-hard.eml"):
        box.add(fill(fixture, message, "angry@example.net"))
    box.close()
    code, out, err = digest(sent.root, "bounces", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and report["read"] == 3 and len(report["left"]) == 1
    assert "message 2" in report["left"][0]
    # the complaint came first and suppressed; the hard bounce after it keeps that reason
    assert [o["action"] for o in report["outcomes"]] == ["suppressed", "already-suppressed"]
    assert sent.open_store().suppression_reason("angry@example.net") == "complained"
    remaining = mailbox.mbox(path)
    assert [str(m["Subject"]) for m in remaining] == ["Question about your newsletter"]
    assert not Path(f"{path}.lock").exists()
    code, out, _ = digest(sent.root, "bounces", str(path), "--json")
    assert code == 1 and json.loads(out)["outcomes"] == []


def test_an_unsubscribe_request_needs_a_token_we_signed(sent: Project, tmp_path: Path) -> None:
    message = sent_messages(sent)["gone@example.net"]
    data = fill("unsubscribe.eml", message, "gone@example.net")
    token = re.search(rb"Subject: unsubscribe (\S+)", data)
    assert token is not None
    forged = data.replace(token.group(1), token.group(1)[:-3] + b"AAA")
    # and sent to the fixed address, so no VERP token speaks for it either
    forged = forged.replace(str(message["Return-Path"]).strip("<>").encode(), FIXED.encode())
    folder = tmp_path / "bounces"
    drop(folder, forged)
    code, _, err = digest(sent.root, "bounces", str(folder))
    assert code == 1 and "an unsubscribe request without our token" in err
    assert sent.open_store().suppression_count() == 0


@pytest.mark.parametrize("purpose", ["csrf", "confirm"])
def test_a_token_we_signed_for_something_else_is_no_unsubscribe_request(
    sent: Project, tmp_path: Path, purpose: str
) -> None:
    """Anybody can take the CSRF field from the public sign-up form, or the link from a
    confirmation mail: mailed to the bounce address, neither suppresses anything."""
    message = sent_messages(sent)["gone@example.net"]
    token = (
        csrf_pair(SECRET.encode(), "0123456789abcdef")
        if purpose == "csrf"
        else confirm_token(SECRET.encode(), "gone@example.net", ["example"], hours=48)
    )
    data = fill("unsubscribe.eml", message, "gone@example.net")
    ours = re.search(rb"Subject: unsubscribe (\S+)", data)
    assert ours is not None
    data = data.replace(ours.group(1), token.encode())
    # sent to the fixed address, so no VERP token speaks for it
    data = data.replace(str(message["Return-Path"]).strip("<>").encode(), FIXED.encode())
    folder = tmp_path / "bounces"
    drop(folder, data)
    code, _, err = digest(sent.root, "bounces", str(folder))
    assert code == 1 and "an unsubscribe request without our token" in err
    assert sent.open_store().suppression_count() == 0


def test_the_suppression_listing_and_the_report_say_why_and_when(
    sent: Project, tmp_path: Path
) -> None:
    messages = sent_messages(sent)
    folder = tmp_path / "bounces"
    drop(
        folder,
        fill("postfix-hard.eml", messages["gone@example.net"], "gone@example.net"),
        fill("arf-yahoo.eml", messages["angry@example.net"], "angry@example.net"),
    )
    assert digest(sent.root, "bounces", str(folder))[0] == 0
    code, out, _ = digest(sent.root, "suppressions", "--json")
    rows = {row["email"]: row for row in map(json.loads, out.splitlines())}
    assert code == 0 and rows.keys() == {"gone@example.net", "angry@example.net"}
    assert rows["gone@example.net"]["reason"] == "bounced"
    assert rows["gone@example.net"]["detail"].startswith("5.1.1 smtp; 550 5.1.1")
    assert rows["angry@example.net"]["reason"] == "complained"
    code, out, err = digest(sent.root, "suppressions", "--reason", "bounced")
    assert code == 0 and "gone@example.net" in out and "angry@" not in out
    assert digest(sent.root, "suppressions", "--reason", "lost")[0] == 2
    code, out, _ = digest(sent.root, "report", "--json")
    summary = json.loads(out)
    assert {(s["email"], s["reason"]) for s in summary["suppressed_since"]} == {
        ("gone@example.net", "bounced"),
        ("angry@example.net", "complained"),
    }
    code, out, _ = digest(sent.root, "report")
    assert "suppressed\tgone@example.net\tbounced" in out and "5.1.1" in out


@pytest.mark.parametrize(
    ("source", "env", "says"),
    [
        ("no/such/folder", {}, "no such Maildir folder or mbox file"),
        ("imap://reader@127.0.0.1/INBOX", {"DIGEST_IMAP_PASSWORD": "x"}, "unencrypted"),
        ("imaps://reader@127.0.0.1/INBOX", {}, "DIGEST_IMAP_PASSWORD"),
        ("imaps://reader:hunter2@127.0.0.1/INBOX", {}, "password in the URL is refused"),
        ("imaps://127.0.0.1/INBOX", {}, "imaps://user@host"),
        ("imaps://reader@127.0.0.1:port/INBOX", {}, "port is not a number"),
        ("ftp://example.org/x", {}, "imaps://user@host"),
    ],
)
def test_a_bad_source_is_one_line_and_exit_2(
    sent: Project, source: str, env: dict[str, str], says: str
) -> None:
    code, _, err = digest(sent.root, "bounces", source, env=env)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert "hunter2" not in err


def test_a_folder_that_is_not_a_maildir_and_a_file_that_is_not_an_mbox(
    sent: Project, tmp_path: Path
) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n")
    assert "not a Maildir" in digest(sent.root, "bounces", str(tmp_path / "plain"))[2]
    code, _, err = digest(sent.root, "bounces", str(tmp_path / "notes.txt"))
    assert code == 2 and "not an mbox file" in err
    code, _, err = digest(sent.root, "bounces")
    assert code == 2 and "bounces.source" in err


# -- end to end: a relay, a VERP envelope sender, a DSN, the next send ---------------------------


@pytest.fixture
def relay() -> Iterator[Relay]:
    yield from running_relay(FaultyRelay())


def with_bounce_mailbox(tmp_path: Path) -> tuple[Project, Path]:
    """Two readers, and an empty Maildir as `bounces.source`."""
    folder = tmp_path / "bounce-mailbox"
    drop(folder)
    readers = ["gone@example.net", "ok@example.net"]
    return bounce_project(tmp_path / "p", readers, source=folder), folder


def test_a_bounce_after_an_smtp_send_stops_the_next_send_to_that_address(
    tmp_path: Path, relay: Relay
) -> None:
    project, folder = with_bounce_mailbox(tmp_path)
    code, _, err = digest(project.root, "send", "--smtp-url", relay.url)
    assert code == 0, err
    received = {r.recipient: r for r in relay.handler.received}
    sender = received["gone@example.net"].sender
    # the envelope sender carries the token; From stays the newsletter's address
    assert re.fullmatch(r"bounces\+1-[a-z2-7]{16}@example\.org", sender)
    assert received["ok@example.net"].sender != sender
    original = message_from_bytes(received["gone@example.net"].data)
    assert str(original["From"]) == "The Political Digest <digest@political-digest.net>"
    # the recipient's server refuses later: its DSN comes back to the envelope sender
    original["Return-Path"] = f"<{sender}>"
    drop(folder, fill("postfix-hard.eml", original, "gone@example.net"))
    code, out, _ = digest(project.root, "bounces", "--json")
    assert code == 0 and json.loads(out)["suppressed"] == 1
    assert json.loads(digest(project.root, "bounces", "--json")[1])["read"] == 0
    relay.handler.received.clear()
    add_issue(project, "2026-W11", status="approved")
    code, out, err = digest(project.root, "send", "--smtp-url", relay.url, "--json")
    assert code == 0, err
    assert [r.recipient for r in relay.handler.received] == ["ok@example.net"]
    assert json.loads(out.strip().splitlines()[-1])["skipped"] == 1


def test_digest_run_reads_the_bounce_mailbox_first(tmp_path: Path) -> None:
    project, folder = with_bounce_mailbox(tmp_path)
    assert digest(project.root, "send")[0] == 0
    message = sent_messages(project)["gone@example.net"]
    drop(folder, fill("qmail-hard.eml", message, "gone@example.net"))
    code, out, err = digest(project.root, "run", "--as-of", "2026-03-04T10:00:00+00:00")
    assert "read 1 message (1 hard bounce); suppressed 1 address" in err
    assert project.open_store().suppression_reason("gone@example.net") == "bounced"
    assert left_in(folder) == 0
    drop(folder, fill("personal.eml", message, "gone@example.net"))
    code, out, err = digest(project.root, "run", "--as-of", "2026-03-04T11:00:00+00:00", "--json")
    assert code == 1 and "left in place" in err  # the issue itself was sent already
    assert json.loads(out)["bounces"]["read"] == 1


def test_digest_run_goes_on_when_the_bounce_mailbox_is_down(tmp_path: Path) -> None:
    project = bounce_project(
        tmp_path / "p", ["ok@example.net"], source=f"imaps://u@127.0.0.1:{free_port()}/INBOX"
    )
    assert digest(project.root, "issue", "approve", "1")[0] == 0
    code, out, err = digest(
        project.root,
        "run",
        "--as-of",
        "2026-03-04T10:00:00+00:00",
        env={"DIGEST_IMAP_PASSWORD": "pw-never-shown"},
    )
    assert code == 1 and "bounces not read this time" in err and "cannot connect" in err
    assert "pw-never-shown" not in out + err
    assert " sent via outbox" in out
    # a bounce source set up wrong stops the run before anything is sent
    code, _, err = digest(project.root, "run", "--as-of", "2026-03-11T10:00:00+00:00")
    assert code == 2 and "DIGEST_IMAP_PASSWORD" in err


# -- IMAP: a real dovecot on loopback -------------------------------------------------------------


@pytest.fixture
def dovecot(request: pytest.FixtureRequest, dovecot_servers: DovecotServers) -> Dovecot:
    """The session's dovecot on loopback, as a new user with an empty mailbox; a test marked
    `imap_capability(...)` gets a server that advertises that list."""
    marker = request.node.get_closest_marker("imap_capability")
    return dovecot_servers.mailbox(marker.args[0] if marker else "")


def test_an_imaps_mailbox_is_read_verified_and_what_was_handled_moved(
    dovecot: Dovecot, sent: Project
) -> None:
    messages = sent_messages(sent)
    dovecot.append(
        "INBOX",
        fill("postfix-hard.eml", messages["gone@example.net"], "gone@example.net"),
        fill("personal.eml", messages["gone@example.net"], "gone@example.net"),
        fill("arf-yahoo.eml", messages["angry@example.net"], "angry@example.net"),
    )
    source = f"imaps://{dovecot.user}@127.0.0.1:{dovecot.tls_port}/INBOX"
    env = {"DIGEST_IMAP_PASSWORD": PASSWORD}
    code, out, err = digest(sent.root, "bounces", source, "--json", env=env)
    report = json.loads(out)
    assert code == 1, err
    assert report["suppressed"] == 2 and len(report["left"]) == 1
    assert "UID 2: not a bounce" in report["left"][0] and PASSWORD not in out + err
    store = sent.open_store()
    assert store.suppression_reason("gone@example.net") == "bounced"
    assert store.suppression_reason("angry@example.net") == "complained"
    # what was handled is in INBOX.Processed, seen; what was not stays, unread
    (left,) = dovecot.subjects("INBOX")
    assert left[0] == "Question about your newsletter" and "\\Seen" not in left[1]
    moved = dovecot.subjects("INBOX.Processed")
    assert len(moved) == 2 and all("\\Seen" in flags for _, flags in moved)
    code, out, _ = digest(sent.root, "bounces", source, "--json", env=env)
    assert code == 1 and json.loads(out)["read"] == 1 and json.loads(out)["outcomes"] == []


@pytest.mark.imap_capability("IMAP4rev1 LITERAL+ UIDPLUS")
def test_a_server_without_move_gets_copy_delete_and_uid_expunge(
    dovecot: Dovecot, sent: Project
) -> None:
    message = sent_messages(sent)["gone@example.net"]
    dovecot.append(
        "INBOX",
        fill("personal.eml", message, "gone@example.net"),
        fill("exim-hard.eml", message, "gone@example.net"),
    )
    client = dovecot.client()
    assert "MOVE" not in client.capability()[1][0].decode()
    client.logout()
    source = f"imaps://{dovecot.user}@127.0.0.1:{dovecot.tls_port}/INBOX"
    code, out, err = digest(sent.root, "bounces", source, env={"DIGEST_IMAP_PASSWORD": PASSWORD})
    assert code == 1 and "suppressed 1 address" in out, err
    assert [s for s, _ in dovecot.subjects("INBOX")] == ["Question about your newsletter"]
    assert [s for s, _ in dovecot.subjects("INBOX.Processed")] == [
        "Mail delivery failed: returning message to sender"
    ]


def test_plain_imap_works_only_when_allowed(dovecot: Dovecot, sent: Project) -> None:
    message = sent_messages(sent)["gone@example.net"]
    dovecot.append("INBOX", fill("qmail-hard.eml", message, "gone@example.net"))
    source = f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    env = {"DIGEST_IMAP_PASSWORD": PASSWORD}
    code, _, err = digest(sent.root, "bounces", source, env=env)
    assert code == 2 and "unencrypted" in err
    code, out, err = digest(sent.root, "bounces", source, "--allow-plaintext", env=env)
    assert code == 0, err
    assert "read 1 message (1 hard bounce); suppressed 1 address" in out
    assert dovecot.subjects("INBOX") == []


def test_an_unverifiable_certificate_and_a_wrong_password_are_one_line(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    project = bounce_project(tmp_path / "p", ["gone@example.net"])  # the test CA not trusted
    source = f"imaps://{dovecot.user}@127.0.0.1:{dovecot.tls_port}/INBOX"
    code, _, err = digest(project.root, "bounces", source, env={"DIGEST_IMAP_PASSWORD": PASSWORD})
    assert code == 2 and "TLS failed" in err and "CERTIFICATE_VERIFY_FAILED" in err
    assert len(err.strip().splitlines()) == 1
    plain = f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    wrong = {"DIGEST_IMAP_PASSWORD": "not-the-password"}
    code, _, err = digest(project.root, "bounces", plain, "--allow-plaintext", env=wrong)
    assert (
        code == 2
        and f"refused the login for {dovecot.user}" in err
        and "not-the-password" not in err
    )
    missing = f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/Nowhere"
    code, _, err = digest(
        project.root,
        "bounces",
        missing,
        "--allow-plaintext",
        env={"DIGEST_IMAP_PASSWORD": PASSWORD},
    )
    assert code == 2 and "no mailbox 'Nowhere'" in err


# -- whatever arrives, recognition answers ---------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fixture=st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.eml"))),
    cut=st.integers(min_value=0, max_value=6000),
    noise=st.binary(max_size=300),
    at=st.integers(min_value=0, max_value=6000),
)
def test_a_truncated_or_garbled_report_is_recognised_or_named_never_a_crash(
    fixture: str, cut: int, noise: bytes, at: int
) -> None:
    data = (FIXTURES / fixture).read_bytes().replace(b"\n", b"\r\n")[:cut]
    data = data[:at] + noise + data[at:]
    try:
        found = recognise_within(data, BOUNCES)
    except Refused as refused:  # quarantined, with one line saying why
        assert refused.reason and "\n" not in refused.reason
        return
    assert found.kind in ("bounce", "complaint", "unsubscribe", "ignored", "unknown")
    assert found.key and "\n" not in found.key
    assert all("\n" not in f.detail and len(f.detail) <= 300 for f in found.failures)
