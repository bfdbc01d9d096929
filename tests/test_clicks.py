"""Counted story links (issue 27, docs/stats.md): the same link in every reader's copy, a 302
and one more in the store for a valid one, a 404 and no redirect for a tampered one, scanners
and HEAD set aside, and `digest report` on each backend."""

from __future__ import annotations

import json
import mailbox
import re
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path

import httpx
import pytest
from send_support import ENTRIES, add_issue, make_project
from typer.testing import CliRunner
from web_support import uvicorn_thread, web_client

from digest.cli import app
from digest.clicks import is_scanner
from digest.project import Project, open_project
from digest.web.desk_view import Preview, desk_page

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
LINK_RE = re.compile(r"https?://[^\s\"'<>]+/r/\d+/\d+/[A-Za-z0-9_-]+")


def sent_issue(root: Path, readers: int = 1, min_count: int = 0) -> tuple[Project, int]:
    """A counting project whose one issue has been sent (to the outbox)."""
    project = counting_project(root, readers, min_count)
    issue_id = project.store.latest_issue().id
    run(project, "send", str(issue_id))
    return project, issue_id


def counting_project(root: Path, readers: int = 2, min_count: int = 0) -> Project:
    project = make_project(root, readers)
    config = project.config.path
    text = config.read_text(encoding="utf-8")
    text = text.replace("clicks = false", "clicks = true")
    text = text.replace("min_count = 5", f"min_count = {min_count}")
    config.write_text(text, encoding="utf-8")
    project.close()
    return open_project(root)


def run(project: Project, *args: str) -> str:
    result = CliRunner().invoke(app, ["--project", str(project.root), *args])
    assert result.exit_code == 0, result.output
    return result.output


def parts(message: Message) -> tuple[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/html"], found["text/plain"]


def sent_links(project: Project) -> list[tuple[list[str], list[str]]]:
    """Each copy's (HTML links, text links) to /r/."""
    copies = []
    for message in mailbox.Maildir(project.outbox_dir, create=False):
        html, text = parts(message)
        copies.append((LINK_RE.findall(html), LINK_RE.findall(text)))
    return copies


def report(project: Project, *args: str) -> dict:
    return json.loads(run(project, "report", *args, "--json"))


def test_every_copy_has_the_same_story_links_and_they_count(
    tmp_path: Path, store_backend: str
) -> None:
    project = counting_project(tmp_path / "news")
    issue_id = project.store.latest_issue().id
    run(project, "send", str(issue_id))
    copies = sent_links(project)
    assert len(copies) == 2
    (html_one, text_one), (html_two, text_two) = copies
    assert html_one == html_two and text_one == text_two  # byte-identical in every copy
    assert sorted(set(html_one)) == sorted(set(text_one))
    story_one, story_two = sorted(set(text_one), key=lambda link: link.split("/")[-2])
    assert f"/r/{issue_id}/1/" in story_one and f"/r/{issue_id}/2/" in story_two
    for message in mailbox.Maildir(project.outbox_dir, create=False):
        for part in parts(message):  # the stories' own URLs are only behind the counted links
            assert ENTRIES[0].source_url not in part and ENTRIES[1].source_url not in part

    client = web_client(project, headers={"User-Agent": BROWSER})
    for _ in range(3):
        response = client.get(story_one, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == ENTRIES[0].source_url
    assert client.get(story_two, follow_redirects=False).headers["location"] == (
        ENTRIES[1].source_url
    )
    head = client.head(story_one, follow_redirects=False)
    assert head.status_code == 302
    scanner = client.get(
        story_two,
        headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"},
        follow_redirects=False,
    )
    assert scanner.status_code == 302
    mac = story_one.rsplit("/", 1)[1]
    tampered = story_one[: -len(mac)] + ("A" if mac[0] != "A" else "B") + mac[1:]
    wrong_story = story_one.replace(f"/r/{issue_id}/1/", f"/r/{issue_id}/2/")
    no_story = story_one.replace(f"/r/{issue_id}/1/", f"/r/{issue_id}/3/")
    for bad in (tampered, wrong_story, no_story, story_one.replace(f"/r/{issue_id}/", "/r/99/")):
        response = client.get(bad, follow_redirects=False)
        assert response.status_code == 404
        assert "location" not in response.headers

    got = report(project, str(issue_id))
    assert [s["clicks"] for s in got["stories"]] == [3, 1]
    assert [s["share"] for s in got["stories"]] == [0.75, 0.25]
    assert got["clicks"] == 4 and got["set_aside"] == 2
    trend = report(project, "--trend")
    assert [(i["issue"], i["clicks"]) for i in trend["issues"]] == [(issue_id, 4)]
    assert {s["source"]: s["clicks"] for s in trend["sources"]} == {
        ENTRIES[0].source_name: 3,
        ENTRIES[1].source_name: 1,
    }
    assert "3" in run(project, "report", str(issue_id))  # the text report reads too


def test_concurrent_follows_lose_no_increment(tmp_path: Path, store_backend: str) -> None:
    project, issue_id = sent_issue(tmp_path / "news")
    [(_, [link, *_])] = sent_links(project)
    path = link.split("://", 1)[1].split("/", 1)[1]
    with uvicorn_thread(project) as base:

        def follow(_: int) -> int:
            with httpx.Client(headers={"User-Agent": BROWSER}, timeout=30) as http:
                return http.get(f"{base}/{path}").status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(follow, range(200)))
    assert statuses == [302] * 200
    assert report(project, str(issue_id))["stories"][0]["clicks"] == 200


def test_with_the_setting_off_links_go_straight_to_the_story(tmp_path: Path) -> None:
    project = make_project(tmp_path / "news", 1)
    run(project, "send", str(project.store.latest_issue().id))
    [message] = mailbox.Maildir(project.outbox_dir, create=False)
    html, text = parts(message)
    assert "/r/" not in html and "/r/" not in text
    assert ENTRIES[0].source_url in text and ENTRIES[0].source_url in html


def test_small_counts_are_shown_as_below_the_floor(tmp_path: Path) -> None:
    project, issue_id = sent_issue(tmp_path / "news", min_count=5)
    for _ in range(6):
        project.store.count_story_click(issue_id, 1)
    project.store.count_story_click(issue_id, 2)
    got = report(project)
    assert [s["clicks"] for s in got["stories"]] == [6, "< 5"]
    assert got["stories"][1]["share"] is None  # a share would give the hidden count away
    assert "< 5" in run(project, "report")


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "Mozilla/5.0 (compatible; Microsoft Office SafeLinks)",
        "Proofpoint URL Defense",
        "Mimecast URL Protect",
        "Barracuda Sentinel (EE)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slack-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; link preview)",
    ],
)
def test_scanners_are_recognised(agent: str) -> None:
    assert is_scanner(agent)


