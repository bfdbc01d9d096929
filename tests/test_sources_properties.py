"""Property tests: whatever the bytes, `read_source` gives one article or one failure per input
file, never an exception (random bytes, random XML, random dates)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.models import Article
from digest.sources import ParseFailure, read_source
from digest.sources.fields import parse_published

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_one_file(data: bytes, name: str = "input") -> list[Article | ParseFailure]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        items = list(read_source(str(path)))
    for item in items:
        assert isinstance(item, Article | ParseFailure)
        if isinstance(item, ParseFailure):
            assert item.reason and "unexpected error" not in item.reason, item.reason
        else:
            assert item.title.strip() and item.body.strip()
            assert item.published is None or item.published.utcoffset() is not None
    return items


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from(["input", "page.html", "feed.xml", "a.txt"]))
def test_random_bytes_give_one_article_or_one_failure(data: bytes, name: str) -> None:
    assert len(read_one_file(data, name)) == 1


# --- random XML -----------------------------------------------------------------------------------

_TAGS = st.sampled_from(
    [
        "item",
        "entry",
        "title",
        "link",
        "description",
        "content",
        "summary",
        "pubDate",
        "published",
        "updated",
        "author",
        "name",
        "guid",
        "CHANNEL",
        "ITEM",
        "x",
    ]
)
_ATTRS = st.dictionaries(
    st.sampled_from(["xml:base", "type", "href", "rel", "LASTMOD", "HREF"]),
    st.sampled_from(["html", "text", "xhtml", "/a", "b.html", "http://x.example/", "::", ""]),
    max_size=2,
)
_TEXT = st.one_of(
    st.text(max_size=40).map(escape),
    st.sampled_from(
        [
            "&lt;b&gt;x&lt;/b&gt;",
            "&amp;amp;",
            "<![CDATA[<p>para</p>]]>",
            "&#8216;q&#8217;",
            "9999-12-31T23:59:59-99:99",
            "Tue, 17 Nov 2026 09:00:00 +0000",
            "/news/a.html",
        ]
    ),
)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, inner: (
            f"<{tag}{''.join(f' {k}={quoteattr(v)}' for k, v in attrs.items())}>"
            f"{''.join(inner)}</{tag}>"
        ),
        _TAGS,
        _ATTRS,
        st.lists(children, max_size=4),
    )


_XML_BODY = st.recursive(_TEXT, _element, max_leaves=12)


@SETTINGS
@given(
    st.sampled_from(
        [
            '<rss version="2.0"><channel>',
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            "<CHANNEL>",
            "<config>",
            "<!-- c --><rss><channel>",
        ]
    ),
    _XML_BODY,
    st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-16"]),
    st.booleans(),
)
def test_random_xml_gives_articles_or_one_failure(
    root: str, inner: str, encoding: str, declared: bool
) -> None:
    name = root.split()[0].lstrip("<!-").split(">")[-1].lstrip("<") or "rss"
    closing = {"<rss": "</channel></rss>", "<feed": "</feed>", "<CHANNEL": "</CHANNEL>"}
    end = next((v for k, v in closing.items() if root.startswith(k) or k in root), f"</{name}>")
    text = root + inner + end
    if declared:
        text = f'<?xml version="1.0" encoding="{encoding}"?>' + text
    items = read_one_file(text.encode(encoding, "surrogatepass"), "feed.xml")
    assert items
    assert len([i for i in items if isinstance(i, ParseFailure)]) <= 1


# --- random dates ---------------------------------------------------------------------------------

_FORMATS = [
    "%a, %d %b %Y %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%B %d, %Y at %I:%M %p GMT",
    "%d %B %Y",
    "%Y/%m/%d %H:%M",
]
_DATES = st.one_of(
    st.builds(
        lambda moment, offset, fmt: moment.replace(
            tzinfo=timezone(timedelta(minutes=offset))
        ).strftime(fmt),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
        st.integers(-23 * 60, 23 * 60),
        st.sampled_from(_FORMATS),
    ),
    st.from_regex(
        r"\A[0-9x]{1,5}-[0-9x]{1,3}-[0-9x]{1,3}(T[0-9]{1,2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z)?)?\Z"
    ),
    st.text(alphabet="0123456789:-+TZ ,/.aAPMGTUjnFebDc", max_size=40),
)


@SETTINGS
@given(_DATES)
def test_random_dates_are_read_or_absent_with_a_warning(raw: str) -> None:
    found, warnings = parse_published(raw)
    if found is None:
        assert warnings or not raw.strip()
    else:
        assert found.utcoffset() is not None


@SETTINGS
@given(_DATES)
@example("9999-12-31T23:59:59-99:99")
@example("2013-xx-27")
@example("2003-12-31T25:14:55Z")
def test_random_dates_in_a_feed_cost_at_most_the_date(raw: str) -> None:
    feed = (
        '<rss version="2.0"><channel><title>t</title><item><title>Vote held</title>'
        "<link>https://a.example.org/1</link>"
        f"<pubDate>{escape(raw)}</pubDate><description>The vote was held.</description>"
        "</item></channel></rss>"
    )
    (article,) = read_one_file(feed.encode(), "feed.xml")
    assert isinstance(article, Article)
    assert article.title == "Vote held"
    # the date is our own reading or none, never a guess of feedparser's
    expected, warnings = parse_published(raw)
    assert article.published == expected
    assert set(warnings) <= set(article.warnings)
