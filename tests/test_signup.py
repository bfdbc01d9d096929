"""Signing up from the web with double opt-in, through the ASGI app: the confirmation mail is read
from the project's outbox, and only a POST from the page its link opens confirms anyone."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import pytest
from dns_support import dns_server
from starlette.testclient import TestClient
from web_support import SECRET, csrf_of, uvicorn_thread, web_client

from digest.models import Subscriber
from digest.project import Project, open_project
from digest.signup import confirm_token
from digest.tokens import make_token
from digest.web import create_app


def configured(project: Project, *changes: tuple[str, str], lists: str = "") -> Project:
    """The project reopened with settings of digest.toml replaced (old, new) and `lists`, the
    body of a [lists] table, appended: a Project to close."""
    path = project.root / "digest.toml"
    text = path.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text + (f"\n[lists]\n{lists}" if lists else ""))
    return open_project(project.root)


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


# -- the lists offered ------------------------------------------------------------------------

LISTS = """news = "The weekly digest"
[lists.local]
title = "Local politics"
description = "A short note when the council votes."
"""


def test_the_form_offers_exactly_the_configured_lists_and_refuses_others(
    project: Project,
) -> None:
    listed = configured(project, lists=LISTS)
    client = web_client(listed)
    page = client.get("/subscribe").text
    boxes = re.findall(r'<input type="checkbox" id="(list-\d)" name="lists"\s+value="(\w+)"', page)
    assert [value for _, value in boxes] == ["news", "local"]  # not `example`, the file's list
    for box_id, _ in boxes:  # each box has its label, the description is tied to its box
        assert f'<label for="{box_id}">' in page
    assert '<label for="list-1">The weekly digest</label>' in page
    assert 'aria-describedby="list-2-about"' in page and "when the council votes" in page

    status, text = sign_up(client, "ada@example.org", lists="example")
    assert status == 400 and "There is no list “example” here" in text
    status, text = sign_up(client, "ada@example.org")
    assert status == 400 and "Choose at least one list." in text
    assert mails(listed) == [] and list(listed.store.subscribers("news")) == []

    form = client.get("/subscribe")
    chosen = {"csrf": csrf_of(form.text), "email": "ada@example.org", "lists": ["news", "local"]}
    assert client.post("/subscribe", data=chosen).status_code == 200
    [message] = mails(listed)
    client.post("/confirm", data={"token": link_token(message), "csrf": csrf_of(form.text)})
    assert {s.list for s in listed.store.subscribers(status="active")} == {"news", "local"}
    listed.close()


def test_one_configured_list_is_a_hidden_field(project: Project) -> None:
    listed = configured(project, lists='news = "The weekly digest"\n')
    page = web_client(listed).get("/subscribe").text
    assert '<input type="hidden" name="lists" value="news">' in page
    assert 'type="checkbox"' not in page
    listed.close()


# -- posts from other sites -------------------------------------------------------------------


def test_a_post_from_another_site_gets_our_form_filled_in_to_press_once(
    project: Project, client: TestClient
) -> None:
    """A form on another site posts `email`, `name` and `lists` without our CSRF pair: the
    person gets our form back, filled in, and only pressing it signs them up."""
    listed = configured(project, lists=LISTS)
    browser = web_client(listed)
    posted = {"email": "ada@example.org", "name": "Ada L", "lists": ["local"]}
    page = browser.post("/subscribe", data=posted, headers={"Origin": "https://other.example"})
    assert page.status_code == 403 and "press Subscribe to confirm" in page.text
    assert 'value="ada@example.org"' in page.text and 'value="Ada L"' in page.text
    assert re.search(r'value="local" checked', page.text)
    assert not re.search(r'value="news" checked', page.text)
    assert mails(listed) == [] and list(listed.store.subscribers()) == []
    # the page came with a fresh pair (its cookie is now in this browser): pressing it works
    pressed = browser.post("/subscribe", data={**posted, "csrf": csrf_of(page.text)})
    assert pressed.status_code == 200 and 'id="sent"' in pressed.text
    [message] = mails(listed)
    assert message["To"] == "ada@example.org"
    assert listed.store.subscriber_status("ada@example.org", "local") == "pending"
    assert listed.store.subscriber_status("ada@example.org", "news") is None
    listed.close()


# -- limits -----------------------------------------------------------------------------------


def test_too_many_sign_ups_from_one_client_get_429_across_replicas(project: Project) -> None:
    """Two app instances (two replicas) on one store share the per-client count."""
    limited = configured(project, ("signups_per_client_hour = 20", "signups_per_client_hour = 3"))
    first, second = web_client(limited), web_client(limited)
    other_client = web_client(limited, client=("203.0.113.7", 40000))
    codes = [
        sign_up(replica, f"p{n}@example.org")[0] for n, replica in enumerate([first, second, first])
    ]
    assert codes == [200, 200, 200]
    csrf = csrf_of(second.get("/subscribe").text)
    refused = second.post("/subscribe", data={"csrf": csrf, "email": "p4@example.org"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert "Too many sign-ups" in refused.text and "try again in" in refused.text
    assert len(mails(limited)) == 3
    # another client is counted apart
    assert sign_up(other_client, "p5@example.org")[0] == 200
    limited.close()


def test_one_address_gets_only_so_many_confirmations_and_the_page_does_not_say(
    project: Project,
) -> None:
    limited = configured(
        project, ("confirmations_per_address_day = 3", "confirmations_per_address_day = 2")
    )
    first, second = web_client(limited), web_client(limited)
    pages = [sign_up(replica, "ada@example.org") for replica in [first, second, second, first]]
    assert len(set(pages)) == 1 and pages[0][0] == 200  # the same neutral page every time
    assert [m["To"] for m in mails(limited)] == ["ada@example.org"] * 2
    # another address is not held back by it
    assert sign_up(first, "grace@example.org")[0] == 200
    assert len(mails(limited)) == 3
    limited.close()


def test_the_client_is_the_peer_or_a_trusted_proxys_x_forwarded_for(project: Project) -> None:
    """Through a real uvicorn: X-Forwarded-For names the client only when the peer is one of
    --forwarded-allow-ips."""
    limited = configured(project, ("signups_per_client_hour = 20", "signups_per_client_hour = 1"))

    def post_from(base: str, forwarded_for: str) -> int:
        with httpx.Client(base_url=base, headers={"Host": "127.0.0.1:8080"}) as browser:
            csrf = csrf_of(browser.get("/subscribe").text)
            return browser.post(
                "/subscribe",
                data={"csrf": csrf, "email": "x@example.org"},
                headers={"X-Forwarded-For": forwarded_for},
            ).status_code

    # the peer (127.0.0.1) is the trusted proxy: each forwarded client has its own count
    with uvicorn_thread(limited) as base:
        assert post_from(base, "198.51.100.1") == 200
        assert post_from(base, "198.51.100.2") == 200
        assert post_from(base, "198.51.100.1") == 429
    # a peer that is not a trusted proxy: its header is ignored, the peer is the client
    with uvicorn_thread(limited, forwarded_allow_ips="192.0.2.1") as base:
        assert post_from(base, "198.51.100.3") == 200
        assert post_from(base, "198.51.100.4") == 429
    limited.close()


# -- the address's domain, when configured ---------------------------------------------------


@pytest.mark.slow
def test_with_check_dns_a_domain_that_takes_no_mail_is_refused_and_a_silent_resolver_refuses_nobody(
    project: Project,
) -> None:
    zone = {
        ("news.example.org", "MX"): ["10 mx.news.example.org."],
        ("web.example.net", "A"): ["192.0.2.10"],  # a domain with a site and no MX: not global
        ("null.example.com", "MX"): ["0 ."],  # RFC 7505: accepts no mail
    }
    with dns_server(zone) as (host, port):
        checked = configured(
            project, ("check_dns = false", f'check_dns = true\ndns_server = "{host}:{port}"')
        )
        client = web_client(checked)
        assert sign_up(client, "ada@news.example.org")[0] == 200
        for address, why in [
            ("bo@nowhere.example.org", "does not exist"),
            ("cy@null.example.com", "does not accept email"),
            ("di@web.example.net", "does not accept email"),
        ]:
            status, page = sign_up(client, address)
            assert status == 400 and why in page, (address, page)
        assert [m["To"] for m in mails(checked)] == ["ada@news.example.org"]
        checked.close()
    # the same project with nobody answering at that port: the lookups time out, nobody is
    # refused for it (email-validator's rule; the limit keeps a sign-up from waiting long)
    quiet = open_project(project.root)
    assert sign_up(web_client(quiet), "eve@news.example.org")[0] == 200
    assert len(mails(quiet)) == 2
    quiet.close()


def test_without_check_dns_nothing_is_looked_up(project: Project) -> None:
    assert sign_up(web_client(project), "ada@nowhere.example.org")[0] == 200
    assert len(mails(project)) == 1


def test_a_confirmation_bounces_to_the_bounce_mailbox_when_there_is_one(project: Project) -> None:
    assert sign_up(web_client(project), "ada@example.org")[0] == 200
    with_bounces = configured(
        project,
        ('# bounce_address = "bounces+{token}@example.org"', 'bounce_address = "b+{token}@ex.org"'),
    )
    assert sign_up(web_client(with_bounces), "bo@example.org")[0] == 200
    senders = {m["To"]: m["Return-Path"] for m in mails(with_bounces)}
    assert senders == {
        "ada@example.org": "<digest@example.org>",
        "bo@example.org": "<b+confirm@ex.org>",
    }
    with_bounces.close()
