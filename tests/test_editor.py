"""An editor should not be surprised: what `digest build` and friends do, as an editor meets it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.project import open_project

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "articles"
AS_OF = "2026-11-21T00:00:00+00:00"  # the end of the sample articles' week
runner = CliRunner()


def digest(root: Path, *args: str) -> object:
    return runner.invoke(app, ["--project", str(root), *args])


def new_project(tmp_path: Path, *options: str) -> Path:
    root = tmp_path / "news"
    result = runner.invoke(app, ["init", str(root), *options])
    assert result.exit_code == 0, result.output
    return root


# -- build: nothing found says why; an empty store reads the project's sources ------------------


def test_the_readme_flow_says_why_the_window_is_empty(tmp_path: Path) -> None:
    """README: `digest ingest articles/` then `digest build --since 7d`, weeks after the sample
    week: the editor learns the newest article's date instead of "0 articles in the window"."""
    root = new_project(tmp_path, "--examples")
    assert digest(root, "ingest", str(root / "articles")).exit_code == 0
    result = digest(root, "build", "--since", "7d", "--as-of", "2026-12-30")
    assert result.exit_code == 0, result.output
    assert "No articles in the window 2026-12-23 00:00 to 2026-12-30 00:00 UTC" in result.stderr
    assert "newest of the 8 stored articles is dated 2026-11-20 (try --as-of 2026-11-21" in (
        result.stderr
    )
    assert "0 articles" not in result.stderr


def test_build_on_an_empty_store_says_nothing_was_ingested(tmp_path: Path) -> None:
    root = new_project(tmp_path)  # articles/ is empty
    result = digest(root, "build", "--since", "7d")
    assert result.exit_code == 0, result.output
    assert "No articles are stored yet" in result.stderr and "digest ingest" in result.stderr


