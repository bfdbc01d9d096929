"""digest.sources: every format, every encoding, real HTTP on loopback, hostile input."""

from __future__ import annotations

import os
import queue
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import http_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.models import Article
from digest.sources import ParseError, ParseFailure, parse_bytes, parse_file, read_source
from digest.sources.fields import normalise_url, parse_published, split_authors

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
SEED = FIXTURES / "seed_scraped.txt"


def split(items: list[Article | ParseFailure]) -> tuple[list[Article], list[ParseFailure]]:
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, ParseFailure)],
    )


# --- the scraper's format: the seed, field by field -----------------------------------------------


def test_seed_every_field() -> None:
    article = parse_file(SEED)
    assert article.title == (
        "Putin Warns Biden of \u2018Complete Rupture\u2019 of U.S.-Russia Relationship Over Ukraine"
    )
    assert article.headline == (
        "Putin warns Biden about a 'complete rupture' of U.S. Russia Relationship over Ukraine"
    )
    assert article.authors == ["David E. Sanger", "Andrew E. Kramer"]
    assert article.source_url == (
        "https://www.nytimes.com/2021/12/30/us/politics/biden-putin-ukraine-call.html"
    )
    assert article.published == datetime(2021, 12, 31, 1, 7, 50, tzinfo=UTC)
    assert article.published.utcoffset() == timedelta(0)
    assert article.truncated is True
    assert article.warnings == ["body stops mid-sentence: marked truncated"]
    assert article.origin == str(SEED)

    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == 14
    assert paragraphs[0].startswith(
        "WASHINGTON \u2014 President Vladimir V. Putin warned President"
    )
    assert paragraphs[0].endswith("a Russian official told reporters on Thursday evening.")
    # the fragment is kept verbatim: the summariser drops it because `truncated` says so
    assert paragraphs[-1] == (
        "A senior administration official told reporters on Wednesday that the United States "
        "assessment was that Mr. Putin had not decided"
    )
    for chrome in (
        "Subscribe",
        "Privacy Policy",
        "Read More",
        "Did you miss",
        "badpoliticians",
        "By:",
        "Title:",
        "Sourced From:",
        "Published Date:",
        "Putin warns Biden about",  # the headline is not body text
    ):
        assert chrome not in article.body


def test_scraped_with_crlf_bom_and_iso_date(tmp_path: Path) -> None:
    text = (
        "Subscribe To Our Newsletter\n\nSite headline here\n\nFirst paragraph.\n\n"
        "Second paragraph, complete.\n\nBy: Jane Doe, John Roe and Ann Poe\n"
        "Title: Original title\nSourced From: Example.ORG/story?utm_medium=x&id=7\n"
        "Published Date: 2026-11-17T10:30:00+02:00\n\nRead More\n"
    )
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    article = parse_file(path)
    assert article.title == "Original title"
    assert article.headline == "Site headline here"
    assert article.authors == ["Jane Doe", "John Roe", "Ann Poe"]
    assert article.source_url == "https://example.org/story?id=7"
    assert article.published == datetime(2026, 11, 17, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    assert article.body == "First paragraph.\n\nSecond paragraph, complete."
    assert article.truncated is False
    assert article.warnings == []


def test_scraped_bad_date_is_null_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        "Headline\n\nBody text.\n\nBy: X\nTitle: T\nSourced From: x.com/a\n"
        "Published Date: sometime last week\n",
        encoding="utf-8",
    )
    article = parse_file(path)
    assert article.published is None
    assert article.warnings == ["published date not understood: 'sometime last week'"]


def test_scraped_headline_same_as_title_is_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Same Title\n\nBody text.\n\nTitle: Same title\nBy: X\n", encoding="utf-8")
    article = parse_file(path)
    assert (article.title, article.headline, article.body) == ("Same title", None, "Body text.")


