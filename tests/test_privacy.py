"""Nothing private published, nothing internal fetched: driven through the CLI against real
loopback servers and real folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import http_server
from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project
from digest.sources import parse_file

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "articles"
AS_OF = "2026-11-21T00:00:00+00:00"
runner = CliRunner()


def _rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS feed of (title, link, body) items, all published on 17 November 2026."""
    published = format_datetime(datetime(2026, 11, 17, 16, 5, tzinfo=UTC))
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<pubDate>{published}</pubDate><description>{escape(body)}</description></item>"
        for title, link, body in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example/</link>{entries}</channel></rss>"
    ).encode()


class _Feeds(BaseHTTPRequestHandler):
    """Feeds whose own URLs carry an API key in the query string, as paid feeds do."""

    routes: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.routes.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def keyed_feeds() -> Iterator[str]:
    story = parse_file(EXAMPLES / "2026-11-17_asylum.txt")
    _Feeds.routes = {
        "/wire.xml?apikey=SECRET-WIRE-KEY": _rss(
            (story.title, "https://wire.example/asylum?utm_source=rss&fbclid=CLICK", story.body)
        ),
        # another site re-runs the same text, its link carrying a reader's session token
        "/other.xml?token=SECRET-OTHER-TOKEN": _rss(
            (
                story.title,
                "https://reader:pw@other.example/asylum-row?token=SECRET-LINK&gclid=AD",
                story.body,
            )
        ),
    }
    with http_server(_Feeds) as base:
        yield base


def test_a_feed_url_and_its_key_are_never_published(tmp_path: Path, keyed_feeds: str) -> None:
    root = tmp_path / "news"
    init_project(root)
    feeds = [f"{keyed_feeds}/wire.xml?apikey=SECRET-WIRE-KEY"]
    feeds.append(f"{keyed_feeds}/other.xml?token=SECRET-OTHER-TOKEN")
    ingested = runner.invoke(app, ["--project", str(root), "ingest", *feeds])
    assert ingested.exit_code == 0, ingested.output
    out = tmp_path / "out"
    built = runner.invoke(
        app, ["--project", str(root), "build", "--as-of", AS_OF, "--out", str(out)]
    )
    assert built.exit_code == 0, built.output
    html, text = (out / "issue.html").read_text(), (out / "issue.txt").read_text()
    [entry] = json.loads((out / "issue.json").read_text())["articles"]
    # the other site that ran the story is named, by its article's clean address only
    assert entry["source_url"] == "https://wire.example/asylum"
    assert entry["other_sources"] == ["https://other.example/asylum-row"]
    assert "Also reported by" in text and "other.example" in text
    published = html + text + json.dumps(entry)
    feed_host = keyed_feeds.removeprefix("http://")
    for private in ("SECRET", "apikey", "token=", feed_host, "reader:pw", "fbclid", "gclid"):
        assert private not in published
