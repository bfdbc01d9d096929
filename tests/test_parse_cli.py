"""`digest parse` and `digest ingest` through the real CLI."""

from __future__ import annotations

import json
import queue
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import allow_loopback_sources, http_server
from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project, open_project

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SEED = FIXTURES / "seed_scraped.txt"
EXAMPLES = Path(__file__).parent.parent / "examples" / "articles"
SEED_TITLE = (
    "Putin Warns Biden of \u2018Complete Rupture\u2019 of U.S.-Russia Relationship Over Ukraine"
)
KEYS = ["path", "title", "authors", "source_url", "published", "body", "truncated", "warnings"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_parse_seed_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", str(SEED), "--json"])
    assert result.exit_code == 0, result.output
    (line,) = json_lines(result.stdout)
    assert list(line) == KEYS
    assert line["path"] == str(SEED)
    assert line["title"] == (
        "Putin Warns Biden of \u2018Complete Rupture\u2019 of U.S.-Russia Relationship Over Ukraine"
    )
    assert line["authors"] == ["David E. Sanger", "Andrew E. Kramer"]
    assert line["source_url"] == (
        "https://www.nytimes.com/2021/12/30/us/politics/biden-putin-ukraine-call.html"
    )
    assert line["published"] == "2021-12-31T01:07:50+00:00"
    assert line["truncated"] is True
    assert line["warnings"] == ["body stops mid-sentence: marked truncated"]
    body = str(line["body"])
    assert body.startswith("WASHINGTON \u2014 President Vladimir V. Putin")
    assert body.endswith("that Mr. Putin had not decided")
    assert "Subscribe" not in body and "Read More" not in body and "Title:" not in body


def test_parse_bad_inputs_named_on_stderr_rest_go_on(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    big = tmp_path / "big.txt"
    big.write_text("Big\n\n" + "word " * 100, encoding="utf-8")
    no_body = tmp_path / "title-only.txt"
    no_body.write_text("Just a title\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "parse",
            str(empty),
            str(SEED),
            str(binary),
            str(big),
            str(no_body),
            str(tmp_path / "missing.txt"),
            str(FIXTURES / "bbc_politics_001.txt"),
            "--json",
            "--max-bytes",
            "10000",
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert [line["title"] for line in json_lines(result.stdout)] == [
        SEED_TITLE,
        "Big",
        "Labour plans maternity pay rise",
    ]
    assert result.stderr.splitlines() == [
        f"{empty}: empty",
        f"{binary}: binary content (NUL bytes), not text",
        f"{no_body}: no body: only a title line",
        f"{tmp_path / 'missing.txt'}: no such file, folder or http(s) URL",
    ]
    small = runner.invoke(app, ["parse", str(big), "--json", "--max-bytes", "100"])
    assert small.exit_code == 1
    assert small.stderr.strip() == f"{big}: too large: {big.stat().st_size} bytes, limit 100"
    assert small.stdout == ""


def test_parse_human_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", str(EXAMPLES)])
    assert result.exit_code == 0
    assert result.stdout == ""  # human output goes to stderr
    assert "truncated" in result.stderr


def test_parse_feed_file_one_line_per_entry(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", str(FIXTURES / "feed_rss.xml"), "--json"])
    assert result.exit_code == 0
    lines = json_lines(result.stdout)
    assert [line["published"] for line in lines] == ["2026-11-17T09:00:00+00:00", None]


def test_parse_needs_an_input(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", "--json"])
    assert result.exit_code == 2


def test_examples_are_one_week_with_one_truncated(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", str(EXAMPLES), "--json"])
    assert result.exit_code == 0
    lines = json_lines(result.stdout)
    assert 6 <= len(lines) <= 8
    dates = sorted(datetime.fromisoformat(str(line["published"])) for line in lines)
    assert (dates[-1] - dates[0]).days < 7
    assert [Path(str(line["path"])).name for line in lines if line["truncated"]] == [
        "2026-11-20_gibraltar.txt"
    ]
    assert all(line["warnings"] == [] for line in lines if not line["truncated"])


# --- ingest ---------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    init_project(root).close()
    return root


def test_ingest_examples_dedupes_and_is_idempotent(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(EXAMPLES, folder)
    # the scraper delivered the same article twice under two names
    shutil.copy(folder / "2026-11-16_maternity-pay.txt", folder / "2026-11-16_maternity-copy.txt")
    result = runner.invoke(app, ["--project", str(project), "ingest", str(folder)])
    assert result.exit_code == 0, result.output
    files = len(list(folder.glob("*.txt")))
    assert f"added {files - 1}, already known 1, failed 0" in result.stderr

    again = runner.invoke(app, ["--project", str(project), "ingest", str(folder)])
    assert again.exit_code == 0
    assert f"added 0, already known {files}, failed 0" in again.stderr

    opened = open_project(project)
    try:
        assert opened.store.count_articles() == files - 1
        week = opened.store.articles_published_between(
            datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
        )
        (maternity,) = [a for a in week if a.title == "Labour plans maternity pay rise"]
        carried_by = {Path(s).name for s in opened.store.article_origins(maternity.id or 0)}
        assert carried_by == {"2026-11-16_maternity-pay.txt", "2026-11-16_maternity-copy.txt"}
    finally:
        opened.close()


def test_ingest_config_sources_and_broken_file(runner: CliRunner, project: Path) -> None:
    articles = project / "articles"
    shutil.copy(SEED, articles / "seed.txt")
    (articles / "broken.txt").write_bytes(b"\x00\x01\x02")
    result = runner.invoke(app, ["--project", str(project), "ingest"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{articles.resolve() / 'broken.txt'}: binary content" in result.stderr
    assert "added 1, already known 0, failed 1" in result.stderr


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(FIXTURES / "feed_atom.xml", root / "atom.xml")
    shutil.copy(FIXTURES / "page.html", root / "story.html")

    def handler(*args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    with http_server(handler) as url:
        yield url


def test_ingest_urls_with_a_dead_feed(runner: CliRunner, project: Path, served: str) -> None:
    urls = [f"{served}/gone.xml", f"{served}/atom.xml", f"{served}/story.html"]
    allow_loopback_sources(project)
    result = runner.invoke(app, ["--project", str(project), "ingest", *urls, "--timeout", "5"])
    assert result.exit_code == 1
    assert f"{served}/gone.xml: HTTP 404 File not found" in result.stderr
    assert "added 2, already known 0, failed 1" in result.stderr


class _SlowDripHandler(BaseHTTPRequestHandler):
    """Promises a large body, then drips it a byte at a time for about 3 s (each byte well within
    any per-read timeout) before sending the rest; reports whether the client hung up first."""

    outcomes: queue.Queue[str] = queue.Queue()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"Title\n\n" + b"word " * 20_000
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for index in range(60):
                self.wfile.write(body[index : index + 1])
                time.sleep(0.05)
            self.wfile.write(body[60:])
        except OSError:
            self.outcomes.put("client hung up")
            return
        self.outcomes.put("all sent")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_parse_url_slow_drip_times_out(runner: CliRunner) -> None:
    with http_server(_SlowDripHandler) as base:
        url = f"{base}/story.txt"
        result = runner.invoke(app, ["parse", url, "--timeout", "1", "--json", "--allow-private"])
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [f"{url}: timed out after 1 s"]
        # the fetch gave up on its own deadline rather than waiting for the server to finish
        assert _SlowDripHandler.outcomes.get(timeout=10) == "client hung up"


def _headline_feed(root: Path, served: str) -> None:
    (root / "headlines.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<item><title>Committee hears lobbying evidence</title><link>{served}/story.html</link>"
        "<pubDate>Wed, 18 Nov 2026 09:00:00 +0000</pubDate></item></channel></rss>"
    )


def test_ingest_follows_headline_only_entries_when_the_project_says_so(
    runner: CliRunner, project: Path, served: str, tmp_path: Path
) -> None:
    _headline_feed(tmp_path / "www", served)
    allow_loopback_sources(project)
    feed = f"{served}/headlines.xml"
    unread = runner.invoke(app, ["--project", str(project), "ingest", feed])
    assert unread.exit_code == 1
    assert f"{feed}: 1 feed entry has only a headline and a link, no text" in unread.stderr

    config = project / "digest.toml"
    config.write_text(config.read_text().replace("follow_links = false", "follow_links = true"))
    followed = runner.invoke(app, ["--project", str(project), "ingest", feed])
    assert followed.exit_code == 0, followed.output
    assert "added 1, already known 0, failed 0" in followed.stderr


def test_parse_follow_links(runner: CliRunner, served: str, tmp_path: Path) -> None:
    _headline_feed(tmp_path / "www", served)
    feed = f"{served}/headlines.xml"
    result = runner.invoke(app, ["parse", feed, "--json", "--allow-private", "--follow-links"])
    assert result.exit_code == 0, result.output
    (line,) = json_lines(result.stdout)
    assert line["title"] == "Committee hears lobbying evidence"
    assert line["path"] == f"{served}/story.html"
    assert str(line["body"]).strip()