def test_scraped_footer_without_body_fails(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Subscribe To Our Newsletter\n\nTitle: T\nBy: X\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.reason == "no article body before the footer"
    assert str(caught.value) == f"{path}: no article body before the footer"


FOOTER = "By: X\nTitle: Original title\nSourced From: x.com/a\nPublished Date: 2026-11-17T10:00Z\n"


def test_scraped_lede_is_not_taken_for_a_missing_headline(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        "Subscribe To Our Newsletter\n\n"
        "LONDON \u2014 The prime minister said on Monday that the bill would pass.\n\n"
        "Second paragraph, complete.\n\n" + FOOTER,
        encoding="utf-8",
    )
    article = parse_file(path)
    assert article.headline is None
    assert article.body == (
        "LONDON \u2014 The prime minister said on Monday that the bill would pass.\n\n"
        "Second paragraph, complete."
    )
    assert article.warnings == []


@pytest.mark.parametrize(
    ("first", "gap"),
    [("Will the bill pass?", "\n\n\n\n"), ("Bill passes after late-night vote", "\n\n")],
    ids=["question-set-apart", "no-final-punctuation"],
)
def test_scraped_headline_that_looks_like_one(tmp_path: Path, first: str, gap: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(f"{first}{gap}The vote was close.\n\n{FOOTER}", encoding="utf-8")
    article = parse_file(path)
    assert (article.headline, article.body) == (first, "The vote was close.")


def test_scraped_body_paragraphs_mentioning_chrome_words_are_kept(tmp_path: Path) -> None:
    privacy = (
        "The regulator said the firm's privacy policy and its terms and conditions had been "
        "rewritten twice in a year without telling users."
    )
    newsletter = (
        "Campaigners urged voters to subscribe to our newsletter, as one leaflet put it, "
        "before the deadline."
    )
    path = tmp_path / "a.txt"
    path.write_text(
        "\u00d7 UK PoliticsPrivacy PolicyTerms And Conditions\nSubscribe To Our Newsletter\n\n"
        f"Headline\n\n\n{privacy}\n\n{newsletter}\n\n{FOOTER}\nRead More\n"
        "Did you miss our previous article...\n",
        encoding="utf-8",
    )
    article = parse_file(path)
    assert article.headline == "Headline"
    assert article.body == f"{privacy}\n\n{newsletter}"


# --- plain text and encodings ---------------------------------------------------------------------


def test_plain_text_bbc_file() -> None:
    article = parse_file(FIXTURES / "bbc_politics_001.txt")
    assert article.title == "Labour plans maternity pay rise"
    assert article.body.startswith("Maternity pay for new mothers is to rise by \u00a31,400")
    assert article.body.endswith("until the baby is six months old.")
    assert article.body.count("\n\n") == 4
    assert (article.source_url, article.published, article.truncated) == (None, None, False)
    assert article.warnings == ["no source URL", "no published date"]


def test_latin1_file_is_detected() -> None:
    article = parse_file(FIXTURES / "bbc_sport_199_latin1.txt")
    assert article.title == "Chelsea sack Mutu"
    assert "a \u00a315.8m signing from Parma" in article.body
    assert "\ufffd" not in article.body


TEXT = (
    "Caf\u00e9 \u201cpolitics\u201d \u2014 \u00a35\n\nThe minister\u2019s plan costs \u00a35bn.\r\n"
)


@pytest.mark.parametrize(
    "encoded",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("cp1252"),
        TEXT.replace("\n", "\r\n").encode("utf-8"),
        TEXT.encode("utf-16"),
    ],
    ids=["utf8", "utf8-bom", "cp1252", "crlf", "utf16-bom"],
)
def test_encodings_give_the_same_article(tmp_path: Path, encoded: bytes) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(encoded)
    article = parse_file(path)
    assert article.title == "Caf\u00e9 \u201cpolitics\u201d \u2014 \u00a35"
    assert article.body == "The minister\u2019s plan costs \u00a35bn."


def test_latin1_only_bytes(tmp_path: Path) -> None:
    # 0x81 is undefined in cp1252, so this can only be latin-1
    path = tmp_path / "a.txt"
    path.write_bytes("Titre \u00e9t\u00e9\n\nCorps \u00e0 lire.".encode("latin-1") + b"\x81")
    article = parse_file(path)
    assert article.title == "Titre \u00e9t\u00e9"
    assert article.body.startswith("Corps \u00e0 lire.")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"  \n\n\t \r\n", "empty"),
        (b"Only a title line\n\n", "no body: only a title line"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20, "binary content (NUL bytes), not text"),
        (bytes(range(1, 32)) * 10, "binary content (control characters), not text"),
    ],
    ids=["empty", "whitespace", "title-only", "binary-nul", "binary-controls"],
)
def test_unparseable_files_raise_parse_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.reason == reason
    assert caught.value.origin == str(path)


