"""The web side: one-click unsubscribe (from a real message in the outbox), tampered tokens, the
archive, under Starlette's TestClient, a real uvicorn on loopback and `digest serve` itself."""

from __future__ import annotations

import json
import mailbox
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner
from web_support import SECRET, uvicorn_thread, web_client

from digest.cli import app
from digest.errors import DigestError
from digest.models import Article, Issue, IssueEntry
from digest.project import Project, open_project
from digest.render import render_issue
from digest.tokens import _b64, _unb64, load_secret, make_legacy_token, make_token
from digest.web import SECURITY_HEADERS

FIXTURES = Path(__file__).parent / "fixtures" / "subscribers"


def make_issue(project: Project, key: str, subject: str = "The week") -> Issue:
    """A real issue: a stored article, rendered through the project's templates."""
    published = datetime(2026, 11, 18, tzinfo=UTC)
    article_id, _ = project.store.add_article(
        Article(
            title=f"Parliament votes on the budget ({key})",
            body=f"Parliament voted on the budget on Tuesday, issue {key}. " * 4,
            source_url=f"https://news.example.org/{key}",
            published=published,
        )
    )
    entry = IssueEntry(
        article_id=article_id,
        title=f"Parliament votes on the budget ({key})",
        source_url=f"https://news.example.org/{key}",
        source_name="news.example.org",
        published=published,
        authors=["A. Reporter"],
        summary=["Parliament voted on the budget."],
        political_score=0.9,
    )
    parts = render_issue(
        [entry], config=project.config, template_dirs=project.template_dirs, subject=subject
    )
    return project.store.create_issue(
        key=key, subject=subject, entries=[entry], html=parts.html, text=parts.text
    )


def send(project: Project, issue: Issue) -> None:
    result = CliRunner().invoke(app, ["--project", str(project.root), "send", str(issue.id)])
    assert result.exit_code == 0, result.output


def outbox_messages(project: Project) -> list[Message]:
    return list(mailbox.Maildir(project.outbox_dir, create=False))


def message_to(project: Project, email: str, subject: str) -> Message:
    [message] = [
        m
        for m in outbox_messages(project)
        if parseaddr(m["To"])[1] == email and str(m["Subject"]) == subject
    ]
    return message


def one_click_url(message: Message) -> str:
    """The https/http URL of the List-Unsubscribe header (RFC 2369: <uri>, <uri>)."""
    header = " ".join(str(message["List-Unsubscribe"]).split())
    uris = [part.strip().strip("<>") for part in header.split(",")]
    [url] = [u for u in uris if u.startswith(("http://", "https://"))]
    return url


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def recipients_of(project: Project, subject: str) -> set[str]:
    return {parseaddr(m["To"])[1] for m in outbox_messages(project) if str(m["Subject"]) == subject}


