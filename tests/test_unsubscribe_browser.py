"""A person unsubscribes in a real browser: the link from their message, the button, and the next
send leaves them out. Headless Chromium from the system (no browser download)."""

from __future__ import annotations

import mailbox
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from typer.testing import CliRunner

from digest.cli import app
from digest.models import Article, Issue, IssueEntry
from digest.project import Project, init_project
from digest.render import render_issue
from digest.web import create_app

pytestmark = [
    pytest.mark.browser,
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.delenv("DIGEST_SECRET", raising=False)  # the generated secret in .digest/
    project = init_project(tmp_path / "news")
    yield project
    project.close()


def make_issue(project: Project, key: str, subject: str) -> Issue:
    published = datetime(2026, 11, 18, tzinfo=UTC)
    article_id, _ = project.store.add_article(
        Article(
            title=f"Council agrees on the housing plan ({key})",
            body=f"The council agreed on the housing plan, issue {key}. " * 4,
            source_url=f"https://news.example.org/{key}",
            published=published,
        )
    )
    entry = IssueEntry(
        article_id=article_id,
        title=f"Council agrees on the housing plan ({key})",
        source_url=f"https://news.example.org/{key}",
        source_name="news.example.org",
        published=published,
        authors=[],
        summary=["The council agreed on the housing plan."],
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


def messages(project: Project, subject: str) -> dict[str, Message]:
    return {
        parseaddr(m["To"])[1]: m
        for m in mailbox.Maildir(project.outbox_dir, create=False)
        if str(m["Subject"]) == subject
    }


@pytest.fixture
def server(project: Project) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(project), log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_unsubscribe_in_a_browser_then_the_next_send_skips_the_person(
    project: Project, server: str, chromium: Any
) -> None:
    shutil.copy(
        Path(__file__).parent / "fixtures" / "subscribers" / "plain.csv",
        project.subscribers_dir / "example.csv",
    )
    send(project, make_issue(project, "w1", "Week one"))
    first = messages(project, "Week one")
    assert set(first) == {"ada@example.org", "grace@example.org", "linus@example.net"}
    header = " ".join(str(first["grace@example.org"]["List-Unsubscribe"]).split())
    [link] = [u.strip().strip("<>") for u in header.split(",") if "/unsubscribe?" in u]
    parts = urlsplit(link)
    # the message points at base_url; the test server listens on its own port
    link = f"{server}{parts.path}?{parts.query}"

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
    assert set(messages(project, "Week two")) == {"ada@example.org", "linus@example.net"}