def test_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Title\n\n" + "word " * 300, encoding="utf-8")
    with pytest.raises(ParseError, match=r"too large: \d+ bytes, limit 100"):
        parse_file(path, max_bytes=100)
    assert parse_file(path, max_bytes=10_000).title == "Title"


def test_missing_file() -> None:
    with pytest.raises(ParseError, match="no such file"):
        parse_file("/nonexistent/article.txt")


# --- fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "warned"),
    [
        ("Fri, 31 Dec 2021 01:07:50 +0000", datetime(2021, 12, 31, 1, 7, 50, tzinfo=UTC), False),
        (
            "31 Dec 2021 01:07 -0500",
            datetime(2021, 12, 31, 1, 7, tzinfo=timezone(timedelta(hours=-5))),
            False,
        ),
        ("2026-11-16T09:30:00Z", datetime(2026, 11, 16, 9, 30, tzinfo=UTC), False),
        ("2026-11-16 10:00 UTC", datetime(2026, 11, 16, 10, 0, tzinfo=UTC), False),
        ("Mon, 16 Nov 2026 10:00:00 GMT", datetime(2026, 11, 16, 10, 0, tzinfo=UTC), False),
        ("2026-11-16", datetime(2026, 11, 16, tzinfo=UTC), True),
        ("16 November 2026", datetime(2026, 11, 16, tzinfo=UTC), True),
        ("November 16, 2026 3:04 PM", datetime(2026, 11, 16, 15, 4, tzinfo=UTC), True),
        ("16/11/2026", datetime(2026, 11, 16, tzinfo=UTC), True),
        ("03/04/2026", None, True),  # ambiguous: refused, not guessed
        ("yesterday", None, True),
        ("0001-01-01T00:00:00+00:00", None, True),
        ("Fri, 20 Nov 2026 10:00:00 CEST", None, True),  # unknown zone: not read as UTC
        ("20 Nov 2026 10:00 BST", None, True),
        ("Fri, 20 Nov 2026 10:00:00 -0000", datetime(2026, 11, 20, 10, 0, tzinfo=UTC), False),
        (
            "Fri, 20 Nov 2026 10:00:00 EST",
            datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
            False,
        ),
        (
            "Fri, 20 Nov 2026 10:00:00 +01:00",
            datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=1))),
            False,
        ),
        (
            "Fri, 20 Nov 2026 10:00:00 +0100 (CET)",
            datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=1))),
            False,
        ),
        ("Fri, 20 Nov 2026 10:00:00 UT", datetime(2026, 11, 20, 10, 0, tzinfo=UTC), False),
        ("Fri, 20 Nov 2026 10:00:00", datetime(2026, 11, 20, 10, 0, tzinfo=UTC), True),
    ],
)
def test_parse_published(raw: str, expected: datetime | None, warned: bool) -> None:
    found, warnings = parse_published(raw)
    assert found == expected
    if found is not None:
        assert found.tzinfo is not None
    assert bool(warnings) is warned


def test_unknown_time_zone_is_null_with_a_warning_not_utc() -> None:
    assert parse_published("Fri, 20 Nov 2026 10:00:00 CEST") == (
        None,
        ["unknown time zone 'CEST' in published date 'Fri, 20 Nov 2026 10:00:00 CEST': left empty"],
    )


