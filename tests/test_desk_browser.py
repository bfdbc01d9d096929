"""The editor's desk (`digest preview`) driven in Debian's headless Chromium by keyboard: drop,
reorder, edit a summary, pick sentences, set the subject and intro, send a test copy, approve;
then `digest send` to the outbox, and the mail carries exactly those edits.

The desk's screenshot goes to tmp_path, or to DIGEST_SCREENSHOT_DIR when set (docs/desk.png).
"""

from __future__ import annotations

import html as html_lib
import http.client
import json
import mailbox
import os
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.message import MessageFactory
from digest.models import Subscriber
from digest.project import init_project, open_project
from digest.render import generic_values
from digest.tokens import load_secret
from digest.web.desk_server import PreviewServer
from digest.web.desk_view import Preview

runner = CliRunner()


def digest(root: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--project", str(root), *args], env={})
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Path, PreviewServer]]:
    root = tmp_path / "news"
    init_project(root, with_examples=True).close()
    (root / "subscribers" / "example.csv").write_text(
        "email,name\nada@example.org,Ada\nbob@example.org,Bob\n", encoding="utf-8"
    )
    code, _, err = digest(root, "build", "--as-of", "2026-11-20", "--limit", "3")
    assert code == 0, err
    project = open_project(root)
    issue = project.store.latest_issue()
    preview = Preview(issue, project.config, project.template_dirs, root=project.root)
    project.close()
    server = PreviewServer(preview, port=0)
    server.start_in_thread()
    try:
        yield root, server
    finally:
        server.shutdown()
        server.server_close()


def show(root: Path) -> dict[str, Any]:
    code, out, err = digest(root, "issue", "show", "1", "--json")
    assert code == 0, err
    return dict(json.loads(out))


