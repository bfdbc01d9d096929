"""`digest articles`: browse and search what was ingested (issue 23, day one)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"
runner = CliRunner()


def articles(root: Path, *args: str):
    return runner.invoke(app, ["--project", str(root), "articles", *args])


def test_list_and_search_by_text_date_source_and_score(tmp_path: Path) -> None:
    root = tmp_path / "news"
    init_project(root)
    ingested = runner.invoke(app, ["--project", str(root), "ingest", str(EXAMPLES)])
    assert ingested.exit_code == 0, ingested.output
    listed = articles(root)
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 8  # newest first
    assert "Gibraltar" in listed.stdout.splitlines()[0] and "8 articles" in listed.stderr

    found = [json.loads(line) for line in articles(root, "MATERNITY", "--json").stdout.splitlines()]
    assert {a["title"] for a in found} == {
        "Labour plans maternity pay rise",
        "Hewitt: maternity pay to rise by £1,400 by 2007",
    }
    only = articles(root, "maternity", "--source", "westminsterwire", "--json").stdout
    assert [json.loads(line)["title"] for line in only.splitlines()] == [
        "Hewitt: maternity pay to rise by £1,400 by 2007"
    ]
    window = articles(root, "--since", "2026-11-18", "--until", "2026-11-19", "--json").stdout
    dates = {json.loads(line)["published"][:10] for line in window.splitlines()}
    assert dates == {"2026-11-18"}
    # scores are cached by a build; before one, a score filter finds nothing unscored
    runner.invoke(app, ["--project", str(root), "build", "--as-of", "2026-11-21"])
    political = articles(root, "--min-score", "0.5", "--json").stdout.splitlines()
    assert len(political) == 7 and all(json.loads(a)["political_score"] >= 0.5 for a in political)
    assert articles(root, "--limit", "2").stdout.count("\n") == 2


def test_a_bad_date_is_one_line_naming_the_option(tmp_path: Path) -> None:
    init_project(tmp_path / "news")
    result = articles(tmp_path / "news", "--since", "last tuesday")
    assert result.exit_code == 2 and "--since 'last tuesday'" in result.stderr