def test_feed_entry_with_unknown_time_zone_is_undated(tmp_path: Path) -> None:
    # feedparser itself would read CEST as UTC; its reading must not be used as a fallback
    path = tmp_path / "feed.xml"
    path.write_bytes(
        (FIXTURES / "feed_rss.xml")
        .read_bytes()
        .replace(b"Tue, 17 Nov 2026 09:00:00 +0000", b"Tue, 17 Nov 2026 09:00:00 CEST")
    )
    first = split(list(read_source(str(path))))[0][0]
    assert first.published is None
    assert any("unknown time zone 'CEST'" in w for w in first.warnings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("David E. Sanger and Andrew E. Kramer", ["David E. Sanger", "Andrew E. Kramer"]),
        ("By A. One, B. Two, and C. Three", ["A. One", "B. Two", "C. Three"]),
        ("By: Jane Doe & John Roe", ["Jane Doe", "John Roe"]),
        ("Ann; Bob; Ann", ["Ann", "Bob"]),
        (["desk@example.org (Jane Doe)", "Al Roe"], ["Jane Doe", "Al Roe"]),
        ("", []),
    ],
)
def test_split_authors(raw: str | list[str], expected: list[str]) -> None:
    assert split_authors(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("www.nytimes.com/a/b.html", "https://www.nytimes.com/a/b.html"),
        ("HTTP://WWW.X.COM:80/a?utm_source=x&b=1#frag", "http://www.x.com/a?b=1"),
        ("//cdn.example.org/x", "https://cdn.example.org/x"),
        ("http://127.0.0.1:8000/feed", "http://127.0.0.1:8000/feed"),
        # credentials and click trackers are never part of an address we store or publish
        (
            "https://ed:pw@news.example/a?id=7&apikey=SECRET&fbclid=x&gclid=y&Token=t&mc_cid=1",
            "https://news.example/a?id=7",
        ),
        ("javascript:alert(1)", None),
        ("not a url", None),
        ("word", None),
        ("", None),
    ],
)
def test_normalise_url(raw: str, expected: str | None) -> None:
    assert normalise_url(raw) == expected


# --- feeds and pages from files -------------------------------------------------------------------


def test_rss_file() -> None:
    articles, failures = split(list(read_source(str(FIXTURES / "feed_rss.xml"))))
    assert failures == []
    first, second = articles
    assert first.title == "Ministers agree & sign new housing deal"
    assert first.authors == ["Ruth Ellison", "Mark Bevan"]
    assert first.source_url == "https://westminsterwire.net/housing-deal"
    assert first.published == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert first.body == (
        "Ministers signed a housing deal on Tuesday.\n\n"
        "The plan promises 300,000 homes a year <script> and more."
    )
    assert 'alert("x")' not in first.body
    assert (first.truncated, first.warnings) == (False, [])
    assert second.authors == ["Alice Hart"]
    assert second.source_url == "https://westminsterwire.net/budget-vote"
    assert second.published is None
    assert second.truncated is True
    assert "published date not understood: 'not a date at all'" in second.warnings


def test_atom_file() -> None:
    (article,) = split(list(read_source(str(FIXTURES / "feed_atom.xml"))))[0]
    assert article.title == "Select committee publishes report on lobbying"
    assert article.authors == ["Priya Sand", "Tom Avery"]
    assert article.published == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert article.body.split("\n\n") == [
        "The committee found that the rules on lobbying were too weak.",
        "It called for a statutory register.",
    ]


def test_malformed_feed_file_is_one_failure() -> None:
    items = list(read_source(str(FIXTURES / "feed_malformed.xml")))
    assert len(items) == 1
    assert isinstance(items[0], ParseFailure)
    assert items[0].reason.startswith("malformed feed")


def test_feed_with_several_entries_is_not_one_file_article() -> None:
    with pytest.raises(ParseError, match="a feed of 2 entries"):
        parse_file(FIXTURES / "feed_rss.xml")


PROLOGUE = (
    b'<?xml-stylesheet type="text/xsl" href="/style.xsl"?>\n'
    b"<!-- generated; see https://example.org -->\n"
    b"<?generator digest-test?>\n"
)


@pytest.mark.parametrize(
    ("fixture", "root", "titles"),
    [
        (
            "feed_rss.xml",
            b"rss",
            ["Ministers agree & sign new housing deal", "Opposition demands vote on budget"],
        ),
        ("feed_atom.xml", b"feed", ["Select committee publishes report on lobbying"]),
    ],
)
def test_feed_with_stylesheet_and_doctype_subset_is_a_feed(
    tmp_path: Path, fixture: str, root: bytes, titles: list[str]
) -> None:
    doctype = b'<!DOCTYPE %s [\n  <!ENTITY nbsp "&#160;">\n  <!ENTITY copy "&#169;">\n]>\n' % root
    data = (
        (FIXTURES / fixture).read_bytes().replace(b"<" + root, PROLOGUE + doctype + b"<" + root, 1)
    )
    path = tmp_path / "feed.xml"
    path.write_bytes(data)
    articles, failures = split(list(read_source(str(path))))
    assert failures == []
    assert [a.title for a in articles] == titles


