"""A welcome mail on confirmation, with the latest issue or the archive (issue 23, day one)."""

from __future__ import annotations

import mailbox
import re
from urllib.parse import unquote

from send_support import add_issue
from starlette.testclient import TestClient
from web_support import csrf_of

from digest.project import Project


def outbox(project: Project) -> list[mailbox.MaildirMessage]:
    if not project.outbox_dir.exists():
        return []
    return sorted(mailbox.Maildir(project.outbox_dir, create=False), key=lambda m: m["Date"])


def confirm_from_mail(client: TestClient, message: mailbox.MaildirMessage) -> None:
    body = message.get_payload(decode=True).decode()
    token = unquote(re.search(r"/confirm\?token=(\S+)", body).group(1))  # type: ignore[union-attr]
    shown = client.get("/confirm", params={"token": token})
    done = client.post("/confirm", data={"token": token, "csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and 'id="confirmed"' in done.text


def test_a_confirmed_reader_is_welcomed_once_with_the_latest_issue(
    project: Project, client: TestClient
) -> None:
    issue_id = add_issue(project, "2026-W10", status="sent")
    form = client.get("/subscribe")
    data = {"csrf": csrf_of(form.text), "email": "ada@political-readers.net", "name": "Ada"}
    assert client.post("/subscribe", data=data).status_code == 200
    (confirmation,) = outbox(project)
    confirm_from_mail(client, confirmation)
    welcome = [m for m in outbox(project) if "Welcome" in str(m["Subject"])]
    assert len(welcome) == 1 and welcome[0]["To"] == "ada@political-readers.net"
    text = welcome[0].get_payload(decode=True).decode()
    assert f"http://127.0.0.1:8080/issues/{issue_id}" in text
    # pressing Confirm again welcomes nobody twice
    confirm_from_mail(client, confirmation)
    assert len([m for m in outbox(project) if "Welcome" in str(m["Subject"])]) == 1


def test_before_any_issue_the_welcome_points_to_the_archive(
    project: Project, client: TestClient
) -> None:
    form = client.get("/subscribe")
    data = {"csrf": csrf_of(form.text), "email": "grace@political-readers.net"}
    client.post("/subscribe", data=data)
    (confirmation,) = outbox(project)
    confirm_from_mail(client, confirmation)
    (welcome,) = [m for m in outbox(project) if "Welcome" in str(m["Subject"])]
    assert "Past issues will be here:\nhttp://127.0.0.1:8080/" in welcome.get_payload(
        decode=True
    ).decode().replace("\r\n", "\n")


def test_the_sign_up_page_has_a_list_chosen_and_inputs_phones_do_not_zoom_into(
    project: Project,
) -> None:
    """Issue 23: no list was pre-chosen, and inputs under 16 px make iOS zoom the page."""
    from test_signup import configured
    from web_support import web_client

    listed = configured(project, lists='news = "Weekly news"\nlocal = "Local politics"\n')
    page = web_client(listed).get("/subscribe").text
    assert re.search(r'value="news"\s+checked', page) or re.search(r'value="local"\s+checked', page)
    assert len(re.findall(r"\bchecked\b", page)) == 1
    assert "input,select,textarea{font-size:16px}" in page
    listed.close()


def test_coming_back_for_one_list_does_not_restore_every_list(project: Project) -> None:
    """Issue 23: re-subscribing to one list after leaving everything brought back every list."""
    from test_signup import configured
    from web_support import web_client

    from digest.models import Subscriber

    listed = configured(project, lists='news = "Weekly news"\nlocal = "Local politics"\n')
    store = listed.store
    for name in ("news", "local"):
        store.subscribe(Subscriber("ann@political-readers.net", list=name), origin="web")
    store.suppress("ann@political-readers.net", "unsubscribed")  # the link in an issue
    client = web_client(listed)
    form = client.get("/subscribe")
    data = {"csrf": csrf_of(form.text), "email": "ann@political-readers.net", "lists": "news"}
    assert client.post("/subscribe", data=data).status_code == 200
    (confirmation,) = outbox(listed)
    confirm_from_mail(client, confirmation)
    rows = store.subscriptions("ann@political-readers.net")
    assert {name: row.status for name, row in rows.items()} == {
        "news": "active",
        "local": "unsubscribed",
    }
    assert not store.is_suppressed("ann@political-readers.net")
    listed.close()