@pytest.mark.parametrize(
    "agent",
    [
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ],
)
def test_browsers_are_readers(agent: str) -> None:
    assert not is_scanner(agent)


def test_an_issue_digest_run_builds_and_sends_at_once_has_counted_links(tmp_path: Path) -> None:
    project = counting_project(tmp_path / "news", readers=2)
    articles = Path(__file__).parent.parent / "examples" / "articles"
    run(project, "run", "--articles", str(articles), "--as-of", "2026-11-20T18:00:00+00:00")
    issue = project.store.latest_issue()
    assert issue.key == "2026-W47" and issue.status == "sent"
    copies = sent_links(project)
    assert len(copies) == 2 and copies[0] == copies[1]
    html_links, text_links = copies[0]
    stories = {f"/r/{issue.id}/{n}/" for n in range(1, len(issue.entries) + 1)}
    assert {link.split("8080", 1)[1].rsplit("/", 1)[0] + "/" for link in text_links} == stories
    assert set(html_links) == set(text_links)


def test_the_desk_says_how_a_drafts_sources_did_before(tmp_path: Path) -> None:
    project, sent_id = sent_issue(tmp_path / "news")
    for _ in range(3):
        project.store.count_story_click(sent_id, 1)
    draft_id = add_issue(project, "2026-W11")
    shown = json.loads(run(project, "issue", "show", str(draft_id), "--json"))
    assert [s["source_history"] for s in shown["stories"]] == [
        "stories from this source: median 3 clicks (1 sent)",
        "stories from this source: median 0 clicks (1 sent)",
    ]
    assert "stories from this source: median 3 clicks" in run(project, "issue", "show")
    draft = project.store.issue(draft_id)
    page = desk_page(Preview(draft, project.config, project.template_dirs, project.root), "c", None)
    assert "stories from this source: median 3 clicks (1 sent)" in page
