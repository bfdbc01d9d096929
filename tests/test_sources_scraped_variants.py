"""The scraper's format as real scrapers vary it. Every fixture is written here by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest.models import Article
from digest.sources import ParseFailure, parse_bytes, read_source

NAV = "\u00d7 UK PoliticsWorld PoliticsVideosPrivacy PolicyTerms And Conditions"
HEADLINE = "Ministers unveil a housing plan for the north"
LEDE = "Ministers unveiled a housing plan for the north of England on Tuesday."
SECOND = "The plan promises 300,000 homes a year, the housing secretary said."
FOOTER = (
    "By: Ruth Ellison and Mark Bevan\n"
    "Title: Ministers unveil northern housing plan\n"
    "Sourced From: www.westminsterwire.net/2026/11/17/housing\n"
    "Published Date: Tue, 17 Nov 2026 16:05:00 +0000\n"
)


def scraped(*parts: str) -> bytes:
    return "\n".join(parts).encode()


def one(data: bytes) -> Article:
    (article,) = parse_bytes(data, "scraped.txt")
    return article


def test_no_footer_the_headline_is_the_title_and_the_chrome_goes() -> None:
    article = one(
        scraped(
            NAV,
            "Subscribe To Our Newsletter",
            "",
            HEADLINE,
            "",
            "",
            "",
            LEDE,
            "",
            SECOND,
            "",
            "Read More",
            "",
            "Did you miss our previous article...",
            "https://badpoliticians.example/uk/another-story",
        )
    )
    assert article.title == HEADLINE
    assert article.body == f"{LEDE}\n\n{SECOND}"
    assert not article.truncated


def test_blank_lines_between_footer_lines() -> None:
    footer = FOOTER.replace("\n", "\n\n")
    article = one(scraped(NAV, HEADLINE, "", "", LEDE, "", SECOND, "", footer, "Read More"))
    assert article.title == "Ministers unveil northern housing plan"
    assert article.authors == ["Ruth Ellison", "Mark Bevan"]
    assert article.source_url == "https://www.westminsterwire.net/2026/11/17/housing"
    assert article.published == datetime(2026, 11, 17, 16, 5, tzinfo=UTC)
    assert article.body == f"{LEDE}\n\n{SECOND}"


def test_byline_without_colon_date_key_and_spelled_out_time() -> None:
    footer = (
        "By Ruth Ellison and Mark Bevan\n"
        "Title: Ministers unveil northern housing plan\n"
        "Sourced From: www.westminsterwire.net/2026/11/17/housing\n"
        "Date: November 17, 2026 at 4:05 PM GMT\n"
    )
    article = one(scraped(HEADLINE, "", "", LEDE, "", SECOND, "", footer))
    assert article.authors == ["Ruth Ellison", "Mark Bevan"]
    assert article.published == datetime(2026, 11, 17, 16, 5, tzinfo=UTC)
    assert "By Ruth" not in article.body


def test_a_body_sentence_starting_with_by_is_not_a_byline() -> None:
    closing = "By the end of the year, the first homes will be built."
    article = one(scraped(HEADLINE, "", "", LEDE, "", closing, FOOTER))
    assert article.body.endswith(closing)
    assert article.authors == ["Ruth Ellison", "Mark Bevan"]


def test_html_entities_in_title_and_body_are_decoded() -> None:
    footer = FOOTER.replace(
        "Title: Ministers unveil northern housing plan",
        "Title: Minister&#8217;s &quot;northern&quot; plan &amp; the &#x2018;left behind&#x2019;",
    )
    article = one(
        scraped(HEADLINE, "", "", "Tenants &amp; owners &#8216;welcome&#8217; it.", footer)
    )
    assert article.title == 'Minister\u2019s "northern" plan & the \u2018left behind\u2019'
    assert article.body == "Tenants & owners \u2018welcome\u2019 it."


def test_teasers_and_share_lines_are_dropped() -> None:
    article = one(
        scraped(
            HEADLINE,
            "",
            "",
            LEDE,
            "",
            "READ MORE: Chancellor faces revolt over fuel duty",
            "",
            "Share on Facebook",
            "Follow us on Twitter",
            "",
            SECOND,
            "",
            FOOTER,
        )
    )
    assert article.body == f"{LEDE}\n\n{SECOND}"


def test_a_related_block_after_the_footer_is_not_the_footer() -> None:
    related = (
        "Related:\n"
        "Title: Chancellor faces revolt over fuel duty\n"
        "Sourced From: www.westminsterwire.net/2026/11/16/fuel\n"
    )
    article = one(scraped(HEADLINE, "", "", LEDE, "", SECOND, "", FOOTER, "", related))
    assert article.title == "Ministers unveil northern housing plan"
    assert article.source_url == "https://www.westminsterwire.net/2026/11/17/housing"
    assert article.body == f"{LEDE}\n\n{SECOND}"


def test_chrome_is_learned_from_lines_repeated_across_the_sites_files(tmp_path: Path) -> None:
    stories = [
        ("Council tax to rise", "Council tax will rise by five per cent next April."),
        ("Bus fares frozen", "Bus fares will be frozen for another year, the mayor said."),
        ("Library hours cut", "Libraries will open two hours less a week from January."),
        ("New bridge approved", "A new bridge over the river was approved on Monday."),
    ]
    for number, (title, text) in enumerate(stories):
        (tmp_path / f"{number}.txt").write_text(
            "Get the Bad Politicians app for breaking news alerts\n"
            f"{title}\n\n\n{text}\n\n"
            "Our journalism depends on readers like you: donate today\n\n"
            f"By: Desk\nTitle: {title}\nSourced From: www.example.org/{number}\n"
            "Published Date: Tue, 17 Nov 2026 16:05:00 +0000\n"
        )
    items = list(read_source(str(tmp_path)))
    assert not [i for i in items if isinstance(i, ParseFailure)]
    assert [a.body for a in items if isinstance(a, Article)] == [text for _, text in stories]


def test_one_repeated_article_is_not_mistaken_for_chrome(tmp_path: Path) -> None:
    text = scraped(HEADLINE, "", "", LEDE, "", SECOND, "", FOOTER).decode()
    for number in range(4):
        (tmp_path / f"copy{number}.txt").write_text(text)
    articles = [i for i in read_source(str(tmp_path)) if isinstance(i, Article)]
    assert [a.body for a in articles] == [f"{LEDE}\n\n{SECOND}"] * 4


def test_a_related_heading_in_the_body_does_not_hide_the_footer() -> None:
    related = "Related:\nTitle: Chancellor faces revolt\nSourced From: www.example.org/fuel\n"
    article = one(scraped(HEADLINE, "", "", LEDE, "", related, "", SECOND, "", FOOTER))
    assert article.title == "Ministers unveil northern housing plan"


def test_a_source_line_ending_the_body_is_not_pulled_into_a_spaced_footer() -> None:
    footer = FOOTER.replace("\n", "\n\n")
    article = one(scraped(HEADLINE, "", "", LEDE, "", "Source: Reuters", "", footer))
    assert article.source_url == "https://www.westminsterwire.net/2026/11/17/housing"
    assert article.body == f"{LEDE}\n\nSource: Reuters"