def cli(project: Project, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--project", str(project.root), *args])
    return result.exit_code, result.stdout


def test_one_click_from_the_outbox_sticks_through_reimport_and_next_send(
    project: Project,
) -> None:
    send(project, make_issue(project, "w1", "Week one"))
    message = message_to(project, "ada@example.org", "Week one")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = one_click_url(message)

    client = web_client(open_project(project.root))
    response = client.post(local(url), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "ada@example.org" in response.text
    assert project.store.suppression_reason("ada@example.org") == "unsubscribed"
    assert not project.store.is_suppressed("grace@example.org")
    # the mail client may retry: still 200, still one suppression
    assert client.post(local(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert project.store.suppression_count() == 1

    code, _ = cli(
        project, "subscribers", "import", str(FIXTURES / "plain.csv"), "--list", "example"
    )
    assert code == 0
    code, out = cli(project, "subscribers", "list", "--json")
    statuses = {row["email"]: row["status"] for row in map(json.loads, out.splitlines())}
    assert statuses == {
        "ada@example.org": "unsubscribed",
        "grace@example.org": "active",
        "linus@example.net": "active",
    }

    send(project, make_issue(project, "w2", "Week two"))
    assert recipients_of(project, "Week two") == {"grace@example.org", "linus@example.net"}
    assert recipients_of(project, "Week one") == {
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
    }


def test_confirmation_page_then_button_post(project: Project) -> None:
    token = make_token(load_secret(project.state_dir, SECRET), "grace@example.org", "example")
    client = web_client(project)
    page = client.get("/unsubscribe", params={"token": token})
    assert page.status_code == 200
    assert '<form method="post"' in page.text and "grace@example.org" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not project.store.is_suppressed("grace@example.org")  # a GET changes nothing

    # a multipart body, as RFC 8058 recommends to mail clients
    response = client.post(
        "/unsubscribe", params={"token": token}, files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert response.status_code == 200
    assert project.store.suppression_reason("grace@example.org") == "unsubscribed"


def _tampered_tokens(secret: bytes) -> dict[str, str]:
    # a link already sent: the older signed kind, still read, so still held to its signature
    legacy = make_legacy_token(secret, "ada@example.org", "example")
    payload, mac = legacy.split(".")
    other_payload = _b64(json.dumps(["grace@example.org", "example"]).encode())
    flipped = bytearray(_unb64(mac))
    flipped[0] ^= 1
    sealed = bytearray(_unb64(make_token(secret, "ada@example.org", "example")))
    sealed[-1] ^= 1
    return {
        "someone else's address under ada's signature": f"{other_payload}.{mac}",
        "a flipped bit in the signature": f"{payload}.{_b64(bytes(flipped))}",
        "a flipped bit in a sealed token": _b64(bytes(sealed)),
        "another secret": make_token(b"another secret", "ada@example.org", "example"),
        "expired": make_token(
            secret, "ada@example.org", "example", expires=datetime.now(UTC) - timedelta(days=1)
        ),
        "garbage": "not-a-token",
        "empty": "",
    }


@pytest.mark.parametrize("case", list(_tampered_tokens(b"x")))
def test_a_bad_token_is_400_and_changes_nothing(project: Project, case: str) -> None:
    token = _tampered_tokens(load_secret(project.state_dir, SECRET))[case]
    client = web_client(project)
    assert client.get("/unsubscribe", params={"token": token}).status_code == 400
    response = client.post(
        "/unsubscribe", params={"token": token}, data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400
    assert project.store.suppression_count() == 0


def test_a_post_without_the_one_click_body_changes_nothing(project: Project) -> None:
    token = make_token(load_secret(project.state_dir, SECRET), "ada@example.org", "example")
    client = web_client(project)
    assert client.post("/unsubscribe", params={"token": token}).status_code == 400
    response = client.post("/unsubscribe", params={"token": token}, data={"List-Unsubscribe": "x"})
    assert response.status_code == 400
    assert project.store.suppression_count() == 0


def test_an_unexpiring_token_still_works_and_a_future_expiry_too(project: Project) -> None:
    secret = load_secret(project.state_dir, SECRET)
    later = make_token(
        secret, "linus@example.net", "example", expires=datetime.now(UTC) + timedelta(days=1)
    )
    client = web_client(project)
    assert client.get("/unsubscribe", params={"token": later}).status_code == 200


def test_archive_lists_sent_issues_escaped_and_hides_unsent_ones(project: Project) -> None:
    sent = make_issue(project, "w1", "Budget <script>alert(1)</script> & more")
    send(project, sent)
    draft = make_issue(project, "w2", "Not yet public")
    client = web_client(project)

    archive = client.get("/")
    assert archive.status_code == 200
    assert "Budget &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in archive.text
    assert "<script>" not in archive.text
    assert "Not yet public" not in archive.text

    page = client.get(f"/issues/{sent.id}")
    assert page.status_code == 200
    assert "Parliament votes on the budget (w1)" in page.text
    assert "@@digest:" not in page.text
    assert client.get(f"/issues/{draft.id}").status_code == 404
    assert client.get("/issues/999").status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(project: Project) -> Iterator[str]:
    with uvicorn_thread(project) as base:
        yield base


def test_one_click_over_real_http(project: Project, live_server: str) -> None:
    send(project, make_issue(project, "w1", "Week one"))
    url = one_click_url(message_to(project, "linus@example.net", "Week one"))
    with httpx.Client(base_url=live_server) as client:
        tampered = local(url).replace("token=", "token=x")
        bad = client.post(tampered, data={"List-Unsubscribe": "One-Click"})
        assert bad.status_code == 400
        assert not project.store.is_suppressed("linus@example.net")
        good = client.post(local(url), data={"List-Unsubscribe": "One-Click"})
        assert good.status_code == 200
        assert "Week one" in client.get("/").text
    assert project.store.suppression_reason("linus@example.net") == "unsubscribed"


@contextmanager
def serving(
    project: Project, *args: str, preexec_fn: Callable[[], None] | None = None
) -> Iterator[tuple[str, Path]]:
    """`digest serve` in its own process on a free port: (base URL, its log file)."""
    port = _free_port()
    env = dict(os.environ, DIGEST_SECRET=SECRET, DIGEST_PROJECT=str(project.root))
    log = project.root / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--port", str(port), *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(base)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert process.poll() is None, log.read_text()
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_digest_serve_runs_uvicorn(project: Project) -> None:
    with serving(project) as (base, _):
        response = httpx.get(f"{base}/")
        assert response.status_code == 200
        assert "No issue has been sent yet" in response.text
        assert "server" not in response.headers


def test_serve_closes_a_connection_that_drips_its_request(project: Project) -> None:
    with serving(project, "--request-timeout", "1") as (base, log):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            # the headers never end: the server hangs up (b""), well before our own timeout
            assert slow.recv(1024) == b""
        token = make_token(load_secret(project.state_dir, SECRET), "ada@example.org", "example")
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
            slow.sendall(
                f"POST /unsubscribe?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                + b"Content-Type: application/x-www-form-urlencoded\r\n"
                + b"Content-Length: 100\r\n\r\nList-Unsu"
            )
            assert slow.recv(1024) == b""  # the body never ends either
        assert httpx.get(f"{base}/").status_code == 200
    assert "Traceback" not in log.read_text()  # a client cut off is not an error to log
    assert not _suppressed(project, "ada@example.org")


@pytest.mark.slow
def test_serve_at_the_descriptor_limit_keeps_its_log_short_and_recovers(
    project: Project,
) -> None:
    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with serving(project, preexec_fn=few_descriptors) as (base, log):
        port = int(base.rsplit(":", 1)[1])
        held = []
        try:
            for _ in range(400):  # more than the server may open
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(2)  # what an unprotected server spends logging a traceback per accept
            assert len(log.read_bytes()) < 4096, log.read_text()[:2000]
        finally:
            for connection in held:
                connection.close()
        assert httpx.get(f"{base}/").status_code == 200


@pytest.mark.browser
def test_unsubscribe_in_a_browser_then_the_next_send_skips_the_person(
    project: Project, live_server: str, chromium: Any
) -> None:
    """A person unsubscribes in a real browser: the link from their message, the button, and
    the next send leaves them out."""
    shutil.copy(FIXTURES / "plain.csv", project.subscribers_dir / "example.csv")
    send(project, make_issue(project, "w1", "Week one"))
    assert recipients_of(project, "Week one") == {
        "ada@example.org",
        "grace@example.org",
        "linus@example.net",
    }
    # the message points at base_url; the test server listens on its own port
    link = live_server + local(one_click_url(message_to(project, "grace@example.org", "Week one")))

    with chromium() as browser:
        page = browser.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 200
        assert page.locator("#email").inner_text() == "grace@example.org"
        assert not project.store.is_suppressed("grace@example.org")
        with page.expect_navigation():
            page.locator("#unsubscribe").click()
        assert "will not receive" in page.locator("#done").inner_text()

    assert project.store.suppression_reason("grace@example.org") == "unsubscribed"
    send(project, make_issue(project, "w2", "Week two"))
    assert recipients_of(project, "Week two") == {"ada@example.org", "linus@example.net"}


# -- under abuse ----------------------------------------------------------------------------


def _suppressed(project: Project, email: str) -> bool:
    reopened = open_project(project.root)
    try:
        return reopened.store.is_suppressed(email)
    finally:
        reopened.close()


def test_a_chunked_body_cannot_slip_past_the_size_limit(project: Project, live_server: str) -> None:
    token = make_token(load_secret(project.state_dir, SECRET), "ada@example.org", "example")

    def chunks(padding: int) -> Iterator[bytes]:
        yield b"List-Unsubscribe=One-Click&pad="
        for _ in range(padding):  # one long field: fewer than any cap on the number of fields
            yield b"x" * 1000

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=live_server) as client:
        # no Content-Length: the body comes chunked, 100 kB of it
        big = client.post(
            "/unsubscribe", params={"token": token}, content=chunks(100), headers=form
        )
        assert big.status_code == 413
        assert big.request.headers.get("transfer-encoding") == "chunked"
        assert not _suppressed(project, "ada@example.org")
        small = client.post(
            "/unsubscribe", params={"token": token}, content=chunks(0), headers=form
        )
        assert small.status_code == 200
    assert _suppressed(project, "ada@example.org")


def test_a_forged_host_is_refused_not_reflected(project: Project, live_server: str) -> None:
    token = make_token(load_secret(project.state_dir, SECRET), "ada@example.org", "example")
    with httpx.Client(base_url=live_server) as client:
        forged = client.get(
            "/unsubscribe/", params={"token": token}, headers={"Host": "evil.example"}
        )
        assert forged.status_code == 400
        assert "evil.example" not in forged.headers.get("location", "")
        assert forged.headers["content-security-policy"].startswith("default-src 'none'")
        # the public host of base_url (http://127.0.0.1:8080) is answered, its redirects stay home
        good = client.get("/unsubscribe/", params={"token": token})
        assert good.status_code in (301, 302, 307, 308)
        assert urlsplit(good.headers["location"]).hostname == "127.0.0.1"


def test_starlettes_own_error_pages_carry_the_security_headers(
    project: Project, live_server: str
) -> None:
    with httpx.Client(base_url=live_server) as client:
        not_found = client.get("/wp-admin")
        too_big = client.get("/issues/99999999999999999999999999")
        wrong_method = client.delete("/unsubscribe")
        assert [not_found.status_code, too_big.status_code, wrong_method.status_code] == [
            404,
            404,
            405,
        ]
        assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
        # a database that is not one: the page says so briefly, the headers are still there
        project.close()
        for name in ("digest.sqlite3-wal", "digest.sqlite3-shm"):
            (project.state_dir / name).unlink(missing_ok=True)
        (project.state_dir / "digest.sqlite3").write_bytes(b"not a database" * 100)
        broken = client.get("/")
        assert broken.status_code == 500
        assert "Traceback" not in broken.text and "sqlite" not in broken.text.lower()
        for response in (not_found, too_big, wrong_method, broken):
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value


def test_links_signed_before_a_secret_rotation_still_unsubscribe(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(project, make_issue(project, "w1", "Week one"))
    old_link = local(one_click_url(message_to(project, "linus@example.net", "Week one")))
    monkeypatch.setenv("DIGEST_SECRET", "the-new-secret-after-rotation-0123")
    # without the old secret the links already sent would break: digest refuses to start
    with pytest.raises(DigestError, match="the signing secret changed"):
        web_client(open_project(project.root))
    monkeypatch.setenv("DIGEST_SECRET_PREVIOUS", f"an-even-older-secret-0123456789, {SECRET}")
    rotated = web_client(open_project(project.root))
    response = rotated.post(old_link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert _suppressed(project, "linus@example.net")
    # a previous secret is held to the same minimum length, with one line at `digest serve`
    monkeypatch.setenv("DIGEST_SECRET_PREVIOUS", "short")
    result = CliRunner().invoke(app, ["--project", str(project.root), "serve"])
    assert result.exit_code == 2
    assert "DIGEST_SECRET_PREVIOUS: secret 1 is 5 bytes" in result.stderr