def test_utf16_feed_is_a_feed(tmp_path: Path) -> None:
    text = (FIXTURES / "feed_rss.xml").read_text(encoding="utf-8").replace("utf-8", "utf-16")
    path = tmp_path / "feed.xml"
    path.write_bytes(text.encode("utf-16"))
    assert len(split(list(read_source(str(path))))[0]) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b'<?xml version="1.0"?>\n<config>\n  <item>one</item>\n\n  <item>two</item>\n</config>',
            "XML document, not an RSS/Atom feed or HTML page (its root element is <config>)",
        ),
        (
            b'<?xml version="1.0"?>\n<?xml-stylesheet href="a.xsl"?>\n\nJust some text.\n',
            "XML document, not an RSS/Atom feed or HTML page (no root element found)",
        ),
    ],
    ids=["other-root", "no-root"],
)
def test_xml_that_is_not_a_feed_is_a_failure_not_an_article(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "data.xml"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.reason == reason


def test_xhtml_page_with_xml_declaration_is_a_page(tmp_path: Path) -> None:
    html = (FIXTURES / "page.html").read_bytes()
    path = tmp_path / "page.xml"
    path.write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC '
        b'"-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        + html.split(b">", 1)[1]  # without its own <!doctype html>
    )
    assert parse_file(path).title == "Budget row deepens"


def test_html_page_file() -> None:
    article = parse_file(FIXTURES / "page.html")
    assert article.title == "Budget row deepens"
    assert article.authors == ["Jane Doe", "John Roe"]
    assert article.source_url == "https://news.example.org/politics/budget-row"
    assert article.published == datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
    assert article.body.startswith("The chancellor faced fresh criticism on Tuesday")
    assert "Subscribe" not in article.body and "Copyright" not in article.body
    assert 'alert("x")' not in article.body
    assert "<script>alert(1)</script> was quoted" in article.body  # markup in text stays text
    assert article.body.count("\n\n") == 2


# --- a folder mixing everything -------------------------------------------------------------------