def post(server: PreviewServer, fields: dict[str, str], host: str | None = None) -> int:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            f"/desk?token={server.token}",
            body=urlencode(fields),
            headers={
                "Host": host or f"127.0.0.1:{port}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def get(server: PreviewServer, path: str) -> str:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        with_token = f"{path}{'&' if '?' in path else '?'}token={server.token}"
        connection.request("GET", with_token, headers={"Host": f"127.0.0.1:{port}"})
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def press(page: Any, name: str) -> None:
    """Focus the control by its accessible name and press Enter: no mouse."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).focus()
        page.keyboard.press("Enter")


def mailed(root: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(root / "outbox", create=False)
    return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in box]  # type: ignore[misc]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


# every field and button has a name a screen reader can say
UNLABELLED_JS = """() => [...document.querySelectorAll('input:not([type=hidden]),textarea,button')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML.slice(0, 80))"""


@pytest.mark.slow
@pytest.mark.browser
def test_an_editor_shapes_and_approves_an_issue_in_the_browser(
    desk: tuple[Path, PreviewServer], chromium: Any, tmp_path: Path
) -> None:
    root, server = desk
    before = show(root)
    titles = [s["title"] for s in before["stories"]]
    runner_up = before["runners_up"][0]
    shots = Path(os.environ.get("DIGEST_SCREENSHOT_DIR") or tmp_path)

    # no token, a wrong token, a foreign Host: refused, nothing changed
    assert post(server, {"action": "drop", "position": "1"}) == 403
    assert post(server, {"action": "drop", "position": "1", "csrf": "guess"}) == 403
    fields = {"action": "drop", "position": "1", "csrf": server.csrf}
    assert post(server, fields, host="evil.example") == 421
    assert show(root) == before

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server.link("desk"))
        assert page.evaluate(UNLABELLED_JS) == []
        assert page.frame_locator("#issue").locator("body").inner_text().count(titles[1]) >= 1

        press(page, "Drop story 2")
        assert page.locator("#flash").inner_text() == "Dropped story 2."
        assert page.evaluate("() => document.activeElement.id") == "flash"
        press(page, "Move story 2 up")  # the old third story leads now
        # edit story 2's summary (the old first story), by keyboard
        page.get_by_text("Edit title and summary of story 2").focus()
        page.keyboard.press("Enter")
        page.locator("#summary-2").fill("An editor's summary.\n\nIn two paragraphs.")
        press(page, "Save story 2")
        # pick two of the lead story's own sentences
        page.get_by_text("Pick sentences for story 1").focus()
        page.keyboard.press("Enter")
        boxes = page.locator("#story-1 input[name=sentence]")
        for index in range(boxes.count()):
            boxes.nth(index).set_checked(index in (0, 1))
        picked = [page.locator("#story-1 label.sentence .said").nth(i).inner_text() for i in (0, 1)]
        press(page, "Use the ticked sentences for story 1")
        press(page, f"Add {runner_up['title']} to the issue")
        page.locator("#subject").fill("Week 47, shaped by hand")
        press(page, "Save subject")
        page.locator("#intro").fill("Dear **readers**, <i>three</i> stories & one added.")
        press(page, "Save intro")

        preview = page.frame_locator("#issue").locator("body")
        preview.get_by_text("In two paragraphs.").wait_for()
        assert "Dear readers, <i>three</i> stories & one added." in preview.inner_text()

        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / "desk.png"), full_page=False)

        page.locator("#test-address").fill("editor@example.org")
        press(page, "Send test copy")
        assert (
            page.locator("#flash")
            .inner_text()
            .startswith("Test copy for editor@example.org written to the outbox")
        )
        assert "editor@example.org" in " ".join(str(m["To"]) for m in mailed(root))
        assert show(root)["status"] == "draft"  # a test copy approves nothing

        assert page.locator("button.primary").inner_text() == "Approve issue 1"
        press(page, "Approve issue 1")
        assert "approved" in page.locator("#flash").inner_text()
        assert page.get_by_role("button", name="Drop story 1").count() == 0  # frozen now
        desk_mail = page.evaluate("() => fetch('/mail').then(r => r.text())")

    after = show(root)
    assert after["status"] == "approved"
    assert [s["title"] for s in after["stories"]] == [titles[2], titles[0], runner_up["title"]]
    assert after["stories"][1]["summary"] == ["An editor's summary.", "In two paragraphs."]
    assert after["stories"][0]["summary"] == picked
    assert after["subject"] == "Week 47, shaped by hand"

    code, _, err = digest(root, "send", "1")
    assert code == 0, err
    messages = [m for m in mailed(root) if "editor@" not in str(m["To"])]
    assert len(messages) == 2
    project = open_project(root)
    issue = project.store.issue(1)
    factory = MessageFactory(issue, project.config, load_secret(project.state_dir, None))
    for message in messages:
        assert message["Subject"] == "Week 47, shaped by hand"
        html = html_part(message)
        words = html_lib.unescape(html)
        assert words.rindex(titles[2]) < words.rindex(titles[0]) < words.rindex(runner_up["title"])
        assert titles[1] not in words
        assert "An editor's summary." in words and picked[1] in words
        assert "<strong>readers</strong>" in html and "&lt;i&gt;three&lt;/i&gt;" in html
        text = message.get_body(("plain",))
        assert text is not None
        assert "Dear readers, <i>three</i> stories & one added." in text.get_content()
        # the desk showed this very document: only the reader's own values differ
        address = str(message["To"]).split("<")[1].rstrip(">")
        reader = Subscriber(email=address, name=address[:3].title(), list="example")
        assert html == factory.html(reader)
        personal, generic = factory.personal_values(reader), generic_values(issue)
        for name in ("unsubscribe_url", "preferences_url", "web_url", "space_name"):
            html = html.replace(
                html_lib.escape(personal[name], quote=True),
                html_lib.escape(generic[name], quote=True),
            )
        assert html == desk_mail
    project.close()


@pytest.mark.browser
def test_the_desk_of_a_sent_issue_shows_its_report(
    desk: tuple[Path, PreviewServer], chromium: Any
) -> None:
    root, server = desk
    assert digest(root, "send", "1")[0] == 0
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 900})
        page.goto(server.link("desk"))
        body = page.inner_text("body")
        assert "Sent: this issue no longer changes." in body
        assert "After the send" in body and "outbox" in body
        assert page.get_by_role("button", name="Approve issue 1").count() == 0
    # a change posted anyway is refused and said so
    assert post(server, {"action": "drop", "position": "1", "csrf": server.csrf}) == 303
    assert server.flash == ("issue 1 is sent: it can no longer be edited", True)


def test_the_desk_finds_stored_articles_and_adds_one(desk: tuple[Path, PreviewServer]) -> None:
    """Issue 23, day one: browse and search what was ingested, on the desk too."""
    root, server = desk
    page = get(server, "/desk?q=time+warner")
    assert 'id="h-find"' in page and 'value="time warner"' in page
    found = page.split('id="found"', 1)[1].split("</ul>", 1)[0]
    assert "Ad sales boost Time Warner profit" in found and "Add to the issue" in found
    article_id = re.search(r"article (\d+)", found).group(1)  # type: ignore[union-attr]
    fields = {"action": "add", "article": article_id, "csrf": server.csrf}
    assert post(server, fields) == 303
    assert "Ad sales boost Time Warner profit" in [s["title"] for s in show(root)["stories"]]


def test_the_desk_says_why_each_story_is_there_in_words(
    desk: tuple[Path, PreviewServer],
) -> None:
    """Issue 23: "political 0.91; merged with 2 other reports", not the ranker's "-3.30"."""
    root, server = desk
    issue = show(root)
    page = get(server, "/desk")
    stories = page.split('id="h-stories"', 1)[1].split('id="h-runners"', 1)[0]
    for story in issue["stories"]:
        assert f"Why: political {story['score']:.2f}" in stories
    runners = page.split('id="h-runners"', 1)[1].split('id="h-find"', 1)[0]
    assert issue["runners_up"], "the sample build leaves stories out"
    for runner in issue["runners_up"]:
        assert f"Why: political {runner['score']:.2f}" in runners
    # a sentence's place in the ranking, never a raw (often negative) ranker score
    assert re.search(r"ranked 1 of \d+", stories)
    assert not re.search(r'class="score">-?\d+\.\d+', stories)
    # each runner-up comes in with one form: the desk's CSRF token, "add", its article
    first = issue["runners_up"][0]
    form = (
        f'<input type="hidden" name="csrf" value="{server.csrf}">\n'
        '<input type="hidden" name="action" value="add">\n'
        f'<input type="hidden" name="article" value="{first["article_id"]}">'
    )
    assert form in runners
    assert post(server, {"action": "add", "article": str(first["article_id"])}) == 403
    assert first["title"] not in [story["title"] for story in show(root)["stories"]]
    fields = {"action": "add", "article": str(first["article_id"]), "csrf": server.csrf}
    assert post(server, fields) == 303
    after = show(root)
    assert first["title"] in [story["title"] for story in after["stories"]]
    assert first["article_id"] not in [runner["article_id"] for runner in after["runners_up"]]


def test_merged_reports_are_counted_in_words(desk: tuple[Path, PreviewServer]) -> None:
    from dataclasses import replace

    root, server = desk
    project = open_project(root)
    issue = project.store.issue(1)
    others = [runner.article_id for runner in issue.runners_up[:2]]
    lead = replace(issue.entries[0], merged_ids=others, other_sources=["a", "b"])
    store = project.store
    store.save_draft(1, subject=issue.subject, subject_custom=issue.subject_custom,
                     intro=issue.intro, entries=[lead, *issue.entries[1:]],
                     runners_up=issue.runners_up, html=issue.html, text=issue.text)  # fmt: skip
    project.close()
    assert f"political {lead.political_score:.2f}; merged with 2 other reports" in get(
        server, "/desk"
    )


@pytest.mark.browser
def test_the_preview_stays_beside_the_controls_and_a_runner_up_comes_in_with_one_click(
    desk: tuple[Path, PreviewServer], chromium: Any
) -> None:
    root, server = desk
    runner_up = show(root)["runners_up"][0]["title"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 700})
        page.goto(server.link("/desk"))
        page.mouse.wheel(0, 5000)
        page.wait_for_function("() => window.scrollY > 300")
        frame = page.locator("#issue").bounding_box()
        controls = page.locator(".controls").bounding_box()
        assert frame is not None and controls is not None
        assert 0 <= frame["y"] < 700 and frame["x"] >= controls["x"] + controls["width"]
        with page.expect_navigation():
            page.get_by_role("button", name=f"Add {runner_up} to the issue").click()
        assert "Why: political" in page.locator("#h-stories").locator("..").inner_text()
        narrow = browser.new_page(viewport={"width": 900, "height": 700})
        narrow.goto(server.link("/desk"))
        position = narrow.eval_on_selector(".view", "e => getComputedStyle(e).position")
        assert position == "static"  # below 1024 px the issue follows the controls
    assert runner_up in [story["title"] for story in show(root)["stories"]]
