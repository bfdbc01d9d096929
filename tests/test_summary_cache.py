"""Summaries cached in the store: both backends, the key, and a rebuild that reads them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.build import build_issue
from digest.project import init_project, open_project
from digest.store import Store
from digest.summarize import cache as summary_cache
from digest.summarize import summarize
from digest.summarize.cache import cached_summarize, summarizer_version, summary_key

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "articles"
AS_OF = datetime(2026, 11, 21, tzinfo=UTC)
BODY = (
    "The senate passed the spending bill late on Friday after a week of talks.\n\n"
    "Officials in several departments reviewed the figures again on Thursday.\n\n"
    "The president is expected to sign the bill into law next week, aides said."
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(tmp_path / "s.db")
    return Store.connect(request.getfixturevalue("postgres_url"))


def test_a_summary_is_kept_once_under_its_key(store: Store) -> None:
    assert store.cached_summary("k") is None
    store.save_summary("k", ["First “quoted” sentence.", "Second."])
    store.save_summary("k", ["Another build's copy."])  # a concurrent build's: the first stays
    assert store.cached_summary("k") == ["First “quoted” sentence.", "Second."]
    assert store.count_summaries() == 1


def test_the_cache_computes_once_then_reads(store: Store) -> None:
    settings = {"sentences": 2, "words": 40, "algorithm": "digest", "title": "Spending bill"}
    first = cached_summarize(store, BODY, **settings)  # type: ignore[arg-type]
    assert first == summarize(BODY, **settings)  # type: ignore[arg-type]
    assert store.count_summaries() == 1
    assert cached_summarize(store, BODY, **settings) == first  # type: ignore[arg-type]
    assert store.count_summaries() == 1


def test_the_key_changes_with_everything_a_summary_depends_on() -> None:
    base = {
        "title": "T",
        "truncated": False,
        "algorithm": "digest",
        "sentences": 3,
        "words": 90,
    }
    key = summary_key(BODY, **base)  # type: ignore[arg-type]
    assert key == summary_key(BODY, **base)  # type: ignore[arg-type]
    changed = [
        summary_key(BODY + " More.", **base),  # type: ignore[arg-type]
        *(
            summary_key(BODY, **{**base, name: value})  # type: ignore[arg-type]
            for name, value in (
                ("title", "U"),
                ("truncated", True),
                ("algorithm", "lexrank"),
                ("sentences", 2),
                ("words", 60),
            )
        ),
    ]
    assert len({key, *changed}) == len(changed) + 1


def test_new_weights_or_a_new_splitter_make_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "summarize"
    shutil.copytree(Path(summary_cache.__file__).parent, package)
    monkeypatch.setattr(summary_cache, "_PACKAGE", package)
    versions = []
    for change in ("ranker_weights.json", "sentences.py"):
        summarizer_version.cache_clear()
        versions.append(summarizer_version())
        with (package / change).open("a", encoding="utf-8") as file:
            file.write("\n")
    summarizer_version.cache_clear()
    versions.append(summarizer_version())
    summarizer_version.cache_clear()
    assert len(set(versions)) == 3


def test_a_rebuild_reads_the_stored_summaries(tmp_path: Path) -> None:
    root = tmp_path / "news"
    init_project(root)
    project = open_project(root)
    first = build_issue(project, articles=[str(EXAMPLES)], as_of=AS_OF, key="one")
    assert first.issue is not None
    entries = first.issue.entries
    assert project.store.count_summaries() == len(entries)
    # what a rebuild shows comes from the store: change one stored summary and build again
    lead = project.store.article(entries[0].article_id)
    key = summary_key(
        lead.body,
        title=lead.title,
        truncated=lead.truncated,
        algorithm=project.config.algorithm,
        sentences=project.config.sentences,
        words=project.config.words,
    )
    assert project.store.cached_summary(key) == entries[0].summary
    project.store.db.execute(
        "UPDATE summaries SET sentences = ? WHERE key = ?", ('["From the cache."]', key)
    )
    again = build_issue(project, as_of=AS_OF, key="two", exclude_sent=False)
    assert again.issue is not None
    assert again.issue.entries[0].summary == ["From the cache."]
    assert [e.summary for e in again.issue.entries[1:]] == [e.summary for e in entries[1:]]
    assert project.store.count_summaries() == len(entries)
    project.close()