def test_folder_mixing_formats_and_broken_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    shutil.copy(SEED, folder / "seed.txt")
    shutil.copy(FIXTURES / "bbc_politics_001.txt", folder / "nested" / "bbc.txt")
    shutil.copy(FIXTURES / "bbc_sport_199_latin1.txt", folder / "nested" / "deeper" / "l1.txt")
    shutil.copy(FIXTURES / "feed_rss.xml", folder / "feed.xml")
    shutil.copy(FIXTURES / "page.html", folder / "nested" / "page.htm")
    shutil.copy(FIXTURES / "feed_malformed.xml", folder / "broken-feed.xml")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (folder / "huge.txt").write_text("Big\n\n" + "x" * 2000, encoding="utf-8")
    (folder / ".hidden" / "skipped.txt").write_text("Hidden\n\nNot read.", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")

    articles, failures = split(list(read_source(str(folder), max_bytes=1500)))
    # seed 5.4 KB is over the 1500 limit too; run again with a normal limit for the good ones
    assert {Path(f.origin).name: f.reason.split(":")[0] for f in failures} == {
        "broken-feed.xml": "malformed feed",
        "empty.txt": "empty",
        "image.png": "binary content (NUL bytes), not text",
        "huge.txt": "too large",
        "seed.txt": "too large",
        "bbc.txt": "too large",
        "l1.txt": "too large",
    }
    articles, failures = split(list(read_source(str(folder))))
    assert sorted(Path(f.origin).name for f in failures) == [
        "broken-feed.xml",
        "empty.txt",
        "image.png",
    ]
    titles = sorted(a.title for a in articles)
    assert titles == sorted(
        [
            "Big",
            "Budget row deepens",
            "Chelsea sack Mutu",
            "Labour plans maternity pay rise",
            "Ministers agree & sign new housing deal",
            "Opposition demands vote on budget",
            parse_file(SEED).title,
        ]
    )


def test_links_are_followed_inside_the_folder_only_and_loops_end(tmp_path: Path) -> None:
    outside = tmp_path / "data" / "out"
    outside.mkdir(parents=True)
    shutil.copy(SEED, outside / "seed.txt")
    (tmp_path / "digest.toml").write_text("[newsletter]\nname = 'Not an article'\n")
    folder = tmp_path / "articles"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(FIXTURES / "bbc_politics_001.txt", folder / "bbc.txt")
    shutil.copy(SEED, folder / "sub" / "seed.txt")
    os.symlink(folder / "sub", folder / "sub-again")  # a second way into the same folder
    os.symlink(folder, folder / "sub" / "up")  # a loop that stays inside
    os.symlink(tmp_path, folder / "loop")  # out: the project's own files
    os.symlink(outside, folder / "scraper")  # out: a folder to add as a source of its own
    os.symlink(tmp_path / "digest.toml", folder / "settings.txt")  # out: one file
    os.symlink(folder / "gone", folder / "dangling")
    linked_root = tmp_path / "linked"
    os.symlink(folder, linked_root)  # the source folder itself may be a link

    for root in (folder, linked_root):
        articles, failures = split(list(read_source(str(root))))
        assert sorted(a.origin or "" for a in articles) == [
            str(root / "bbc.txt"),
            str(root / "sub" / "seed.txt"),
        ]
        link_out = (
            "a link out of the source folder: not read (add its target as a source of its own)"
        )
        assert sorted((f.origin, f.reason) for f in failures) == [
            (str(root / "dangling"), "no such file"),
            (str(root / "loop"), link_out),
            (str(root / "scraper"), link_out),
            (str(root / "settings.txt"), link_out),
        ]


def test_missing_source_is_a_failure() -> None:
    assert list(read_source("/no/such/place")) == [
        ParseFailure("/no/such/place", "no such file, folder or http(s) URL")
    ]


# --- feeds and pages over real HTTP on loopback ---------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(3)
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.routes = {
        "/feed.xml": (200, "application/rss+xml", (FIXTURES / "feed_rss.xml").read_bytes()),
        "/atom": (200, "application/atom+xml", (FIXTURES / "feed_atom.xml").read_bytes()),
        "/broken.xml": (200, "application/xml", (FIXTURES / "feed_malformed.xml").read_bytes()),
        "/story": (200, "text/html; charset=utf-8", (FIXTURES / "page.html").read_bytes()),
        "/big": (200, "text/plain", b"Big\n\n" + b"word " * 5000),
    }
    with http_server(_Handler) as url:
        yield url


def test_feed_url(server: str) -> None:
    articles, failures = split(
        list(read_source(f"{server}/feed.xml", allow_private=True, timeout=5))
    )
    assert failures == []
    assert [a.title for a in articles] == [
        "Ministers agree & sign new housing deal",
        "Opposition demands vote on budget",
    ]
    assert all(a.origin == f"{server}/feed.xml" for a in articles)


def test_atom_url(server: str) -> None:
    (article,) = split(list(read_source(f"{server}/atom", allow_private=True, timeout=5)))[0]
    assert article.authors == ["Priya Sand", "Tom Avery"]


def test_page_url(server: str) -> None:
    (article,) = split(list(read_source(f"{server}/story", allow_private=True, timeout=5)))[0]
    assert article.title == "Budget row deepens"
    assert article.source_url == "https://news.example.org/politics/budget-row"
    assert article.origin == f"{server}/story"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/broken.xml", "malformed feed"),
        ("/slow", "timed out after 0.5 s"),
        ("/big", "too large"),
    ],
)
def test_bad_urls_are_one_failure_each(server: str, path: str, reason: str) -> None:
    items = list(read_source(f"{server}{path}", allow_private=True, timeout=0.5, max_bytes=10_000))
    assert len(items) == 1
    assert isinstance(items[0], ParseFailure)
    assert items[0].origin == f"{server}{path}"
    assert items[0].reason.startswith(reason)


def test_dead_feed_does_not_stop_the_others(server: str) -> None:
    sources = [
        f"{server}/missing",
        f"{server}/feed.xml",
        "http://127.0.0.1:9/feed",
        f"{server}/atom",
    ]
    items = [
        item for source in sources for item in read_source(source, timeout=2, allow_private=True)
    ]
    articles, failures = split(items)
    assert len(articles) == 3
    assert [f.origin for f in failures] == [f"{server}/missing", "http://127.0.0.1:9/feed"]
    assert failures[1].reason.startswith("cannot fetch")