def test_build_on_an_empty_store_ingests_the_projects_sources(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")  # [sources] folders = ["articles"]
    result = digest(root, "build", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    assert "ingested the [sources] of digest.toml (8 added, 0 failed)" in result.stderr
    assert json.loads(result.stdout)["stories"] == 6
    # with articles stored, a build does not read the sources again
    again = digest(root, "build", "--as-of", AS_OF)
    assert again.exit_code == 0 and "ingested" not in again.stderr


# -- build leaves out what already went out ------------------------------------------------------


def built_titles(root: Path, *args: str) -> tuple[int, set[str]]:
    """Build with `args`; the issue's id and its stories' titles, from its issue.json."""
    out = root / "out"
    result = digest(root, "build", "--as-of", AS_OF, "--out", str(out), "--json", *args)
    assert result.exit_code == 0, result.output
    issue = json.loads((out / "issue.json").read_text())
    return issue["id"], {entry["title"] for entry in issue["articles"]}


def test_build_leaves_out_stories_of_a_sent_issue_unless_asked(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")
    sent_id, sent = built_titles(root, "--limit", "2")
    assert digest(root, "send", str(sent_id)).exit_code == 0
    # an unsent issue does not count: its stories may be built again
    _, unsent = built_titles(root, "--limit", "1")
    _, titles = built_titles(root)
    assert len(titles) == 4 and not titles & sent and unsent <= titles
    _, titles = built_titles(root, "--include-sent")
    assert sent <= titles and len(titles) == 6


def test_build_says_when_every_story_already_went_out(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")
    sent_id, _ = built_titles(root)
    assert digest(root, "send", str(sent_id)).exit_code == 0
    again = digest(root, "build", "--as-of", AS_OF)
    assert again.exit_code == 0, again.output
    assert "6 stories in the window" in again.stderr and "--include-sent" in again.stderr


# -- a failed --out stores nothing ---------------------------------------------------------------


def test_a_build_whose_files_cannot_be_written_stores_no_issue(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = digest(root, "build", "--as-of", AS_OF, "--out", str(blocker / "issue"))
    assert result.exit_code == 2, result.output
    assert "cannot write the issue files" in result.stderr and "Traceback" not in result.output
    latest = digest(root, "preview", "--out", str(tmp_path / "latest.html"))
    assert latest.exit_code == 2 and "no issue has been built yet" in latest.stderr


# -- "Also reported by" names sites; many near-copies do not fill the issue ----------------------


def also_reported(html: str, title_words: str) -> list[str]:
    """The site names after "Also reported by:" under the story whose title has `title_words`."""
    story = html.split(title_words, 1)[1]
    block = story.split("Also reported by:", 1)[1].split("</p>", 1)[0]
    return re.findall(r">([^<]+)</a>", block)


def test_also_reported_by_names_each_site_once(tmp_path: Path) -> None:
    """One site re-runs the story twelve times (each under its own URL): one name, not twelve."""
    root = new_project(tmp_path, "--examples")
    rerun = (root / "articles" / "2026-11-16_maternity-pay-westminsterwire.txt").read_text()
    for n in range(12):
        (root / "articles" / f"rerun-{n}.txt").write_text(
            rerun.replace("hewitt-maternity-pay-rise", f"hewitt-maternity-pay-rise-{n}")
        )
    result = digest(root, "build", "--as-of", AS_OF, "--out", str(root / "out"))
    assert result.exit_code == 0, result.output
    issue = json.loads((root / "out" / "issue.json").read_text())
    [maternity] = [a for a in issue["articles"] if "aternity" in a["title"]]
    assert len(maternity["other_sources"]) == 1, maternity["other_sources"]
    html = (root / "out" / "issue.html").read_text()
    assert also_reported(html, "aternity") == ["westminsterwire.net"]


URL = "westminsterwire.net/2026/11/16/hewitt-maternity-pay-rise"


def near_copy(text: str, site: str, n: int, every: int) -> str:
    """Another site's copy of a scraped article, under its own URL, with every `every`-th word
    of the body changed."""
    lines = []
    for line in text.replace(URL, f"{site}/story-{n}").splitlines():
        if len(line) > 100:  # a body paragraph, not chrome or the footer
            words = line.split(" ")
            words[every - 1 :: every] = [f"{w}{n}" for w in words[every - 1 :: every]]
            line = " ".join(words)
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_many_near_copies_of_one_story_do_not_fill_the_issue(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")
    original = (root / "articles" / "2026-11-16_maternity-pay-westminsterwire.txt").read_text()
    # rewrites: every fourth word changed, so no five-word run survives to merge them as copies
    for n in range(1, 13):
        copy = near_copy(original, f"rewrites{n}.example", n, every=4)
        (root / "articles" / f"rewrite-{n}.txt").write_text(copy)
    # re-runs with one word in forty changed, more than the shingle index's boilerplate cut
    # (a shingle in over 50 articles is a footer), so none are merged as copies either
    for n in range(60):
        copy = near_copy(original, f"mirror{n}.example", n, every=40)
        (root / "articles" / f"rerun-{n}.txt").write_text(copy)
    result = digest(root, "build", "--as-of", AS_OF, "--limit", "10", "--out", str(root / "out"))
    assert result.exit_code == 0, result.output
    titles = [a["title"] for a in json.loads((root / "out" / "issue.json").read_text())["articles"]]
    maternity = [t for t in titles if "aternity" in t]
    # every other political story of the week makes the issue
    assert len(titles) - len(maternity) == 5, titles
    assert len(maternity) <= 3, titles


# -- the email reads well ------------------------------------------------------------------------


def test_the_email_greets_in_sentences_and_the_masthead_gives_the_date(tmp_path: Path) -> None:
    root = new_project(tmp_path, "--examples")
    result = digest(root, "build", "--as-of", AS_OF, "--limit", "1", "--out", str(root / "out"))
    assert result.exit_code == 0, result.output
    assert "(1 story)" in result.stderr
    text = (root / "out" / "issue.txt").read_text()
    name, rule, masthead = text.splitlines()[:3]
    assert name == "The Political Digest" and set(rule) == {"="}
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", masthead), masthead  # not the name again
    # a hand-built issue names no period (issue 23: "this week's" was said of every issue)
    assert "Hello,\n\nHere is one political story.\n" in text
    html = (root / "out" / "issue.html").read_text()
    masthead_html = html.split('class="masthead-date"', 1)[1].split("</p>", 1)[0]
    assert "Political Digest" not in masthead_html and masthead in masthead_html
    assert "Here is one political story." in html and "1 political stories" not in html


@pytest.mark.parametrize(
    ("period", "said"), [("day", "today’s"), ("week", "this week’s"), ("month", "this month’s")]
)
def test_the_greeting_names_the_issues_own_period(tmp_path: Path, period: str, said: str) -> None:
    root = new_project(tmp_path, "--examples")
    as_of = "2026-11-20T18:00:00+00:00"  # a day with two sample stories
    result = digest(root, "run", "--period", period, "--hold", "--as-of", as_of)
    assert result.exit_code == 0, result.output
    issue = open_project(root).store.latest_issue()
    count = len(issue.entries)
    wanted = f"Here is {said} political story." if count == 1 else f"Here are {said} {count}"
    assert wanted in issue.text and wanted in issue.html


# -- the archive reads as issues, not keys -------------------------------------------------------


def test_the_archive_lists_issues_by_date_and_headline(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from digest.project import open_project
    from digest.web import create_app

    root = new_project(tmp_path, "--examples")
    issue_id, _ = built_titles(root)
    assert digest(root, "send", str(issue_id)).exit_code == 0
    project = open_project(root)
    try:
        issue = project.store.issue(issue_id)
        archive = TestClient(create_app(project), base_url=project.config.base_url).get("/").text
    finally:
        project.close()
    assert issue.key.startswith("build-") and issue.key not in archive
    item = archive.split('<ul id="issues">', 1)[1].split("</li>", 1)[0]
    day = issue.created
    assert f">{day.day} {day:%B %Y}</a>" in item
    assert "Talks held on Gibraltar&#39;s future" in item and "6 stories" in item
    assert "The Political Digest:" not in item  # the page's heading already says so
