"""A subscriber's whole life on the web, through the ASGI app and once in Chromium: sign up, the
confirmation mail read from the outbox, confirm, the preferences link of a real issue's message
(name, lists), then leave; and what the preferences page refuses."""

from __future__ import annotations

import mailbox
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from conftest import http_server
from starlette.testclient import TestClient
from test_signup import LISTS, configured, sign_up
from test_web import make_issue, recipients_of, send
from typer.testing import CliRunner
from web_support import SECRET, csrf_of, uvicorn_thread, web_client

from digest.cli import app
from digest.models import Issue
from digest.project import Project
from digest.signup import confirm_token, read_confirm_token
from digest.subscribers import sync_lists
from digest.tokens import make_token, preferences_token

KEY = SECRET.encode()


def messages(project: Project) -> list[EmailMessage]:
    """The outbox's messages, parsed with the modern API."""
    if not project.outbox_dir.exists():
        return []
    box = mailbox.Maildir(project.outbox_dir, create=False)
    return [message_from_bytes(box.get_bytes(key), policy=default) for key in box.iterkeys()]  # type: ignore[misc]


def confirm_link_token(message: EmailMessage) -> str:
    found = re.search(r"/confirm\?token=(\S+)", message.get_content())
    assert found, message
    return unquote(found.group(1))


def issue_to(project: Project, email: str, subject: str) -> EmailMessage:
    [message] = [
        m
        for m in messages(project)
        if parseaddr(str(m["To"]))[1] == email and str(m["Subject"]) == subject
    ]
    return message


