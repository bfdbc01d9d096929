"""`digest summarize`, `digest classify` and `digest build` through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "articles"
SEED = REPO / "tests" / "fixtures" / "sources" / "000_b74774f45fc3b6f2.txt"
AS_OF = "2026-11-21T00:00:00+00:00"
runner = CliRunner()


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_summarize_is_verbatim_and_names_bad_files(tmp_path: Path) -> None:
    from digest.sources import parse_file

    (tmp_path / "empty.txt").write_text("")
    files = [str(p) for p in sorted(EXAMPLES.glob("*.txt"))] + [str(tmp_path / "empty.txt")]
    result = runner.invoke(app, ["summarize", *files, "--sentences", "2", "--json"])
    assert result.exit_code == 1
    assert "empty.txt" in result.stderr and "Traceback" not in result.stderr
    out = lines(result.stdout)
    assert len(out) == len(files) - 1
    for item in out:
        body = parse_file(Path(item["path"])).body
        assert 1 <= len(item["sentences"]) <= 2
        positions = [body.index(sentence) for sentence in item["sentences"]]
        assert positions == sorted(positions)  # document order, verbatim


def test_summaries_go_to_stdout() -> None:
    result = runner.invoke(app, ["summarize", str(EXAMPLES / "2026-11-17_asylum.txt"), "-k", "2"])
    assert result.exit_code == 0, result.output
    title, *bullets = result.stdout.splitlines()
    assert title and len(bullets) == 2 and all(b.startswith("  • ") for b in bullets)


def test_summarize_rejects_an_unknown_algorithm() -> None:
    result = runner.invoke(app, ["summarize", str(SEED), "--algorithm", "magic", "--json"])
    assert result.exit_code == 2 and "magic" in result.stderr


def test_classify_separates_politics_from_business() -> None:
    politics = EXAMPLES / "2026-11-17_asylum.txt"
    business = EXAMPLES / "2026-11-18_time-warner.txt"
    result = runner.invoke(app, ["classify", str(politics), str(business), "--json"])
    assert result.exit_code == 0, result.output
    first, second = lines(result.stdout)
    assert first["political"] is True and second["political"] is False
    assert 0 <= second["score"] < first["score"] <= 1


def test_classify_explain_names_the_terms_that_moved_each_score() -> None:
    politics = EXAMPLES / "2026-11-20_gibraltar.txt"
    business = EXAMPLES / "2026-11-18_time-warner.txt"
    result = runner.invoke(app, ["classify", str(politics), str(business), "--explain", "--json"])
    assert result.exit_code == 0, result.output
    first, second = lines(result.stdout)
    assert "gibraltar" in first["for"] and all(v > 0 for v in first["for"].values())
    assert second["closest_other_topic"] == "business" and second["against"]
    shown = runner.invoke(app, ["classify", str(politics), "--explain"])
    # the result is on stdout, as with --json (`| less`, `> file`)
    assert "political (" in shown.stdout and "for:" in shown.stdout and "against:" in shown.stdout


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """The sample week plus every kind of trouble a scraper folder holds."""
    folder = tmp_path / "incoming"
    shutil.copytree(EXAMPLES, folder)
    gibraltar = (folder / "2026-11-20_gibraltar.txt").read_text(encoding="utf-8")
    # out of the window: a month earlier, and one dated after --as-of (clock skew at the source)
    for name, date in (
        ("old", "Wed, 21 Oct 2026 10:00:00 +0000"),
        ("future", "Sun, 22 Nov 2026 10:00:00 +0000"),
    ):
        text = gibraltar.replace("Fri, 20 Nov 2026 14:45:00 +0000", date)
        text = text.replace("uk-politics-71580022", f"uk-politics-{name}")
        text = text.replace("Two days of talks", f"Two days ({name}) of talks")
        (folder / f"{name}.txt").write_text(text.replace("Talks held", f"{name.title()} talks"))
    # an exact duplicate under another file name
    shutil.copy(folder / "2026-11-17_asylum.txt", folder / "asylum-again.txt")
    # broken inputs
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    return folder


def test_build_selects_in_window_political_stories_once(tmp_path: Path, mixed_folder: Path) -> None:
    root = tmp_path / "news"
    init_project(root)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["--project", str(root), "build", "--articles", str(mixed_folder)]
        + ["--as-of", AS_OF, "--since", "7d", "--out", str(out)],
    )
    # broken inputs are named, the build goes on, and the exit code says "partial"
    assert result.exit_code == 1, result.output
    assert "empty.txt" in result.stderr and "binary.txt" in result.stderr
    issue = json.loads((out / "issue.json").read_text())
    titles = [a["title"] for a in issue["articles"]]
    assert len(titles) == len(set(titles))
    assert "Ad sales boost Time Warner profit" not in titles  # not political
    assert not any(t.startswith(("Old", "Future")) for t in titles)  # out of the window
    # the story another site re-ran under its own headline is one entry listing the other source
    maternity = [a for a in issue["articles"] if "maternity" in a["title"].lower()]
    assert len(maternity) == 1
    assert any("westminsterwire.net" in s for s in maternity[0]["other_sources"])
    assert len(titles) == 6
    for article in issue["articles"]:
        assert article["political_score"] >= 0.5  # selection.min_score, the political label
        assert "2026-11-14" < article["published"] <= AS_OF
        assert 1 <= len(article["summary"]) <= 3
        assert len(" ".join(article["summary"]).split()) <= 90 or len(article["summary"]) == 1
    html = (out / "issue.html").read_text()
    assert all(t.replace("'", "&#39;") in html or t in html for t in titles)
    assert "Subscribe To Our Newsletter" not in (out / "issue.txt").read_text()


def test_build_limit_and_empty_window(tmp_path: Path) -> None:
    root = tmp_path / "news"
    init_project(root)
    base = ["--project", str(root), "build", "--articles", str(EXAMPLES)]
    limited = runner.invoke(app, [*base, "--as-of", AS_OF, "--limit", "2", "--json"])
    assert limited.exit_code == 0, limited.output
    assert lines(limited.stdout)[0]["stories"] == 2
    empty = runner.invoke(app, [*base, "--as-of", "2026-06-01T00:00:00+00:00"])
    assert empty.exit_code == 0 and "No articles in the window" in empty.stderr
    assert "dated 2026-11-20" in empty.stderr  # the newest sample article: the way out


def test_bad_as_of_and_since_are_usage_errors(tmp_path: Path) -> None:
    init_project(tmp_path)
    for args in (["--as-of", "next tuesday"], ["--since", "a while"]):
        result = runner.invoke(app, ["--project", str(tmp_path), "build", *args])
        assert result.exit_code == 2 and "Traceback" not in result.output


def test_build_names_every_article_it_leaves_out_and_why(tmp_path: Path) -> None:
    """Issue 23: an undated plain-text article vanished silently. Every article a build looked
    at and left out is named with its reason; the normal output names the undated and
    out-of-window ones and the 5 best stories left out, --json lists all."""
    root = tmp_path / "news"
    init_project(root)
    folder = tmp_path / "incoming"
    shutil.copytree(EXAMPLES, folder)
    plain_texts = {
        "undated.txt": "Ministers publish the new planning rules\n\nMinisters published the"
        " planning rules on Monday. Councils have a year to adopt them.\n",
        "last-year.txt": "Council tax rises approved\nPublished: 2025-11-18\n\nThe council"
        " approved a rise in council tax. Opposition members voted against it.\n",
    }
    for name, text in plain_texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    args = ["--project", str(root), "build", "--articles", str(folder), "--as-of", AS_OF]
    result = runner.invoke(app, [*args, "--limit", "2"])
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "'Ministers publish the new planning rules'" in err and "no publication date" in err
    assert "'Council tax rises approved'" in err and "published 2025-11-18" in err
    assert "The best 5 stories left out:" in err
    assert "runner-up 1" in err  # the stories below the limit of 2
    assert "every article left out" in err
    # --json: every one, with its reason
    again = runner.invoke(app, [*args, "--limit", "2", "--json", "--include-sent"])
    record = lines(again.stdout)[-1]
    reasons = {item["title"]: item for item in record["left_out"]}
    assert reasons["Ministers publish the new planning rules"]["reason"] == "undated"
    assert reasons["Council tax rises approved"]["reason"] == "outside-window"
    business = reasons["Ad sales boost Time Warner profit"]
    assert business["reason"] == "under-cutoff"
    assert f"{business['political_score']:.2f} is under the cutoff 0.50" in business["detail"]
    merged = [item for item in record["left_out"] if item["reason"] == "merged"]
    assert any(item["source"] == "westminsterwire.net" for item in merged)
    assert all(item["detail"].startswith("merged into '") for item in merged)
    assert sum(item["reason"] == "runner-up" for item in record["left_out"]) == 4


def test_an_article_ingested_before_the_build_is_named_too(tmp_path: Path) -> None:
    """`digest ingest` then `digest build`: the undated article still does not vanish unsaid."""
    root = tmp_path / "news"
    init_project(root)
    folder = tmp_path / "incoming"
    shutil.copytree(EXAMPLES, folder)
    (folder / "undated.txt").write_text(
        "Ministers publish the new planning rules\n\nCouncils have a year to adopt them.\n"
    )
    project = ["--project", str(root)]
    assert runner.invoke(app, [*project, "ingest", str(folder)]).exit_code == 0
    first = runner.invoke(app, [*project, "build", "--as-of", AS_OF])
    assert first.exit_code == 0, first.output
    assert "'Ministers publish the new planning rules'" in first.stderr
    # named once: the next build reports what was stored since this one
    second = runner.invoke(app, [*project, "build", "--as-of", AS_OF, "--include-sent"])
    assert "planning rules" not in second.stderr
