"""HTML pages as the web serves them: declared and undeclared charsets, stray bytes, NULs,
trailing furniture, tables. Every page is written here by hand."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import http_server

from digest.models import Article
from digest.sources import ParseError, parse_bytes, read_source

PARAGRAPHS = [
    "The council met on Tuesday to discuss the budget for the coming year and agreed a rise.",
    "Opposition members said the rise was too steep for families already struggling with bills.",
    "The leader of the council said the money would go to schools, roads and care for the old.",
]


def page(body: str, head: str = "", title: str = "Council agrees budget") -> str:
    return (
        f"<!doctype html><html><head>{head}<title>{title}</title></head><body>"
        f"<article><h1>{title}</h1>{body}</article></body></html>"
    )


PROSE = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
CHINESE = "".join(
    f"<p>{p}</p>"
    for p in [
        "市议会星期二开会讨论了来年的预算，并同意提高税收以支持学校和道路建设。",
        "反对派议员表示，对于已经在支付账单方面遇到困难的家庭来说，这次增税幅度过大。",
        "议会领导人说，这笔钱将用于学校、道路和老年人护理，并承诺明年重新审查。",
    ]
)


def one(data: bytes, **kwargs: str) -> Article:
    (article,) = parse_bytes(data, "page.html", **kwargs)
    return article


# --- decoding as browsers do ----------------------------------------------------------------------


def test_meta_charset_is_obeyed() -> None:
    data = page(CHINESE, '<meta charset="gb2312">', "预算").encode("gb2312")
    assert "市议会星期二开会" in one(data).body


def test_http_header_charset_is_obeyed_over_detection() -> None:
    data = page(CHINESE, "", "预算").encode("gb2312")
    assert "市议会星期二开会" in one(data, charset="gb2312").body


def test_undeclared_page_in_a_legacy_encoding_is_detected() -> None:
    data = page(CHINESE, "", "预算").encode("gb2312")
    assert "市议会星期二开会" in one(data).body


def test_one_stray_byte_in_utf8_is_replaced_where_it_stands() -> None:
    text = "Die Stadt ist sch\u00f6n, sagte der B\u00fcrgermeister am Dienstag vor dem Rat."
    data = page(f"<p>{text}</p>" + PROSE).encode().replace(b"Dienstag", b"Dienstag\xff")
    article = one(data)
    assert "sch\u00f6n" in article.body and "B\u00fcrgermeister" in article.body
    assert "Dienstag\ufffd" in article.body


def test_a_few_nul_bytes_deep_in_a_page_do_not_make_it_binary() -> None:
    data = (
        page(PROSE + "<!--" + "padding " * 2000 + "-->").encode().replace(b"padding", b"pad\0ng", 3)
    )
    assert one(data).body.startswith(PARAGRAPHS[0])


def test_real_binary_is_still_refused() -> None:
    with pytest.raises(ParseError, match="binary"):
        parse_bytes(bytes(range(256)) * 40, "blob.html")


class _Charset(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = page(CHINESE, "", "预算").encode("gb2312")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=GB2312")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with http_server(_Charset) as url:
        yield url


def test_fetched_page_is_decoded_with_its_content_type_charset(served: str) -> None:
    (article,) = list(read_source(f"{served}/story", allow_private=True))
    assert isinstance(article, Article)
    assert article.title == "预算"
    assert "市议会星期二开会" in article.body


# --- trailing furniture and truncation ------------------------------------------------------------


@pytest.mark.parametrize(
    "furniture",
    [
        "<p>Comments</p>",
        "<p>SOURCE: Al Jazeera News</p>",
        "<p>Filed under: Politics, Budget, Council</p>",
        "<p>Source: Reuters</p><p>12 Comments</p>",
        "<p>Tags: budget, council</p><p>Share</p>",
    ],
)
def test_trailing_furniture_is_stripped_and_not_taken_for_a_cut(furniture: str) -> None:
    article = one(page(PROSE + furniture).encode())
    assert article.body.split("\n\n") == PARAGRAPHS
    assert article.truncated is False
    assert not any("truncated" in w for w in article.warnings)


def test_a_page_that_really_stops_mid_sentence_is_truncated() -> None:
    cut = "<p>The leader of the council said the money would go to schools and roads, and</p>"
    article = one(page(PROSE + cut).encode())
    assert article.truncated is True


def test_a_closing_credit_is_not_a_cut() -> None:
    credit = "<p>(Reporting by Jane Doe; Editing by John Smith)</p>"
    assert one(page(PROSE + credit).encode()).truncated is False


# --- tables ---------------------------------------------------------------------------------------


def test_a_results_table_is_kept_as_text() -> None:
    table = (
        "<p>Results for the council election in each ward are below.</p>"
        "<table><tr><th>Ward</th><th>Winner</th><th>Votes</th></tr>"
        "<tr><td>North</td><td>Jane Smith (Lab)</td><td>1,204</td></tr>"
        "<tr><td>South</td><td>Tom Jones (Con)</td><td>998</td></tr>"
        "<tr><td>East</td><td>Ali Khan (LD)</td><td>1,511</td></tr></table>"
    )
    article = one(page(PROSE + table, title="Election results").encode())
    assert article.body.split("\n\n")[-4:] == [
        "Ward | Winner | Votes",
        "North | Jane Smith (Lab) | 1,204",
        "South | Tom Jones (Con) | 998",
        "East | Ali Khan (LD) | 1,511",
    ]
    assert article.truncated is False


def test_a_saved_fragment_of_a_page_is_a_page_not_xml_data() -> None:
    article = one(f"<article><h1>Council agrees budget</h1>{PROSE}</article>\n".encode(), hint="")
    assert article.body.split("\n\n") == PARAGRAPHS