class _DripHandler(BaseHTTPRequestHandler):
    """Sends the status line, then drips the headers a byte at a time for about 3 s (each byte
    well within any per-read timeout), then the rest; reports whether the client hung up first."""

    outcomes: queue.Queue[str] = queue.Queue()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        try:
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Drip: ")
            for _ in range(60):
                self.wfile.write(b"x")
                time.sleep(0.05)
            self.wfile.write(b"\r\nContent-Type: text/plain\r\n\r\nTitle\n\nA body.\n")
        except OSError:
            self.outcomes.put("client hung up")
            return
        self.outcomes.put("all sent")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_server_dripping_headers_cannot_outlast_the_timeout() -> None:
    with http_server(_DripHandler) as base:
        url = f"{base}/drip"
        items = list(read_source(url, timeout=0.5, allow_private=True))
        assert items == [ParseFailure(url, "timed out after 0.5 s")]
        assert _DripHandler.outcomes.get(timeout=10) == "client hung up"


# --- property tests: parsing never raises anything but ParseError --------------------------------


def _parse_or_parse_error(data: bytes) -> None:
    try:
        articles = parse_bytes(data, "prop")
    except ParseError as exc:
        assert exc.reason
        return
    for article in articles:
        assert article.title and article.body
        assert article.published is None or article.published.tzinfo is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    _parse_or_parse_error(data)


_LINES = st.sampled_from(
    [
        "",
        "Subscribe To Our Newsletter",
        "By: A and B",
        "Title: ",
        "Title: Something",
        "Sourced From: ",
        "Sourced From: javascript:x",
        "Sourced From: http://[::1",
        "Published Date: Fri, 31 Dec 9999 99:99:99 +9999",
        "Published Date: 2026-02-30",
        "Read More",
        "<html><body><p>x</p>",
        "<?xml version='1.0'?><rss><channel><item><title>t</title>",
        "<feed xmlns='http://www.w3.org/2005/Atom'><entry>",
        "\u00d7 Nav",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_LINES, st.text(max_size=80)), max_size=25),
    st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]),
)
def test_arbitrary_text_never_crashes(lines: list[str], encoding: str) -> None:
    _parse_or_parse_error("\n".join(lines).encode(encoding, errors="surrogatepass"))


# -- plain text with field lines at the top (issue 23) ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Parliament votes on the budget\nPublished: 2022-01-09\n\n{body}",
        "Date: 2022-01-09\nParliament votes on the budget\n\n{body}",
        "Parliament votes on the budget\n\nPublished: 9 January 2022\n\n{body}",
    ],
)
def test_a_plain_text_date_line_is_the_articles_date_not_its_text(
    tmp_path: Path, text: str
) -> None:
    body = (
        "MPs voted on the budget on Tuesday. The government won by 20 votes.\n\n"
        "The opposition said it would keep fighting the plans in committee."
    )
    path = tmp_path / "budget.txt"
    path.write_text(text.format(body=body), encoding="utf-8")
    article = parse_file(path)
    assert article.title == "Parliament votes on the budget"
    assert article.published is not None and article.published.date().isoformat() == "2022-01-09"
    assert article.body == body
    assert not article.truncated
    assert "no published date" not in article.warnings


def test_a_date_line_that_is_no_date_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("Election timetable\nDate: to be announced by the commission.\n")
    article = parse_file(path)
    assert article.published is None and "Date: to be announced" in article.body


def test_a_file_that_is_no_article_is_refused_and_named(tmp_path: Path) -> None:
    """Issue 23: `digest ingest /etc/passwd` stored it as an article."""
    passwd = tmp_path / "passwd"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
    )
    with pytest.raises(ParseError, match="not an article: no text in sentences"):
        parse_file(passwd)
    from typer.testing import CliRunner

    from digest.cli import app
    from digest.project import init_project, open_project

    root = tmp_path / "news"
    init_project(root)
    result = CliRunner().invoke(app, ["--project", str(root), "ingest", str(passwd)])
    assert result.exit_code == 1 and f"{passwd}: not an article" in result.stderr
    assert open_project(root).store.count_articles() == 0
