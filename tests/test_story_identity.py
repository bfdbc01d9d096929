"""Story identity across weeks: a story sent once never comes back, in any outlet's version or a
re-dated republication, unless it is a development the editor can see and choose."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project
from digest.sources import parse_file

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "articles"
CLASSIFY = REPO / "tests" / "fixtures" / "classify"
WEEK_ONE = "2026-11-21T00:00:00+00:00"
WEEK_TWO = "2026-11-28T00:00:00+00:00"
runner = CliRunner()


def scraped(headline: str, body: str, url: str, date: str) -> str:
    """An article in the scraper's layout (the format `digest ingest` reads from folders)."""
    return (
        "× UK PoliticsWorld Politics\nSubscribe To Our Newsletter\n\n"
        f"{headline}\n\n\n\n{body}\n\nBy: Staff\nTitle: {headline}\n"
        f"Sourced From: {url}\nPublished Date: {date}\n\nRead More\n"
    )


def write_article(path: Path, headline: str, body: str, url: str, date: str) -> None:
    path.write_text(scraped(headline, body, url, date), encoding="utf-8")


def rewritten(body: str) -> str:
    """Another outlet's version: the same facts in other words, so no 5-word run survives
    (a stop word after every fourth word) while the topic words stay."""
    words = body.split()
    fillers = ["also", "then", "just", "so"]
    out = []
    for i, word in enumerate(words, 1):
        out.append(word)
        if i % 4 == 0:
            out.append(fillers[(i // 4) % len(fillers)])
    return " ".join(out)


def cli(root: Path, *args: str):
    return runner.invoke(app, ["--project", str(root), *args])


def sent_week_one(tmp_path: Path) -> Path:
    root = tmp_path / "news"
    init_project(root)
    built = cli(root, "build", "--articles", str(EXAMPLES), "--as-of", WEEK_ONE, "--json")
    assert built.exit_code == 0, built.output
    issue = json.loads(built.stdout.splitlines()[-1])["id"]
    sent = cli(root, "send", str(issue))  # the default transport: the outbox
    assert sent.exit_code == 0, sent.output
    return root


def write_fresh_story(folder: Path) -> str:
    """A political story of week two that nothing sent resembles; returns its title."""
    title, _, body = (CLASSIFY / "modern" / "political_uk_commons.txt").read_text().partition("\n")
    url, date = "https://news.example/fresh", "Thu, 26 Nov 2026 10:00:00 +0000"
    write_article(folder / "fresh.txt", title.strip(), body.strip(), url, date)
    return title.strip()


def build_week_two(root: Path, week: Path) -> dict:
    built = cli(root, "build", "--articles", str(week), "--as-of", WEEK_TWO, "--json")
    assert built.exit_code == 0, built.output
    return json.loads(built.stdout.splitlines()[-1])


def titles_of(root: Path, issue: int) -> list[str]:
    shown = cli(root, "issue", "show", str(issue), "--json")
    assert shown.exit_code == 0, shown.output
    return [story["title"] for story in json.loads(shown.stdout)["stories"]]


def test_no_version_of_a_sent_story_comes_back_the_next_week(
    tmp_path: Path, store_backend: str
) -> None:
    root = sent_week_one(tmp_path)
    asylum = parse_file(EXAMPLES / "2026-11-17_asylum.txt")
    gibraltar = parse_file(EXAMPLES / "2026-11-20_gibraltar.txt")
    maternity_copy = parse_file(EXAMPLES / "2026-11-16_maternity-pay-westminsterwire.txt")
    week = tmp_path / "week-two"
    week.mkdir()
    # another outlet's version of a sent story, in its own words, days later
    write_article(
        week / "asylum-rewrite.txt",
        "Asylum plans under fire again",
        rewritten(asylum.body),
        "https://othernews.example/asylum-rewrite",
        "Tue, 24 Nov 2026 09:00:00 +0000",
    )
    # the same outlet republishing last week's story with a new date and a line added
    write_article(
        week / "gibraltar-redated.txt",
        gibraltar.title,
        gibraltar.body + "\n\nThis article was first published last week.",
        "https://www.bbc.co.uk/news/uk-politics-71580022-republished",
        "Wed, 25 Nov 2026 08:00:00 +0000",
    )
    # the copy that week one merged into its maternity story ("also reported by"), re-dated
    write_article(
        week / "maternity-copy.txt",
        maternity_copy.title,
        maternity_copy.body + "\n\nUpdated on Tuesday.",
        "https://westminsterwire.net/2026/11/24/hewitt-maternity-pay-again",
        "Tue, 24 Nov 2026 11:00:00 +0000",
    )
    fresh_title = write_fresh_story(week)
    record = build_week_two(root, week)
    assert titles_of(root, record["id"]) == [fresh_title]
    # the report names each left out, with the issue it went out in
    reasons = {item["title"]: item for item in record["left_out"]}
    for title in ("Asylum plans under fire again", gibraltar.title, maternity_copy.title):
        assert reasons[title]["reason"] == "already-sent", reasons[title]
        assert "already sent in issue 1" in reasons[title]["detail"]
    # and none is offered to the editor as a runner-up either: they are the same story
    shown = json.loads(cli(root, "issue", "show", str(record["id"]), "--json").stdout)
    assert shown["runners_up"] == []


def test_a_development_is_offered_to_the_editor_not_sent_unasked(
    tmp_path: Path, store_backend: str
) -> None:
    root = sent_week_one(tmp_path)
    asylum = parse_file(EXAMPLES / "2026-11-17_asylum.txt")
    paragraphs = [p for p in asylum.body.split("\n\n") if p.strip()]
    week = tmp_path / "week-two"
    week.mkdir()
    # days after the send: a follow-up that recalls the story in three paragraphs (verbatim, as
    # wire write-throughs do) and reports what happened next, in words the story never used
    follow_up = (
        "\n\n".join(paragraphs[:3]) + "\n\n"
        "On Thursday peers voted down the bill's second reading by 212 votes to 174, after a "
        "rebellion led by Baroness Kennedy and Lord Carlile. Ministers conceded amendments on "
        "detention reviews, judicial oversight, appeals tribunals and legal aid. Campaigners "
        "from Liberty and Refugee Action welcomed the concessions; the Home Office promised a "
        "revised timetable before Christmas, with consultation papers published in January. "
        "Backbenchers warned whips that further defeats were likely unless funding for "
        "caseworkers, interpreters and regional hearing centres was guaranteed."
    )
    write_article(
        week / "follow-up.txt",
        "Peers defeat asylum bill as rebels win concessions",
        follow_up,
        "https://othernews.example/asylum-peers",
        "Thu, 26 Nov 2026 18:00:00 +0000",
    )
    fresh_title = write_fresh_story(week)
    record = build_week_two(root, week)
    assert titles_of(root, record["id"]) == [fresh_title]
    shown = cli(root, "issue", "show", str(record["id"]))
    assert "update to a story sent in issue 1" in shown.stdout
    runners = json.loads(cli(root, "issue", "show", str(record["id"]), "--json").stdout)
    update = runners["runners_up"][0]
    assert update["title"] == "Peers defeat asylum bill as rebels win concessions"
    # the editor chooses it: it joins the issue like any runner-up
    added = cli(root, "issue", "add", str(record["id"]), str(update["article_id"]))
    assert added.exit_code == 0, added.output
    assert "Peers defeat asylum bill" in " ".join(titles_of(root, record["id"]))


def test_merged_copies_are_recorded_as_sent(tmp_path: Path, store_backend: str) -> None:
    from digest.project import open_project

    root = sent_week_one(tmp_path)
    store = open_project(root).store
    sent_ids = store.article_ids_in_issues()
    westminster = store.article_by_url(
        "https://westminsterwire.net/2026/11/16/hewitt-maternity-pay-rise"
    )
    assert westminster is not None and westminster.id in sent_ids
