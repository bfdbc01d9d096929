"""The archive as an Atom feed at /archive/feed.xml (issue 23, day one): valid for feedparser,
one entry per sent issue, titles escaped, drafts never in it."""

from __future__ import annotations

from pathlib import Path

import feedparser
from send_support import add_issue, make_project
from typer.testing import CliRunner
from web_support import SECRET, web_client

from digest.cli import app
from digest.project import open_project


def test_the_archive_feed_lists_sent_issues_only(
    tmp_path: Path, monkeypatch, store_backend: str
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    project = make_project(tmp_path / "p", 2)
    runner = CliRunner()
    root = ["--project", str(project.root)]
    subject = runner.invoke(app, [*root, "issue", "subject", "1", "Tom & Jerry <b>at</b> No 10"])
    assert subject.exit_code == 0, subject.output
    assert runner.invoke(app, [*root, "send", "1"]).exit_code == 0
    project = open_project(project.root)
    add_issue(project, "2026-W11")  # a draft: not public
    with web_client(project) as client:
        response = client.get("/archive/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title == "The Political Digest" and feed.feed.author
    (entry,) = feed.entries
    assert entry.title == "Tom & Jerry <b>at</b> No 10"
    assert entry.link == "http://127.0.0.1:8080/issues/1" and entry.id == entry.link
    assert entry.updated_parsed and "Parliament passes the budget" in entry.summary
    assert b"<b>at</b>" not in response.content  # escaped by the serialiser
