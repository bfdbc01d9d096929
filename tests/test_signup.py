"""Signing up from the web with double opt-in, through the ASGI app: the confirmation mail is read
from the project's outbox, and only a POST from the page its link opens confirms anyone."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient
from test_web import SECRET, web_client

from digest.models import Subscriber
from digest.project import Project, init_project
from digest.signup import confirm_token
from digest.tokens import make_token
from digest.web import create_app


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project signing with SECRET (test_web's own fixture, which pytest cannot share)."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    project = init_project(tmp_path / "news")
    yield project
    project.close()


@pytest.fixture
def client(project: Project) -> TestClient:
    return web_client(project)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_up(client: TestClient, email: str, **fields: str) -> tuple[int, str]:
    form = client.get("/subscribe")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), "email": email, "name": "Ada", **fields}
    response = client.post("/subscribe", data=data)
    return response.status_code, response.text


def mails(project: Project) -> list[mailbox.MaildirMessage]:
    if not project.outbox_dir.exists():
        return []
    return list(mailbox.Maildir(project.outbox_dir, create=False))


def link_token(message: mailbox.MaildirMessage) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(r"/confirm\?token=(\S+)", body)
    assert found, body
    return unquote(found.group(1))


def sendable(project: Project) -> list[str]:
    return [s.email for s in project.store.active_subscribers()]


def test_a_person_signs_up_and_only_the_confirming_post_makes_them_active(
    project: Project, client: TestClient
) -> None:
    page = client.get("/subscribe")
    assert 'name="email"' in page.text and 'name="name"' in page.text
    assert 'name="lists"' in page.text and "csrf" in page.text
    assert sign_up(client, "ada@Example.ORG")[0] == 200
    [message] = mails(project)
    assert message["To"] == "ada@example.org"
    assert "Confirm your subscription" in message["Subject"]
    assert project.store.subscriber_status("ada@example.org", "example") == "pending"
    assert "ada@example.org" not in sendable(project)

    token = link_token(message)
    # a mail scanner fetching the link confirms nobody
    shown = client.get("/confirm", params={"token": token})
    assert shown.status_code == 200 and 'id="confirm"' in shown.text
    assert "ada@example.org" not in sendable(project)
    done = client.post("/confirm", data={"token": token, "csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and 'id="confirmed"' in done.text
    assert "ada@example.org" in sendable(project)
    assert [
        s.name for s in project.store.subscribers("example") if s.email == "ada@example.org"
    ] == ["Ada"]


def test_the_page_is_the_same_whatever_the_address_and_suppressions_win(
    project: Project, client: TestClient
) -> None:
    store = project.store
    store.subscribe(Subscriber(email="active@example.org", list="example"), origin="web")
    store.subscribe(Subscriber(email="gone@example.org", list="example"), origin="web")
    store.suppress("gone@example.org", "bounced")
    store.suppress("left@example.org", "unsubscribed")
    pages = {
        email: sign_up(client, email)
        for email in [
            "new@example.org",
            "active@example.org",
            "gone@example.org",
            "left@example.org",
        ]
    }
    pending = sign_up(client, "new@example.org")
    assert set(pages.values()) == {pending} and pending[0] == 200
    # mail only to who may be (re)subscribed: the new address (twice) and the one that left
    assert sorted(m["To"] for m in mails(project)) == [
        "left@example.org",
        "new@example.org",
        "new@example.org",
    ]
    # an address that unsubscribed comes back through confirmation only
    assert store.suppression_reason("left@example.org") == "unsubscribed"
    [left] = [m for m in mails(project) if m["To"] == "left@example.org"]
    token = link_token(left)
    client.post("/confirm", data={"token": token, "csrf": csrf_of(client.get("/subscribe").text)})
    assert store.suppression_reason("left@example.org") is None
    assert "left@example.org" in sendable(project)
    # a bounced address stays suppressed even with a genuine confirmation
    genuine = confirm_token(SECRET.encode(), "gone@example.org", ["example"], 48)
    client.post("/confirm", data={"token": genuine, "csrf": csrf_of(client.get("/subscribe").text)})
    assert store.suppression_reason("gone@example.org") == "bounced"
    assert "gone@example.org" not in sendable(project)


def test_forms_need_their_csrf_pair_robots_and_bad_input_get_nothing(
    project: Project, client: TestClient
) -> None:
    csrf = csrf_of(client.get("/subscribe").text)
    # the field without the browser's cookie (a post from another site) is refused
    other = TestClient(create_app(project), base_url=project.config.base_url)
    refused = other.post("/subscribe", data={"csrf": csrf, "email": "x@example.org"})
    assert refused.status_code == 403
    assert client.post("/subscribe", data={"email": "x@example.org"}).status_code == 403
    # the honeypot: the same page, nothing recorded or sent
    status, text = sign_up(client, "bot@example.org", website="http://spam.example")
    assert status == 200 and 'id="sent"' in text
    # an invalid address: one clear message, the form again
    status, text = sign_up(client, "not-an-address")
    assert status == 400 and "not a valid email address" in text and 'name="email"' in text
    big = client.post("/subscribe", data={"csrf": csrf, "email": "a@example.org", "x": "y" * 5000})
    assert big.status_code == 413
    assert mails(project) == [] and list(project.store.subscribers()) == []


def test_an_expired_altered_or_unsubscribe_token_confirms_nobody(
    project: Project, client: TestClient
) -> None:
    secret = SECRET.encode()
    expired = confirm_token(
        secret, "a@example.org", ["example"], 48, now=datetime.now(UTC) - timedelta(hours=49)
    )
    unsubscribe = make_token(secret, "a@example.org", "example")
    good = confirm_token(secret, "a@example.org", ["example"], 48)
    for token in [expired, unsubscribe, good[:-2] + "xx"]:
        assert client.get("/confirm", params={"token": token}).status_code == 400
        csrf = csrf_of(client.get("/subscribe").text)
        assert client.post("/confirm", data={"token": token, "csrf": csrf}).status_code == 400
    # a confirmation token confirms nobody without the CSRF pair, and unsubscribes nobody
    assert client.post("/confirm", data={"token": good}).status_code == 403
    one_click = {"List-Unsubscribe": "One-Click"}
    assert client.post("/unsubscribe", params={"token": good}, data=one_click).status_code == 400
    assert not project.store.is_suppressed("a@example.org")
    assert sendable(project) == []