def preferences_path(message: EmailMessage) -> str:
    """The preferences link of a message, as a path on the app: the same in both parts."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    [in_text] = re.findall(r"Your name and lists: (\S+)", text.get_content())
    assert f'href="{in_text}"' in html.get_content().replace("&amp;", "&")
    parts = urlsplit(in_text)
    return f"{parts.path}?{parts.query}"


def send_to_list(project: Project, issue: Issue, list_name: str) -> None:
    """Where readers choose among lists, an issue goes to one of them (issue 23)."""
    result = CliRunner().invoke(
        app, ["--project", str(project.root), "send", str(issue.id), "--list", list_name]
    )
    assert result.exit_code == 0, result.output


def token_in(path: str) -> str:
    return unquote(path.split("token=", 1)[1])


def statuses(project: Project, email: str) -> dict[str, str]:
    return {name: row.status for name, row in project.store.subscriptions(email).items()}


def test_join_confirm_change_preferences_and_leave_through_the_app(project: Project) -> None:
    listed = configured(project, lists=LISTS)
    client = web_client(listed)
    assert sign_up(client, "nina@example.org", lists="news")[0] == 200  # name "Ada" from sign_up
    form = client.get("/subscribe")
    both = {
        "csrf": csrf_of(form.text),
        "email": "nina@example.org",
        "name": "Ada",  # the confirmed sign-up's name is the one the row takes
        "lists": ["news", "local"],
    }
    client.post("/subscribe", data=both)
    mails = [m for m in messages(listed) if "Confirm" in str(m["Subject"])]
    assert len(mails) == 2
    [token] = [
        t for t in map(confirm_link_token, mails) if read_confirm_token(KEY, t)[1] != ["news"]
    ]
    shown = client.get("/confirm", params={"token": token})
    assert 'id="confirm"' in shown.text and statuses(listed, "nina@example.org") == {
        "local": "pending",
        "news": "pending",
    }
    client.post("/confirm", data={"token": token, "csrf": csrf_of(shown.text)})
    assert statuses(listed, "nina@example.org") == {"local": "active", "news": "active"}

    send_to_list(listed, make_issue(listed, "w1", "Week one"), "news")
    link = preferences_path(issue_to(listed, "nina@example.org", "Week one"))
    page = client.get(link)
    assert page.status_code == 200 and "nina@example.org" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'value="news" checked', page.text)
    assert re.search(r'value="local" checked', page.text)
    assert 'value="Ada"' in page.text

    change = {
        "csrf": csrf_of(page.text),
        "token": token_in(link),
        "name": "Nina\r\nBcc: x@evil.example  Simone",
        "lists": ["news"],
        "action": "save",
    }
    saved = client.post("/preferences", data=change)
    assert saved.status_code == 200 and 'id="saved"' in saved.text
    assert statuses(listed, "nina@example.org") == {"local": "unsubscribed", "news": "active"}
    rows = listed.store.subscriptions("nina@example.org").values()
    assert {row.name for row in rows} == {"Nina Bcc: x@evil.example Simone"}  # one line
    assert not re.search(r'value="local" checked', saved.text)

    send_to_list(listed, make_issue(listed, "w2", "Week two"), "news")
    assert "nina@example.org" in recipients_of(listed, "Week two")  # still on news

    leave = {"csrf": csrf_of(saved.text), "token": token_in(link), "action": "leave"}
    left = client.post("/preferences", data=leave)
    assert left.status_code == 200 and 'id="left"' in left.text
    assert listed.store.suppression_reason("nina@example.org") == "unsubscribed"
    assert 'id="left"' in client.get(link).text  # the link now says so, and offers nothing
    send_to_list(listed, make_issue(listed, "w3", "Week three"), "news")
    assert "nina@example.org" not in recipients_of(listed, "Week three")
    listed.close()


def test_a_name_and_a_list_left_on_the_web_outlast_the_next_edit_of_the_file(
    project: Project, client: TestClient
) -> None:
    """The file's latest edit wins for the addresses it lists, except what the person chose
    themselves: their name, and leaving a list."""
    folder = project.subscribers_dir
    (folder / "vip.csv").write_text("email,name\nada@example.org,Ada Lovelace\n")
    sync_lists(folder, project.store)
    path = f"/preferences?token={preferences_token(KEY, 'ada@example.org', 'example')}"
    page = client.get(path)
    assert re.search(r'value="vip" checked', page.text)
    change = {
        "csrf": csrf_of(page.text),
        "token": token_in(path),
        "name": "Ada King",
        "lists": ["example"],
    }
    assert client.post("/preferences", data=change).status_code == 200
    # an editor changes both files, Ada's rows included
    (folder / "example.csv").write_text(
        "email,name,city\nada@example.org,Ada Lovelace,London\ngrace@example.org,Grace\n"
    )
    (folder / "vip.csv").write_text("email,name\nada@example.org,A. Lovelace\nx@example.org,X\n")
    assert sorted(sync_lists(folder, project.store)) == ["example", "vip"]
    rows = project.store.subscriptions("ada@example.org")
    assert {name: (row.name, row.status) for name, row in rows.items()} == {
        "example": ("Ada King", "active"),
        "vip": ("Ada King", "unsubscribed"),
    }
    assert rows["example"].attributes == {"city": "London"}  # the file's attributes still win
    # and an editor adding her to vip again is told why not
    result = CliRunner().invoke(
        app, ["--project", str(project.root), "subscribers", "add", "ada@example.org", "-l", "vip"]
    )
    assert result.exit_code == 1
    assert "left this list on the preferences page" in result.stderr
    assert project.store.subscriber_status("ada@example.org", "vip") == "unsubscribed"


def test_preferences_need_their_own_token_and_the_csrf_pair(
    project: Project, client: TestClient
) -> None:
    good = preferences_token(KEY, "ada@example.org", "example")
    sync_lists(project.subscribers_dir, project.store)
    others = {
        "altered": good[:-2] + ("xx" if not good.endswith("xx") else "yy"),
        "unsubscribe": make_token(KEY, "ada@example.org", "example"),
        "confirmation": confirm_token(KEY, "ada@example.org", ["example"], 48),
        "another secret": preferences_token(b"another-secret-0123456789", "ada@example.org", "x"),
        "empty": "",
    }
    page = client.get("/preferences", params={"token": good})
    csrf = csrf_of(page.text)
    for name, token in others.items():
        assert client.get("/preferences", params={"token": token}).status_code == 400, name
        posted = {"csrf": csrf, "token": token, "action": "leave"}
        assert client.post("/preferences", data=posted).status_code == 400, name
    # a preferences token unsubscribes nobody at /unsubscribe either
    one_click = {"List-Unsubscribe": "One-Click"}
    assert client.get("/unsubscribe", params={"token": good}).status_code == 400
    assert client.post("/unsubscribe", params={"token": good}, data=one_click).status_code == 400
    # the right token without the CSRF pair: 403, nothing changes
    leave = {"token": good, "action": "leave"}
    assert client.post("/preferences", data=leave).status_code == 403
    stranger = web_client(project)  # has no cookie: the field alone is not enough
    assert stranger.post("/preferences", data={**leave, "csrf": csrf}).status_code == 403
    # a list that is not offered: one line, nothing changes
    unknown = {"csrf": csrf, "token": good, "name": "Eve", "lists": ["secret-list"]}
    refused = client.post("/preferences", data=unknown)
    assert refused.status_code == 400 and "There is no list “secret-list” here" in refused.text
    assert not project.store.is_suppressed("ada@example.org")
    assert project.store.subscriptions("ada@example.org")["example"].name == "Ada Lovelace"


def test_a_link_signed_before_a_secret_rotation_still_opens_preferences(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_link = preferences_token(KEY, "ada@example.org", "example")
    monkeypatch.setenv("DIGEST_SECRET", "the-new-secret-after-rotation-0123")
    monkeypatch.setenv("DIGEST_SECRET_PREVIOUS", SECRET)
    rotated = configured(project)
    client = web_client(rotated)
    assert client.get("/preferences", params={"token": old_link}).status_code == 200
    rotated.close()


def test_a_project_whose_templates_lack_the_link_still_sends(project: Project) -> None:
    for name, line in [
        ("digest.txt", "Your name and lists: {{ recipient.preferences_url }}\n"),
        (
            "digest.html",
            '<a href="{{ recipient.preferences_url }}">Change your name or lists</a> ·\n',
        ),
    ]:
        template = project.root / "templates" / name
        text = template.read_text()
        assert line in text
        template.write_text(text.replace(line, ""))
    send(project, make_issue(project, "w1", "Week one"))
    message = issue_to(project, "ada@example.org", "Week one")
    body = message.get_body(("plain",))
    assert body is not None and "Unsubscribe: http" in body.get_content()
    assert "preferences" not in message.as_string()


@pytest.mark.slow
@pytest.mark.browser
def test_a_person_joins_changes_and_leaves_in_chromium(project: Project, chromium: Any) -> None:
    listed = configured(project, lists=LISTS)
    with uvicorn_thread(listed) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base}/subscribe")
        page.get_by_label("Email address").fill("nina@example.org")
        page.get_by_label("Name (optional)").fill("Nina")
        page.get_by_label("The weekly digest").check()
        page.get_by_label("Local politics").check()
        with page.expect_navigation():
            page.locator("#subscribe").click()
        assert "confirmation link" in page.locator("#sent").inner_text()

        [mail] = messages(listed)
        page.goto(f"{base}/confirm?token={confirm_link_token(mail)}")
        assert statuses(listed, "nina@example.org") == {"local": "pending", "news": "pending"}
        with page.expect_navigation():
            page.locator("#confirm").click()
        assert "next issue" in page.locator("#confirmed").inner_text()
        assert statuses(listed, "nina@example.org") == {"local": "active", "news": "active"}
    # (Playwright's loop must be closed for the send's own)
    send_to_list(listed, make_issue(listed, "w1", "Week one"), "news")
    with uvicorn_thread(listed) as base, chromium() as browser:
        page = browser.new_page()
        page.goto(base + preferences_path(issue_to(listed, "nina@example.org", "Week one")))
        assert page.get_by_label("Local politics").is_checked()
        page.get_by_label("Name").fill("Nina Simone")
        page.get_by_label("Local politics").uncheck()
        with page.expect_navigation():
            page.locator("#save").click()
        assert "saved" in page.locator("#saved").inner_text()
        assert not page.get_by_label("Local politics").is_checked()
        assert statuses(listed, "nina@example.org") == {"local": "unsubscribed", "news": "active"}
        assert listed.store.subscriptions("nina@example.org")["news"].name == "Nina Simone"

        with page.expect_navigation():
            page.locator("#leave").click()
        assert "will not receive" in page.locator("#left").inner_text()
    assert listed.store.suppression_reason("nina@example.org") == "unsubscribed"
    listed.close()


def test_each_message_links_to_its_readers_own_preferences(project: Project) -> None:
    send(project, make_issue(project, "w1", "Week one"))
    message = issue_to(project, "grace@example.org", "Week one")
    path = preferences_path(message)
    assert path.startswith("/preferences?token=")
    assert token_in(path) == preferences_token(KEY, "grace@example.org", "example")


@pytest.mark.browser
def test_a_form_on_another_site_signs_up_only_after_our_button(
    project: Project, chromium: Any
) -> None:
    """A page on another site (another host) posts the public fields: Chromium arrives on our
    form, filled in, without sending any earlier cookie (SameSite=Strict); one press signs up."""
    listed = configured(project, lists=LISTS)
    with uvicorn_thread(listed) as base:
        other_page = f"""<!doctype html><form method="post" action="{base}/subscribe">
<input name="email" value="ada@example.org"><input name="name" value="Ada">
<input type="hidden" name="lists" value="local">
<button id="join">Join our friends' newsletter</button></form>"""

        class OtherSite(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = other_page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        with http_server(OtherSite, host="localhost") as other, chromium() as browser:
            page = browser.new_page()
            page.goto(f"{base}/subscribe")  # an earlier visit: our cookie is in the browser
            page.goto(other)
            with page.expect_navigation():
                page.locator("#join").click()
            assert "press Subscribe to confirm" in page.locator("#problem").inner_text()
            assert page.get_by_label("Email address").input_value() == "ada@example.org"
            assert page.get_by_label("Local politics").is_checked()
            assert not page.get_by_label("The weekly digest").is_checked()
            assert messages(listed) == [] and list(listed.store.subscribers()) == []
            with page.expect_navigation():
                page.locator("#subscribe").click()
            assert "confirmation link" in page.locator("#sent").inner_text()
    [mail] = messages(listed)
    assert parseaddr(str(mail["To"]))[1] == "ada@example.org"
    assert listed.store.subscriber_status("ada@example.org", "local") == "pending"
    listed.close()
