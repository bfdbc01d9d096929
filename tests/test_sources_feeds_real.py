"""Feeds as real publishers write them: bad fields, odd dates, relative links, wide encodings,
headline-only entries. Every fixture is written here by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import http_server

from digest.models import Article
from digest.sources import ParseError, ParseFailure, parse_bytes, read_source


def split(items: list[Article | ParseFailure]) -> tuple[list[Article], list[ParseFailure]]:
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, ParseFailure)],
    )


def rss(items: str, channel: str = "", root_attrs: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{root_attrs}><channel>'
        f"<title>Hand-made wire</title>{channel}{items}</channel></rss>"
    ).encode()


def item(
    title: str = "Council votes on budget", link: str = "", date: str = "", text: str = ""
) -> str:
    parts = [f"<title>{title}</title>"]
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if text:
        parts.append(f"<description>{text}</description>")
    return "<item>" + "".join(parts) + "</item>"


TEXT = "The council voted on the budget on Tuesday evening."


# --- one bad field costs that field ---------------------------------------------------------------


def test_an_impossible_date_costs_that_date_not_the_feed() -> None:
    data = rss(
        item("First", "https://a.example.org/1", "9999-12-31T23:59:59-99:99", TEXT)
        + item("Second", "https://a.example.org/2", "Tue, 17 Nov 2026 09:00:00 +0000", TEXT)
    )
    first, second = parse_bytes(data, "feed.xml")
    assert first.title == "First" and first.published is None
    assert any("9999-12-31" in w and "date" in w for w in first.warnings)
    assert first.source_url == "https://a.example.org/1"
    assert second.published == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "2013-xx-27",
        "22013",
        "2003-12-31T25:14:55Z",
        "2004-j\u00falius-23T18:15+01:00",
        "Di, 17 Dez 2026 09:00:00 +0100",
    ],
)
def test_dates_are_read_or_absent_with_a_warning_never_guessed(raw: str) -> None:
    (article,) = parse_bytes(rss(item(date=raw, text=TEXT, link="https://a.example.org/")))
    assert article.published is None
    assert any(raw[:20] in w for w in article.warnings), article.warnings


# --- titles are text ------------------------------------------------------------------------------


def test_plain_text_title_keeps_angle_brackets() -> None:
    (article,) = parse_bytes(
        rss(item("Why Vec&lt;T&gt; beats arrays", "https://a.example.org/", text=TEXT))
    )
    assert article.title == "Why Vec<T> beats arrays"


def test_atom_titles_follow_their_declared_type() -> None:
    data = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>'
        b'<entry><title type="html">&lt;b&gt;Bold&lt;/b&gt; move &amp;amp; more</title>'
        b'<link href="https://a.example.org/1"/><content>' + TEXT.encode() + b"</content></entry>"
        b'<entry><title type="text">Option&lt;T&gt; &amp; Result</title>'
        b'<link href="https://a.example.org/2"/><content>' + TEXT.encode() + b"</content></entry>"
        b"</feed>"
    )
    html_title, text_title = parse_bytes(data)
    assert html_title.title == "Bold move & more"
    assert text_title.title == "Option<T> & Result"


# --- relative links -------------------------------------------------------------------------------


def test_relative_links_resolve_against_xml_base() -> None:
    data = rss(
        item("A", "/news/2021/12/31/story.html", text=TEXT) + item("B", "story2.html", text=TEXT),
        root_attrs=' xml:base="https://base.example.org/section/"',
    )
    assert [a.source_url for a in parse_bytes(data)] == [
        "https://base.example.org/news/2021/12/31/story.html",
        "https://base.example.org/section/story2.html",
    ]


def test_relative_links_resolve_against_the_feeds_own_link() -> None:
    data = rss(
        item("A", "/news/story.html", text=TEXT)
        + item("B", "story2.html", text=TEXT)
        + item("C", "site.example.org/c", text=TEXT),
        channel="<link>https://site.example.org/</link>",
    )
    assert [a.source_url for a in parse_bytes(data)] == [
        "https://site.example.org/news/story.html",
        "https://site.example.org/story2.html",
        "https://site.example.org/c",
    ]


def test_relative_links_with_nothing_to_resolve_against_are_dropped_not_invented() -> None:
    first, second = parse_bytes(
        rss(item("A", "/news/story.html", text=TEXT) + item("B", "story2.html", text=TEXT))
    )
    assert (first.source_url, second.source_url) == (None, None)
    assert any("relative link 'story2.html'" in w for w in second.warnings)


class _Routes(BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        content_type, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


PAGE = (
    "<!doctype html><html><head><title>Budget vote | Site</title>"
    '<meta name="author" content="Jo Page"></head><body><article><h1>Budget vote</h1>'
    + "<p>The council voted on the budget on Tuesday evening after a long debate.</p>" * 3
    + "</article></body></html>"
).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Routes.routes = {
        "/feeds/rss.xml": (
            "application/rss+xml",
            rss(
                item("A", "/news/2021/12/31/story.html", text=TEXT)
                + item("B", "story2.html", text=TEXT)
            ),
        ),
        "/feeds/headlines.xml": (
            "application/rss+xml",
            rss(
                item(
                    "Budget passes after a long night",
                    "/pages/budget.html",
                    "Tue, 17 Nov 2026 09:00:00 +0000",
                )
                + item("Gone away", "/pages/missing.html")
            ),
        ),
        "/pages/budget.html": ("text/html; charset=utf-8", PAGE),
    }
    with http_server(_Routes) as url:
        yield url


def test_relative_links_resolve_against_the_url_fetched(server: str) -> None:
    articles, failures = split(list(read_source(f"{server}/feeds/rss.xml", allow_private=True)))
    assert failures == []
    assert [a.source_url for a in articles] == [
        f"{server}/news/2021/12/31/story.html",
        f"{server}/feeds/story2.html",
    ]


# --- encodings and XML sniffing -------------------------------------------------------------------


FEED_TEXT = rss(item("Caf\u00e9 politics", "https://a.example.org/", text=TEXT)).decode()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_wide_encodings_without_a_byte_order_mark_are_feeds(encoding: str, declared: bool) -> None:
    text = FEED_TEXT.replace("utf-8", encoding[:6]) if declared else FEED_TEXT.split("?>", 1)[1]
    (article,) = parse_bytes(text.encode(encoding), "feed.xml")
    assert article.title == "Caf\u00e9 politics"


def test_feed_opening_with_a_comment_and_no_declaration_is_a_feed() -> None:
    data = b"<!-- generated by hand -->\n" + FEED_TEXT.split("?>", 1)[1].encode()
    (article,) = parse_bytes(data)
    assert article.title == "Caf\u00e9 politics"


def test_cdf_channel_is_a_feed() -> None:
    data = (
        b'<CHANNEL HREF="https://cdf.example.org/index.html">\n<TITLE>Channel</TITLE>\n'
        b'<ITEM HREF="https://cdf.example.org/a.html" LASTMOD="2026-11-17T12:00+00:00">'
        b"<TITLE>Vote delayed</TITLE><ABSTRACT>The vote was delayed until Friday.</ABSTRACT>"
        b"</ITEM>\n</CHANNEL>\n"
    )
    (article,) = parse_bytes(data, "channel.cdf")
    assert (article.title, article.source_url) == ("Vote delayed", "https://cdf.example.org/a.html")
    assert article.published == datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def test_other_xml_without_a_declaration_is_refused_not_an_article_titled_with_markup() -> None:
    with pytest.raises(ParseError, match=r"XML document.*<config>"):
        parse_bytes(b"<!-- settings -->\n<config>\n  <item>one</item>\n</config>\n")


# --- headline-only feeds --------------------------------------------------------------------------


def test_headline_only_feed_says_it_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "headlines.xml"
    path.write_bytes(
        rss(item("A", "https://a.example.org/1") + item("B", "https://a.example.org/2"))
    )
    (failure,) = list(read_source(str(path)))
    assert isinstance(failure, ParseFailure)
    assert failure.reason.startswith("2 feed entries have only a headline and a link, no text")
    assert "follow_links = true" in failure.reason


def test_headline_only_entries_beside_full_ones_are_reported_too(tmp_path: Path) -> None:
    path = tmp_path / "mixed.xml"
    path.write_bytes(
        rss(item("A", "https://a.example.org/1", text=TEXT) + item("B", "https://a.example.org/2"))
    )
    articles, failures = split(list(read_source(str(path))))
    assert [a.title for a in articles] == ["A"]
    assert [f.reason.split(",")[0] for f in failures] == [
        "1 feed entry has only a headline and a link"
    ]


def test_follow_links_fetches_the_pages_of_headline_only_entries(server: str) -> None:
    feed = f"{server}/feeds/headlines.xml"
    articles, failures = split(list(read_source(feed, allow_private=True, follow_links=True)))
    (article,) = articles
    assert article.title == "Budget passes after a long night"
    assert article.body.startswith("The council voted on the budget")
    assert article.authors == ["Jo Page"]
    assert article.published == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert article.origin == f"{server}/pages/budget.html"
    assert [(f.origin, f.reason) for f in failures] == [
        (f"{server}/pages/missing.html", f"linked from {feed}: HTTP 404 Not Found")
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_feed_of_mostly_non_ascii_text_is_sniffed_from_its_first_bytes(encoding: str) -> None:
    title = "预算" * 200  # few zero bytes overall: only the opening `<` tells the encoding
    text = rss(item(title, "https://a.example.org/", text="市议会星期二开会。" * 50)).decode()
    (article,) = parse_bytes(text.split("?>", 1)[1].encode(encoding), "feed.xml")
    assert article.title == title
