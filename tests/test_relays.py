"""Sending through relays with problems of their own, as a deployment meets them: one reply to
every message about us (sender, content, quota, HELO name), throttling, a relay that never
greets or is down, logins, TLS settings, transport switches and links that would not work."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import trustme
from send_support import (
    SENDER,
    FaultyRelay,
    Relay,
    ScriptedRelay,
    SilentRelay,
    dkim_key,
    make_project,
    relay_with_login,
    tls_contexts,
)
from typer.testing import CliRunner

from digest.cli import app
from digest.project import Project

runner = CliRunner()


def digest(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--project", str(root), *args], env=env or {})
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def statuses(project: Project) -> dict[str, int]:
    rows = project.store.db.execute("SELECT status, count(*) FROM sends GROUP BY status")
    return {status: count for status, count in rows}


def assert_as_it_was(project: Project) -> None:
    """A send refused at its start changed nothing: the issue is still a draft (it can be
    edited, reopened, discarded) and nobody was queued."""
    assert project.store.latest_issue().status == "draft"
    assert statuses(project) == {}


def assert_undone(project: Project) -> None:
    """A send that stopped before a single message was tried is undone: the issue is approved
    again, nobody queued, and an editor can reopen it (issue 23)."""
    issue = project.store.latest_issue()
    assert issue.status == "approved" and statuses(project) == {}
    code, _, err = digest(project.root, "issue", "reopen", str(issue.id))
    assert code == 0, err


def attempts(project: Project) -> dict[str, int]:
    rows = project.store.db.execute("SELECT email, attempts FROM sends")
    return {email: count for email, count in rows}


def configure(project: Project, **settings: object) -> None:
    """Set `[transport]` keys in digest.toml (replacing the ones `digest init` wrote)."""
    path = project.config.path
    lines = path.read_text(encoding="utf-8").splitlines()
    for key, value in settings.items():
        lines = [line for line in lines if not line.startswith(f"{key} =")]
        at = lines.index("[transport]") + 1
        lines.insert(at, f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- replies about us stop the send; nobody's bounce record counts them ---------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("5.1.1 <r@example.net>: Recipient address rejected: User unknown", True),
        ("5.2.2 mailbox full", True),
        ("4.2.0 mailbox busy", True),
        ("Requested action not taken", True),  # no enhanced code: as before
        ("5.7.1 Message content rejected as spam", False),
        ("5.3.4 Message size exceeds fixed limit", False),
        ("5.4.5 Daily user sending quota exceeded", False),
        ("5.5.2 <box>: Helo command rejected: need fully-qualified hostname", False),
        ("4.7.1 <r@example.net>: too much mail from 10.0.0.1", False),
        ("5.1.8 <digest@political-digest.net>: Sender address rejected: Domain not found", False),
        ("5.1.0 <digest@political-digest.net>: Sender address rejected: not owned by user", False),
    ],
)
def test_replies_are_classified_by_their_enhanced_status_code(reply: str, expected: bool) -> None:
    from digest.transports.smtp import about_address

    assert about_address(reply, sender=SENDER, recipient="r@example.net") is expected


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("data_reply", "554 5.7.1 Message content rejected as spam"),
        ("data_reply", "552 5.3.4 Message size exceeds fixed limit"),
        ("rcpt_reply", "550 5.4.5 Daily user sending quota exceeded"),
    ],
)
def test_a_reply_about_us_stops_the_send_and_charges_nobody(
    tmp_path: Path, where: str, reply: str
) -> None:
    project = make_project(tmp_path / "p", 6, settings="")
    configure(project)
    project.config.path.write_text(
        project.config.path.read_text().replace("bounce_limit = 3", "bounce_limit = 1")
    )
    relay = Relay(FaultyRelay(**{where: reply})).start()
    try:
        code, _, err = digest(project.root, "send", "--smtp-url", relay.url, "--json")
    finally:
        relay.stop()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and reply in err
    assert "not the address" in err
    assert project.store.suppression_count() == 0
    assert_undone(project)


def test_a_relay_rejecting_everyone_for_our_sender_names_the_sender(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 5)
    rejection = f"550 5.1.8 <{SENDER}>: Sender address rejected: Domain not found"
    relay = Relay(FaultyRelay(rcpt_reply=rejection)).start()
    try:
        code, _, err = digest(project.root, "send", "--smtp-url", relay.url)
    finally:
        relay.stop()
    assert code == 2 and "Sender address rejected" in err
    assert project.store.suppression_count() == 0
    assert_undone(project)


def test_a_refusal_at_mail_from_names_our_sender_not_a_reader(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    relay = Relay(FaultyRelay(mail_reply="553 5.7.1 Sender address rejected: not owned")).start()
    try:
        code, _, err = digest(project.root, "send", "--smtp-url", relay.url, "--concurrency", "1")
    finally:
        relay.stop()
    assert code == 2
    assert f"refused our sender {SENDER} at MAIL FROM" in err
    assert "reader" not in err
    assert_undone(project)


def test_a_bare_helo_name_refused_at_rcpt_points_to_helo_name(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    configure(project, helo_name="digestbox")
    relay = Relay(FaultyRelay(require_fqdn_helo=True)).start()
    try:
        code, _, err = digest(project.root, "send", "--smtp-url", relay.url)
        assert code == 2
        assert "Helo command rejected" in err and "helo_name" in err
        assert statuses(project) == {}  # nothing was tried: the send is undone

        configure(project, helo_name="mail.example.org")
        code, _, err = digest(project.root, "send", "--smtp-url", relay.url)
        assert code == 0, err
    finally:
        relay.stop()
    assert set(relay.handler.helo_names) == {"digestbox", "mail.example.org"}
    assert sum(relay.handler.copies().values()) == 3


def test_the_circuit_breaker_pauses_when_everyone_fails_the_same_way(tmp_path: Path) -> None:
    """A reply without an enhanced status code is charged to the address; the same one for
    `max_send_errors` addresses in a row pauses the send instead of failing the whole list."""
    project = make_project(tmp_path / "p", 25)
    configure(project, max_send_errors=5)
    project.config.path.write_text(
        project.config.path.read_text().replace("bounce_limit = 3", "bounce_limit = 1")
    )
    relay = Relay(FaultyRelay(rcpt_reply="550 Requested action not taken")).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--concurrency", "1")
        code, _, err = digest(project.root, *args)
    finally:
        relay.stop()
    assert code == 2
    assert "paused" in err and "550 Requested action not taken" in err
    assert statuses(project) == {"pending": 25}
    assert project.store.suppression_count() == 0
    assert len(relay.handler.rcpt_log) == 5


def test_a_few_bad_addresses_do_not_trip_the_breaker_and_the_summary_names_the_replies(
    tmp_path: Path,
) -> None:
    addresses = [f"r{n}@example.net" for n in range(8)]
    project = make_project(tmp_path / "p", addresses)
    configure(project, max_send_errors=3)
    relay = Relay(FaultyRelay(perm_rcpt={addresses[1], addresses[2]})).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--concurrency", "1", "--json")
        code, out, err = digest(project.root, *args)
    finally:
        relay.stop()
    assert code == 1  # something failed for good: never exit 0
    assert json.loads(out.strip().splitlines()[-1])["failed"] == 2
    assert "2× 550 5.1.1 no such user here" in err
    assert f"via smtp://127.0.0.1:{relay.port}" in err


# -- throttling, hung and unreachable relays ----------------------------------------------------


def test_throttling_at_mail_from_slows_the_send_and_costs_no_attempts(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 12)
    handler = FaultyRelay(mail_quota=(4, 0.4))
    relay = Relay(handler).start()
    try:
        args = ("send", "--smtp-url", relay.url, "--retry-base", "0.2", "--max-attempts", "10")
        code, out, err = digest(project.root, *args, "--max-total-attempts", "2", "--json")
    finally:
        relay.stop()
    assert any(not ok for _, ok in handler.mail_log), "the relay never throttled"
    assert code == 0, err
    assert statuses(project) == {"sent": 12}
    # only the delivery counted: a throttle is about us, not the address
    assert set(attempts(project).values()) == {1}
    assert handler.copies() == {f"reader{n:05d}@example.net": 1 for n in range(12)}


def test_a_relay_that_never_greets_stops_the_run_with_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 40)
    project.config.path.write_text(
        project.config.path.read_text().replace("timeout = 30", "timeout = 0.3")
    )
    with SilentRelay() as relay:
        args = ("send", "--smtp-url", relay.url, "--retry-base", "0.05", "--concurrency", "4")
        code, _, err = digest(project.root, *args)
        connections = relay.connections
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped after 4 rounds of failed connections" in err
    assert "server ready" in err.lower() or "timed out" in err.lower()
    # the check before the send, then four rounds of four connections, not every row waiting
    # out its timeouts
    assert connections <= 1 + 16
    assert "failed" not in statuses(project)
    assert sum(statuses(project).values()) == 40


def test_a_refused_connection_stops_quickly_and_the_rows_stay_deferred(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 30)
    with SilentRelay() as closed:
        port = closed.port
    code, _, err = digest(
        project.root, "send", "--smtp-url", f"smtp://127.0.0.1:{port}", "--retry-base", "0.05"
    )
    assert code == 1 and "stopped after" in err and "refused" in err.lower()
    assert "failed" not in statuses(project)
    assert set(attempts(project).values()) == {0}


# -- logins ------------------------------------------------------------------------------------


def test_a_missing_password_is_reported_before_connecting(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    with ScriptedRelay("220 ready") as relay:
        url = f"smtp://mailer@127.0.0.1:{relay.port}?starttls=no"
        code, _, err = digest(project.root, "send", "--smtp-url", url)
        assert relay.connections == 0
    assert code == 2 and "DIGEST_SMTP_PASSWORD is not set" in err
    assert_as_it_was(project)


def test_a_wrong_password_is_tried_once_for_the_whole_send(tmp_path: Path) -> None:
    relay, authenticator, url = relay_with_login()
    project = make_project(tmp_path / "p", 30)
    try:
        code, _, err = digest(
            project.root,
            "send",
            "--smtp-url",
            url,
            "--concurrency",
            "8",
            env={"DIGEST_SMTP_PASSWORD": "wrong-pw"},
        )
    finally:
        relay.stop()
    assert code == 2 and "login refused" in err and "wrong-pw" not in err
    assert authenticator.calls == 1
    assert_as_it_was(project)


def test_a_relay_offering_only_scram_or_xoauth2_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 2)
    ehlo = "250-scripted\r\n250 AUTH SCRAM-SHA-256 XOAUTH2"
    with ScriptedRelay("220 ready", {"EHLO": ehlo}) as relay:
        url = f"smtp://mailer@127.0.0.1:{relay.port}?starttls=no"
        code, _, err = digest(
            project.root, "send", "--smtp-url", url, env={"DIGEST_SMTP_PASSWORD": "pw"}
        )
        assert "AUTH" not in relay.commands
    assert code == 2
    assert "offers only SCRAM-SHA-256 XOAUTH2" in err and "PLAIN" in err


def test_an_address_as_user_is_shown_re_encoded_in_the_url(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 1)
    with SilentRelay() as closed:
        port = closed.port
    url = f"smtp://digest%40news.example.internal@127.0.0.1:{port}?starttls=no"
    code, _, err = digest(
        project.root,
        "send",
        "--smtp-url",
        url,
        "--retry-base",  # the pauses between rounds of refused connections: short here
        "0.01",
        env={"DIGEST_SMTP_PASSWORD": "x"},
    )
    assert code == 1
    assert f"smtp://digest%40news.example.internal@127.0.0.1:{port}" in err
    assert "digest@news.example.internal@" not in err


# -- TLS settings ------------------------------------------------------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def test_ca_file_trusts_a_private_ca(tmp_path: Path, ca: trustme.CA) -> None:
    server, _ = tls_contexts(ca)
    relay = Relay(FaultyRelay(), server_hostname="127.0.0.1", ssl_context=server).start()
    project = make_project(tmp_path / "p", 2)
    ca.cert_pem.write_to_path(str(project.root / "private-ca.pem"))
    configure(project, ca_file="private-ca.pem")
    try:
        url = f"smtps://127.0.0.1:{relay.port}"
        code, _, err = digest(project.root, "send", "--smtp-url", url)
    finally:
        relay.stop()
    assert code == 0, err
    assert "WARNING" not in err
    assert sum(relay.handler.copies().values()) == 2


def test_a_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 1)
    configure(project, ca_file="nowhere.pem")
    code, _, err = digest(project.root, "send")
    assert code == 2 and "transport.ca_file" in err and "nowhere.pem" in err


@pytest.mark.parametrize("how", ["digest.toml", "send", "run"])
def test_insecure_works_everywhere_and_warns_loudly(
    tmp_path: Path, ca: trustme.CA, how: str
) -> None:
    from send_support import add_issue

    from digest.schedule import period_key
    from digest.store import now_utc

    server, _ = tls_contexts(ca)
    relay = Relay(FaultyRelay(), server_hostname="127.0.0.1", ssl_context=server).start()
    project = make_project(tmp_path / "p", 2)
    url = f"smtps://127.0.0.1:{relay.port}"
    if how == "digest.toml":
        configure(project, insecure=True)
        args: tuple[str, ...] = ("send", "--smtp-url", url)
    elif how == "send":
        args = ("send", "--smtp-url", url, "--insecure")
    else:
        # this period's issue exists and is approved, so `digest run` sends it
        add_issue(project, period_key(now_utc(), "week"), status="approved")
        args = ("run", "--insecure")
    try:
        code, _, err = digest(project.root, *args, env={"DIGEST_SMTP_URL": url})
    finally:
        relay.stop()
    assert code == 0, err
    assert "WARNING: TLS certificate verification is OFF" in err
    assert sum(relay.handler.copies().values()) == 2


# -- transports, links ---------------------------------------------------------------------------


def test_an_issue_started_through_smtp_is_not_finished_into_the_outbox(tmp_path: Path) -> None:
    addresses = [f"r{n}@example.net" for n in range(3)]
    project = make_project(tmp_path / "p", addresses)
    handler = FaultyRelay(temp_rcpt={addresses[0]: 5})
    relay = Relay(handler).start()
    try:
        args = ("send", "--retry-base", "0.01", "--max-attempts", "1")
        code, _, err = digest(project.root, *args, env={"DIGEST_SMTP_URL": relay.url})
        assert code == 1  # one deferred, and the summary says why
        assert "1 still deferred" in err and "1× 451 4.2.0 mailbox busy" in err
    finally:
        relay.stop()
    # a shell without DIGEST_SMTP_URL: the outbox would "deliver" the rest
    code, _, err = digest(project.root, "send")
    assert code == 2
    assert f"started through smtp://127.0.0.1:{relay.port}" in err and "--transport" in err
    assert not project.outbox_dir.exists() or not any(project.outbox_dir.rglob("*,*"))
    assert project.store.latest_issue().status == "sending"
    code, out, err = digest(project.root, "send", "--transport", "outbox", "--json")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["sent"] == 3


@pytest.mark.parametrize(
    "base_url", ["http://news.example.org", "https://127.0.0.1:8080", "https://localhost"]
)
def test_a_real_relay_is_refused_while_links_would_not_work(tmp_path: Path, base_url: str) -> None:
    project = make_project(tmp_path / "p", 2)
    env = {"DIGEST_BASE_URL": base_url, "DIGEST_SMTP_URL": "smtp://relay.example.org:587"}
    code, _, err = digest(project.root, "send", env=env)
    assert code == 2
    assert "base_url" in err and "https" in err and base_url in err
    assert statuses(project) == {}  # refused before anything was queued


def test_a_broken_outbox_is_a_failure_not_a_delivery(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    project.outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    project.outbox_dir.write_text("not a folder")
    code, _, err = digest(project.root, "send", "--json")
    assert code == 2 and "outbox" in err and "cannot write" in err
    assert_undone(project)


def test_demo_reports_a_total_failure_as_failure(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    code, _, err = digest(tmp_path, "demo", str(root))
    assert code == 0, err
    (root / "outbox").rename(root / "outbox-old")
    (root / "outbox").write_text("not a folder")
    code, _, err = digest(tmp_path, "demo", str(root))
    assert code != 0
    assert "outbox" in err


# -- DKIM ----------------------------------------------------------------------------------------


def test_dkim_signing_runs_off_the_event_loop_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signing on the loop stalled every connection for each signature (~100 msg/s whatever
    the concurrency); it runs in worker threads, with OpenSSL's RSA."""
    import asyncio

    import dkim

    from digest.dkim import DKIMSigner
    from digest.send import send_issue

    pem, record = dkim_key()
    project = make_project(tmp_path / "p", 6)
    (project.root / "dkim.pem").write_bytes(pem)
    configure(project, dkim_selector="mail", dkim_key_file="dkim.pem")
    project.config.dkim_selector, project.config.dkim_key_file = "mail", "dkim.pem"

    on_loop: list[bool] = []
    sign = DKIMSigner.sign

    def recording_sign(self: DKIMSigner, message: bytes) -> bytes:
        running = False
        with contextlib.suppress(RuntimeError):
            running = asyncio.get_running_loop() is not None
        on_loop.append(running)
        return sign(self, message)

    monkeypatch.setattr(DKIMSigner, "sign", recording_sign)
    relay = Relay(FaultyRelay()).start()
    try:
        report = send_issue(project, None, smtp_url=relay.url, concurrency=3)
    finally:
        relay.stop()
    assert report.summary()["sent"] == 6
    # the one signature on the loop is the key's check when the settings are read
    assert len(on_loop) == 6 + 1 and on_loop.count(True) == 1
    for received in relay.handler.received:
        assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
