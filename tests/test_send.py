"""The send engine and `digest send`: bookkeeping, faults from a real SMTP server, locks."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from send_support import (
    FaultyRelay,
    Relay,
    ScriptedRelay,
    add_issue,
    dkim_key,
    make_project,
    running_relay,
)
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Subscriber
from digest.project import Project, open_project
from digest.send import IssueLock, send_issue

runner = CliRunner()


def digest(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--project", str(root), *args], env=env or {})
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def last_json(stdout: str) -> dict[str, int]:
    return json.loads(stdout.strip().splitlines()[-1])


def outbox_recipients(project: Project) -> list[str]:
    box = mailbox.Maildir(project.outbox_dir, create=False)
    return sorted(str(message["To"]) for message in box)


@pytest.fixture
def relay() -> Iterator[Relay]:
    yield from running_relay(FaultyRelay())


def row(project: Project, issue_id: int, email: str) -> dict[str, object]:
    found = project.store.db.execute(
        "SELECT * FROM sends WHERE issue_id = ? AND email = ?", (issue_id, email)
    ).fetchone()
    return dict(found)


def test_outbox_send_reaches_everyone_once_and_a_second_send_adds_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 7)
    code, out, _ = digest(project.root, "send", "--json")
    assert code == 0
    assert last_json(out) == {"sent": 7, "failed": 0, "deferred": 0, "skipped": 0}
    assert len(outbox_recipients(project)) == 7
    assert project.store.latest_issue().status == "sent"

    code, out, _ = digest(project.root, "send", "--json")
    assert code == 0
    assert last_json(out)["sent"] == 7
    assert len(outbox_recipients(project)) == 7


def test_faults_are_retried_or_recorded_and_nobody_is_skipped(tmp_path: Path) -> None:
    addresses = [f"r{n}@example.net" for n in range(24)]
    handler = FaultyRelay(
        temp_rcpt={addresses[0]: 2, addresses[1]: 1},
        perm_rcpt={addresses[2], addresses[3]},
        drop_data={addresses[4]: 1, addresses[5]: 2},
        close_421={addresses[6]: 1},
        slow_data={addresses[7]: 1},
        slow_seconds=1.5,
    )
    project = make_project(tmp_path / "p", addresses, settings="")
    project.config.timeout = 0.5  # slow_data outlasts it once
    relay = Relay(handler).start()
    try:
        report = send_issue(
            project, None, smtp_url=relay.url, concurrency=4, retry_base=0.05, max_attempts=5
        )
    finally:
        relay.stop()

    copies = handler.copies()
    delivered = [a for a in addresses if a not in handler.perm_rcpt]
    assert all(copies[a] >= 1 for a in delivered), copies
    assert not any(copies[a] for a in handler.perm_rcpt)
    # the only possible second copy is the one whose 250 came too late; it keeps its Message-ID
    for address in delivered:
        assert len(handler.message_ids(address)) == 1
    assert report.summary() == {"sent": 22, "failed": 2, "deferred": 0, "skipped": 0}
    assert report.exit_code == 1  # two failed for good
    failed = row(project, report.issue_id, addresses[2])
    assert failed["status"] == "failed" and "550" in str(failed["last_reply"])
    assert row(project, report.issue_id, addresses[0])["attempts"] == 3
    assert project.store.issue(report.issue_id).status == "sent"


def test_still_deferred_after_max_attempts_exits_1_and_the_next_send_finishes(
    tmp_path: Path,
) -> None:
    addresses = [f"r{n}@example.net" for n in range(5)]
    handler = FaultyRelay(temp_rcpt={addresses[1]: 100})
    project = make_project(tmp_path / "p", addresses)
    relay = Relay(handler).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--retry-base", "0.01", "--max-attempts", "2")
        code, out, err = digest(project.root, *args, "--json")
        assert code == 1
        assert last_json(out) == {"sent": 4, "failed": 0, "deferred": 1, "skipped": 0}
        assert "still deferred" in err
        assert project.store.latest_issue().status == "sending"

        handler.temp_rcpt.clear()
        code, out, _ = digest(project.root, *args, "--json")
        assert code == 0
        assert last_json(out) == {"sent": 5, "failed": 0, "deferred": 0, "skipped": 0}
    finally:
        relay.stop()
    assert handler.copies() == {a: 1 for a in addresses}


def test_a_relay_restarting_mid_send_loses_nobody(tmp_path: Path) -> None:
    addresses = [f"r{n}@example.net" for n in range(60)]
    handler = FaultyRelay(delay=0.005)
    project = make_project(tmp_path / "p", addresses)
    relay = Relay(handler).start()
    watcher = relay.restart_after(15)
    try:
        report = send_issue(
            project, None, smtp_url=relay.url, concurrency=6, retry_base=0.2, max_attempts=8
        )
        watcher.join(timeout=10)
    finally:
        relay.stop()
    copies = handler.copies()
    assert set(copies) == set(addresses)
    assert sum(copies.values()) - len(addresses) <= 6
    assert all(len(handler.message_ids(a)) == 1 for a in addresses)
    assert report.summary()["sent"] == 60


def test_repeated_permanent_failures_suppress_the_address_as_bounced(tmp_path: Path) -> None:
    addresses = ["ok@example.net", "gone@example.net"]
    handler = FaultyRelay(perm_rcpt={"gone@example.net"})
    project = make_project(tmp_path / "p", addresses, settings="")
    project.config.bounce_limit = 2
    relay = Relay(handler).start()
    try:
        first = send_issue(project, None, smtp_url=relay.url)
        assert first.summary()["failed"] == 1 and first.bounced == 0
        assert not project.store.is_suppressed("gone@example.net")
        second = send_issue(project, add_issue(project, "2026-W11"), smtp_url=relay.url)
        assert second.bounced == 1
        assert project.store.suppression_reason("gone@example.net") == "bounced"
        (why,) = project.store.suppression_list()
        assert (
            why["detail"]
            == "2 failed issues in a row, the last refused: 550 5.1.1 no such user here"
        )
        third = send_issue(project, add_issue(project, "2026-W12"), smtp_url=relay.url)
    finally:
        relay.stop()
    assert third.summary() == {"sent": 1, "failed": 0, "deferred": 0, "skipped": 1}
    assert handler.copies() == {"ok@example.net": 3}


def test_suppressed_subscribers_are_skipped_and_counted(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 4)
    project.store.suppress("Reader00002@Example.net", "unsubscribed")
    code, out, _ = digest(project.root, "send", "--json")
    assert code == 0
    assert last_json(out) == {"sent": 3, "failed": 0, "deferred": 0, "skipped": 1}
    assert "reader00002@example.net" not in " ".join(outbox_recipients(project))


def test_a_second_send_of_the_same_issue_is_refused_while_one_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    issue_id = project.store.latest_issue().id
    with IssueLock(project.state_dir, issue_id):
        code, _, err = digest(project.root, "send", str(issue_id))
    assert code == 2
    assert "another `digest send`" in err
    assert not project.outbox_dir.exists() or not outbox_recipients(project)
    code, _, _ = digest(project.root, "send", str(issue_id))
    assert code == 0


def test_dry_run_builds_every_message_and_sends_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 6)
    project.store.suppress("reader00000@example.net", "unsubscribed")
    code, out, err = digest(project.root, "send", "--dry-run", "--json")
    assert code == 0
    assert last_json(out)["would_send"] == 5
    assert "nothing sent" in err
    assert not project.outbox_dir.exists() or not outbox_recipients(project)
    assert project.store.send_counts(project.store.latest_issue().id).as_dict()["pending"] == 0
    assert project.store.latest_issue().status == "draft"  # a dry run approves nothing


def test_a_test_copy_over_smtp_says_where_it_went(tmp_path: Path, relay: Relay) -> None:
    project = make_project(tmp_path / "p", 3)
    code, _, err = digest(
        project.root, "send", "--to", "editor@example.org", "--smtp-url", relay.url
    )
    assert code == 0, err
    assert f"Test copy sent to editor@example.org via smtp://127.0.0.1:{relay.port}" in err
    (received,) = relay.handler.received
    assert b"Subject: [TEST] The Political Digest" in received.data


def test_to_sends_one_test_copy_without_bookkeeping(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    code, _, err = digest(project.root, "send", "--to", "editor@example.org")
    assert code == 0, err
    assert outbox_recipients(project) == ["editor@example.org"]
    # it says where the copy is: a file in the outbox, not a mail anybody received (issue 23)
    (copy,) = mailbox.Maildir(project.outbox_dir, create=False)
    assert "written to the outbox at " + str(project.outbox_dir) in err
    assert "nobody was mailed" in err and "sent to" not in err
    assert str(copy["Subject"]).startswith("[TEST] The Political Digest")
    issue = project.store.latest_issue()
    assert issue.status == "draft"  # a test copy approves nothing
    assert not project.store.has_recipients(issue.id)

    code, _, err = digest(project.root, "send", "--to", "not an address\r\nBcc: x@y")
    assert code == 2 and "--to" in err


def test_list_option_sends_to_that_list_only(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 6, lists=2)
    code, out, _ = digest(project.root, "send", "--list", "list1", "--json")
    assert code == 0
    assert last_json(out)["sent"] == 3
    assert outbox_recipients(project) == [
        f"Reader reader0000{n} <reader0000{n}@example.net>" for n in (1, 3, 5)
    ]
    code, _, err = digest(project.root, "send", "--list", "nosuch")
    assert code == 2 and "nosuch" in err


def test_sending_a_draft_approves_it_first(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 2)
    issue_id = project.store.latest_issue().id
    assert project.store.issue(issue_id).status == "draft"
    code, _, _ = digest(project.root, "send")
    assert code == 0
    assert project.store.issue(issue_id).status == "sent"


def test_smtp_url_flag_beats_the_environment_which_beats_the_outbox(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 2)
    first, second = FaultyRelay(), FaultyRelay()
    relay_env, relay_flag = Relay(first).start(), Relay(second).start()
    try:
        env = {"DIGEST_SMTP_URL": relay_env.url}
        code, _, _ = digest(project.root, "send", "--smtp-url", relay_flag.url, env=env)
        assert code == 0
        assert sum(second.copies().values()) == 2 and not first.received
        issue = add_issue(open_project(project.root), "2026-W11")
        code, _, _ = digest(project.root, "send", str(issue), env=env)
        assert code == 0
        assert sum(first.copies().values()) == 2
    finally:
        relay_env.stop()
        relay_flag.stop()
    assert not project.outbox_dir.exists() or not outbox_recipients(project)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.org", "SMTP URL must look like"),
        ("smtp://user:hunter2@127.0.0.1:25", "DIGEST_SMTP_PASSWORD"),
        ("smtp://127.0.0.1:99999", "invalid port"),
    ],
)
def test_bad_smtp_urls_are_one_clear_line(tmp_path: Path, url: str, message: str) -> None:
    project = make_project(tmp_path / "p", 1)
    code, _, err = digest(project.root, "send", "--smtp-url", url)
    assert code == 2
    assert message in err
    assert "hunter2" not in err


def test_bad_numbers_are_usage_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 1)
    code, _, err = digest(project.root, "send", "--concurrency", "0")
    assert code == 2 and "--concurrency" in err
    code, _, err = digest(project.root, "send", "99")
    assert code == 2 and "issue 99" in err


def test_rate_limit_still_sends_everyone(tmp_path: Path, relay: Relay) -> None:
    project = make_project(tmp_path / "p", 5)
    code, out, _ = digest(project.root, "send", "--smtp-url", relay.url, "--rate", "50", "--json")
    assert code == 0
    assert last_json(out)["sent"] == 5
    assert relay.handler.copies() == {f"reader0000{n}@example.net": 1 for n in range(5)}


def test_dkim_signature_verifies_against_the_public_key(tmp_path: Path) -> None:
    import dkim

    pem, record = dkim_key()
    (tmp_path / "dkim.pem").write_bytes(pem)
    project = make_project(tmp_path / "p", 1)
    config = project.config.path
    settings = f'[transport]\ndkim_selector = "mail"\ndkim_key_file = "{tmp_path}/dkim.pem"\n'
    config.write_text(config.read_text().replace("[transport]\n", settings))
    code, _, err = digest(project.root, "send")
    assert code == 0, err
    box = mailbox.Maildir(project.outbox_dir, create=False)
    (data,) = [box.get_bytes(key) for key in box.iterkeys()]
    # the outbox adds the Return-Path above the signature, as a delivering MTA would
    return_path, _, data = data.partition(b"\r\n")
    assert return_path == b"Return-Path: <digest@political-digest.net>"
    assert data.startswith(b"DKIM-Signature:")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"mail._domainkey.political-digest.net." else b""

    assert dkim.verify(data, dnsfunc=dns)


# -- a relay that refuses us, deferrals across runs, bad numbers ---------------------------------


def set_bounce_limit(project: Project, limit: int) -> None:
    config = project.config.path
    text = config.read_text(encoding="utf-8")
    assert "bounce_limit = 3" in text
    config.write_text(text.replace("bounce_limit = 3", f"bounce_limit = {limit}"))


@pytest.mark.parametrize(
    ("greeting", "replies", "shown"),
    [
        ("554 5.7.1 no service for you", {}, "554 5.7.1 no service for you"),
        ("220 ready", {"EHLO": "550 go away", "HELO": "550 go away"}, "550 go away"),
        ("220 ready", {"STARTTLS": "554 5.7.0 TLS not available"}, "554 5.7.0 TLS not available"),
    ],
)
def test_a_relay_refusing_us_at_connect_stops_the_send_before_anything_changes(
    tmp_path: Path, greeting: str, replies: dict[str, str], shown: str
) -> None:
    project = make_project(tmp_path / "p", 6)
    set_bounce_limit(project, 1)
    with ScriptedRelay(greeting, replies) as relay:
        code, out, err = digest(
            project.root, "send", "--smtp-url", relay.url, "--concurrency", "2", "--json"
        )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and shown in err
    assert relay.connections <= 2  # stopped, not one refused connection per subscriber
    # refused at the check before the send: the issue is as it was, nobody queued
    issue = project.store.latest_issue()
    assert project.store.send_counts(issue.id).pending == 0
    assert issue.status == "draft"
    assert project.store.suppression_count() == 0


def test_a_421_greeting_defers_with_a_next_try_and_never_gives_up(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 2)
    with ScriptedRelay("421 4.3.2 too busy, come back later") as relay:
        args = ("send", "--smtp-url", relay.url, "--max-attempts", "1")
        code, out, _ = digest(project.root, *args, "--max-total-attempts", "1", "--json")
    assert code == 1
    assert last_json(out) == {"sent": 0, "failed": 0, "deferred": 2, "skipped": 0}
    issue_id = project.store.latest_issue().id
    stored = row(project, issue_id, "reader00000@example.net")
    assert stored["status"] == "deferred" and "421" in str(stored["last_reply"])
    assert stored["next_try"] is not None


def test_relay_access_denied_at_rcpt_stops_the_send_and_bounces_nobody(tmp_path: Path) -> None:
    addresses = [f"r{n}@example.net" for n in range(4)]
    handler = FaultyRelay(policy_rcpt={addresses[0]})
    project = make_project(tmp_path / "p", addresses)
    set_bounce_limit(project, 1)
    relay = Relay(handler).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--concurrency", "1", "--json")
        code, _, err = digest(project.root, *args)
        assert code == 2
        assert len(err.strip().splitlines()) == 1 and "Relay access denied" in err
        # refused before a single message was tried: undone, approved as before, reopenable
        issue = project.store.latest_issue()
        assert not project.store.has_recipients(issue.id)
        assert not project.store.is_suppressed(addresses[0])
        assert issue.status == "approved"

        handler.policy_rcpt.clear()  # the relay settings were fixed
        code, out, _ = digest(project.root, *args)
        assert code == 0
        assert last_json(out) == {"sent": 4, "failed": 0, "deferred": 0, "skipped": 0}
    finally:
        relay.stop()
    assert handler.copies() == {a: 1 for a in addresses}


def test_the_next_run_does_not_try_a_deferred_address_before_its_next_try(
    tmp_path: Path,
) -> None:
    address = "later@example.net"
    handler = FaultyRelay(temp_rcpt={address: 1})
    project = make_project(tmp_path / "p", [address])
    relay = Relay(handler).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--max-attempts", "1", "--retry-base", "2")
        code, _, _ = digest(project.root, *args)
        assert code == 1
        issue_id = project.store.latest_issue().id
        deferred = row(project, issue_id, address)
        assert deferred["status"] == "deferred" and deferred["next_try"] is not None
        next_try = float(str(deferred["next_try"]))
        assert next_try > handler.rcpt_log[-1][1]

        code, _, _ = digest(project.root, *args)
        assert code == 0
    finally:
        relay.stop()
    assert [when >= next_try for _, when in handler.rcpt_log] == [False, True]
    assert handler.copies() == {address: 1}


@pytest.mark.parametrize("where", ["flag", "digest.toml"])
def test_an_address_deferred_for_ever_is_given_up_on_without_a_bounce(
    tmp_path: Path, where: str
) -> None:
    addresses = ["full@example.net", "ok@example.net"]
    handler = FaultyRelay(temp_rcpt={addresses[0]: 1000})
    project = make_project(tmp_path / "p", addresses)
    set_bounce_limit(project, 1)
    cap: tuple[str, ...] = ("--max-total-attempts", "3")
    if where == "digest.toml":
        settings = project.root / "digest.toml"
        settings.write_text(
            settings.read_text().replace("max_total_attempts = 0", "max_total_attempts = 3")
        )
        cap = ()
    relay = Relay(handler).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--retry-base", "0.01", "--max-attempts", "2")
        code, out, _ = digest(project.root, *args, *cap, "--json")
        assert code == 1
        assert last_json(out) == {"sent": 1, "failed": 0, "deferred": 1, "skipped": 0}
        code, out, _ = digest(project.root, *args, *cap, "--json")
        assert code == 1  # an address failed for good in this run: never a silent success
        assert last_json(out) == {"sent": 1, "failed": 1, "deferred": 0, "skipped": 0}
    finally:
        relay.stop()
    issue = project.store.latest_issue()
    gave_up = row(project, issue.id, addresses[0])
    assert gave_up["status"] == "failed" and gave_up["attempts"] == 3
    assert str(gave_up["last_reply"]).startswith("gave up after 3 attempts: 451")
    assert issue.status == "sent"
    assert not project.store.is_suppressed(addresses[0])  # 4xx for ever is not a bounce
    assert len(handler.rcpt_log) == 3 + 1


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--retry-base", "nan"),
        ("--retry-base", "inf"),
        ("--retry-base", "-1"),
        ("--rate", "-5"),
        ("--rate", "nan"),
        ("--max-attempts", "0"),
        ("--max-total-attempts", "0"),
        ("--concurrency", "0"),
    ],
)
def test_bad_send_numbers_are_one_line_usage_errors(tmp_path: Path, flag: str, value: str) -> None:
    project = make_project(tmp_path / "p", 2)
    code, _, err = digest(project.root, "send", flag, value)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and f"{flag} {value}:" in err
    assert not project.outbox_dir.exists() or not outbox_recipients(project)


def test_the_send_reads_its_recipients_from_the_store(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", ["file@example.net", "gone@example.net"])
    (project.subscribers_dir / "list0.csv").write_text(
        "email,name,city\nfile@example.net,File,Lyon\ngone@example.net,Gone,\n", encoding="utf-8"
    )
    # someone who signed up on the web is in no file; a suppression wins over the file
    project.store.subscribe(
        Subscriber(email="web@example.net", list="list0", attributes={"city": "Nice"}),
        origin="web",
    )
    project.store.suppress("gone@example.net", "complained")
    report = send_issue(project, None)
    assert report.summary() == {"sent": 2, "failed": 0, "deferred": 0, "skipped": 1}
    assert outbox_recipients(project) == ["File <file@example.net>", "web@example.net"]
    issue = project.store.latest_issue().id
    assert json.loads(str(row(project, issue, "file@example.net")["attributes"])) == {
        "city": "Lyon"
    }
    assert json.loads(str(row(project, issue, "web@example.net")["attributes"])) == {"city": "Nice"}


def test_a_send_ends_with_its_last_message_not_at_the_next_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll for rows of other workers (CLAIM_POLL) is no wait for a worker's own last rows:
    with the poll an hour away, the send still ends when its messages are done. (It ended
    CLAIM_POLL after them: two idle seconds at the end of every send.)"""
    import threading

    import digest.send.feed

    monkeypatch.setattr(digest.send.feed, "CLAIM_POLL", 3600.0)
    root = make_project(tmp_path / "p", ["ok@example.net", "gone@example.net"]).root
    handler = FaultyRelay(perm_rcpt={"gone@example.net"})
    relay = Relay(handler).start()
    summaries: list[dict[str, int]] = []

    def send() -> None:  # in a thread of its own, with its own store connection
        project = open_project(root)
        try:
            summaries.append(send_issue(project, None, smtp_url=relay.url).summary())
        finally:
            project.close()

    sending = threading.Thread(target=send, daemon=True)
    try:
        sending.start()
        sending.join(timeout=120)  # a bound on a hang, not on speed: the bug waits an hour
    finally:
        relay.stop()
    assert not sending.is_alive(), "the send waited for the claim poll after its last message"
    assert summaries == [{"sent": 1, "failed": 1, "deferred": 0, "skipped": 0}]
