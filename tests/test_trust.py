"""Trust in operation: nothing private published, nothing internal fetched, state kept private
and failing in one line; driven through the CLI against real loopback servers and folders."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import allow_loopback_sources, http_server
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
    allow_loopback_sources(root)
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


class _Internal(BaseHTTPRequestHandler):
    """Stands for an internal service (cloud metadata, an admin page): counts who reached it."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        body = b"Internal\n\nsecret-instance-credentials " * 20
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Redirector(BaseHTTPRequestHandler):
    """A feed host that answers every request with a redirect to `target`."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _ingest(root: Path, *sources: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--project", str(root), "ingest", *sources, "--timeout", "5"])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


def test_loopback_feed_is_refused_after_resolving_its_name(tmp_path: Path) -> None:
    init_project(tmp_path)
    _Internal.requests = []
    with http_server(_Internal) as base:
        port = base.rsplit(":", 1)[1]
        code, err = _ingest(tmp_path, f"http://localhost:{port}/latest/meta-data/")
    assert code == 1
    assert f"http://localhost:{port}/latest/meta-data/: refused to connect to localhost:" in err
    assert "loopback address" in err and "allow_private" in err
    assert _Internal.requests == []  # never connected
    assert "added 0" in err


def test_every_redirect_hop_is_checked(tmp_path: Path) -> None:
    """The feed host is allowed (127.0.0.1 only); its redirect to another internal address
    (127.0.0.2, as a redirect to 169.254.169.254 would be) is refused before connecting."""
    init_project(tmp_path)
    allow_loopback_sources(tmp_path)
    _Internal.requests = []
    with (
        http_server(_Internal, host="127.0.0.2") as internal,
        http_server(_Redirector) as feed_host,
    ):
        _Redirector.target = f"{internal}/computeMetadata/v1/"
        code, err = _ingest(tmp_path, f"{feed_host}/feed.xml")
        assert code == 1
        assert f"{feed_host}/feed.xml: refused to connect to 127.0.0.2" in err
        assert "127.0.0.2 is a loopback address" in err
        assert _Internal.requests == []
        # with the whole private space allowed the same redirect is followed
        config = tmp_path / "digest.toml"
        config.write_text(config.read_text().replace('["127.0.0.1/32"]', "true"))
        code, err = _ingest(tmp_path, f"{feed_host}/feed.xml")
        assert code == 0 and "added 1" in err, err
        assert _Internal.requests == ["/computeMetadata/v1/"]


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("224.0.0.1", "multicast"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_are_not_public(address: str, refused: str | None) -> None:
    from digest.sources.fetch import non_public_reason

    reason = non_public_reason(address)
    assert (reason is None) if refused is None else (reason and refused in reason)
    assert non_public_reason(address, allow_private=True) is None


def test_allow_private_must_be_a_switch_or_networks(tmp_path: Path) -> None:
    init_project(tmp_path)
    config = tmp_path / "digest.toml"
    config.write_text(config.read_text().replace("allow_private = false", 'allow_private = "yes"'))
    result = runner.invoke(app, ["--project", str(tmp_path), "ingest"])
    assert result.exit_code == 2
    assert "`sources.allow_private` must be true, false or a list of networks" in result.stderr


def test_a_link_out_of_the_articles_folder_reads_nothing_of_the_project(tmp_path: Path) -> None:
    init_project(tmp_path)
    articles = tmp_path / "articles"
    (articles / "2026-11-17_asylum.txt").write_bytes(
        (EXAMPLES / "2026-11-17_asylum.txt").read_bytes()
    )
    (articles / "loop").symlink_to("..")
    (tmp_path / "subscribers" / "readers.csv").write_text("email,name\nann@example.org,Ann\n")
    result = runner.invoke(app, ["--project", str(tmp_path), "ingest"])
    assert result.exit_code == 1, result.output
    assert f"{articles.resolve() / 'loop'}: a link out of the source folder: not read" in (
        result.stderr
    )
    assert "added 1, already known 0, failed 1" in result.stderr
    listed = runner.invoke(app, ["--project", str(tmp_path), "parse", str(articles), "--json"])
    assert [json.loads(line)["title"] for line in listed.stdout.splitlines()] == [
        "Howard rebuts asylum criticisms"
    ]


def test_a_file_name_cannot_forge_a_line_of_output(tmp_path: Path) -> None:
    init_project(tmp_path)
    forged = "x.txt\nadded 99, already known 0, failed 0\n\u202etxt.exe"
    (tmp_path / "articles" / forged).write_bytes(b"\x00\x01 binary")
    result = runner.invoke(app, ["--project", str(tmp_path), "ingest"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == [
        f"{(tmp_path / 'articles').resolve()}/x.txt\\nadded 99, already known 0, failed 0\\n"
        "\\u202etxt.exe: binary content (NUL bytes), not text",
        "added 0, already known 0, failed 1",
    ]


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022: what leaves files world-readable unless a program says otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_is_owner_only(tmp_path: Path, usual_umask: None) -> None:
    root = tmp_path / "news"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    state = root / ".digest"
    assert _mode(state) == 0o700
    assert _mode(state / "digest.sqlite3") == 0o600
    assert runner.invoke(app, ["--project", str(root), "ingest"]).exit_code == 0


def test_state_left_readable_by_an_older_digest_is_tightened(
    tmp_path: Path, usual_umask: None
) -> None:
    root = tmp_path / "news"
    init_project(root)
    state = root / ".digest"
    database = state / "digest.sqlite3"
    # another process holds the database open, so its WAL and shared-memory files exist
    holder = sqlite3.connect(database)
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("CREATE TABLE IF NOT EXISTS held (x)")
        files = [database, state / "digest.sqlite3-wal", state / "digest.sqlite3-shm"]
        for path in files:
            path.chmod(0o644)
        state.chmod(0o755)
        result = runner.invoke(app, ["--project", str(root), "ingest"])
        assert result.exit_code == 0, result.output
        assert _mode(state) == 0o700
        assert [_mode(path) for path in files] == [0o600, 0o600, 0o600]
    finally:
        holder.close()


def test_a_damaged_database_page_is_one_line_and_exit_2(tmp_path: Path) -> None:
    init_project(tmp_path)
    assert runner.invoke(app, ["--project", str(tmp_path), "ingest", str(EXAMPLES)]).exit_code == 0
    database = tmp_path / ".digest" / "digest.sqlite3"
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        [root_page] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'")
    db.close()
    with database.open("r+b") as file:  # a page in the middle of the file, not the header
        file.seek(page_size * (root_page[0] - 1))
        file.write(b"\xff" * page_size)
    result = runner.invoke(app, ["--project", str(tmp_path), "build", "--as-of", AS_OF])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {database}: the state store is damaged (database disk image is malformed); "
        "restore it from a backup (`sqlite3 FILE .recover` may save what is left)"
    ]
