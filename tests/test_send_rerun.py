"""Records that tell the truth: a rerun of a sent issue keeps its first finish time and sends
nothing; a surviving worker's exit code is the issue's final state, also when the rows of a
killed worker are being taken over by another at the moment it looks (PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from send_support import FaultyRelay, Relay, make_project
from typer.testing import CliRunner

from digest.cli import app
from digest.desk import approve
from digest.project import Project
from digest.send import snapshot_recipients
from digest.send.feed import CLAIM_POLL

runner = CliRunner()


def test_a_rerun_of_a_sent_issue_keeps_its_sent_at_and_sends_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    root = ["--project", str(project.root)]
    first = runner.invoke(app, [*root, "send", "--json"])
    assert first.exit_code == 0, first.output
    issue = project.store.latest_issue()
    started, finished = project.store.issue_send_times(issue.id)
    assert finished is not None
    sent_files = sorted(project.outbox_dir.rglob("*"))
    time.sleep(0.01)  # a rewrite would stamp a later time

    again = runner.invoke(app, [*root, "send", "--json"])
    assert again.exit_code == 0, again.output
    assert f"already sent on {finished:%Y-%m-%d %H:%M}" in again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["sent"] == 3
    assert project.store.issue_send_times(issue.id) == (started, finished)
    assert project.store.last_sent_at() == finished
    assert sorted(project.outbox_dir.rglob("*")) == sent_files  # nothing sent


def test_sending_a_list_added_later_keeps_the_first_finish_time(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 2)
    root = ["--project", str(project.root)]
    assert runner.invoke(app, [*root, "send"]).exit_code == 0
    issue_id = project.store.latest_issue().id
    _, finished = project.store.issue_send_times(issue_id)
    (project.subscribers_dir / "late.csv").write_text("email\nlate@example.net\n")
    result = runner.invoke(app, [*root, "send", "--list", "late", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["sent"] == 3
    assert project.store.issue_send_times(issue_id)[1] == finished
    assert project.store.latest_issue().status == "sent"


@pytest.fixture
def shared_project(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("DIGEST_DATABASE_URL", postgres_url)
    monkeypatch.setenv("DIGEST_SECRET", "one secret for every worker and replica")
    return make_project(tmp_path / "p", [f"r{n:02d}@example.net" for n in range(40)])


def test_a_survivor_exits_0_when_a_dead_workers_rows_are_being_taken_over(
    shared_project: Project, postgres_url: str
) -> None:
    """A killed worker's rows, their lease lapsed, are being claimed by another survivor right
    now (their row locks held): this survivor finds nothing to claim and must not conclude
    from the lapsed lease that nobody holds them. It waits for them and exits 0."""
    store = shared_project.store
    issue = approve(shared_project, store.latest_issue().id)
    snapshot_recipients(shared_project, issue, None)
    dead = store.claim_batch(issue.id, "host:4242:dead", -1.0, 5)  # a lapsed lease
    assert len(dead) == 5
    handler = FaultyRelay()
    relay = Relay(handler).start()
    claiming = psycopg.connect(postgres_url)
    # another survivor in the middle of its claim: the rows are locked, still the dead one's
    claiming.execute(
        "SELECT rowid FROM sends WHERE worker = 'host:4242:dead' FOR UPDATE"
    ).fetchall()

    def other_survivor_gives_them_up() -> None:
        deadline = time.monotonic() + 30
        while len(handler.received) < 35 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(CLAIM_POLL * 2.5)  # this survivor has looked for more work, twice
        claiming.rollback()  # and the other one died too, before its claim committed

    thread = threading.Thread(target=other_survivor_gives_them_up, daemon=True)
    thread.start()
    try:
        result = runner.invoke(
            app,
            ["--project", str(shared_project.root), "send", "--smtp-url", relay.url, "--json"],
        )
    finally:
        thread.join(timeout=40)
        claiming.close()
        relay.stop()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["sent"] == 40
    assert set(handler.copies()) == {f"r{n:02d}@example.net" for n in range(40)}
