"""An editor should not be surprised: what `digest build` and friends do, as an editor meets it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app

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
    assert "newest of the 8 stored articles is dated 2026-11-20" in result.stderr
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
