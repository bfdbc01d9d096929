"""`digest run` as a scheduler calls it: twice a week, in an empty week, and killed half way."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from send_support import use_real_sender
from typer.testing import CliRunner

from digest.cli import app
from digest.project import init_project
from digest.schedule import period_key

REPO = Path(__file__).resolve().parent.parent
ARTICLES = REPO / "examples" / "articles"
AS_OF = "2026-11-20T18:00:00+00:00"  # inside ISO week 2026-W47, after the sample articles
runner = CliRunner()


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, message["Message-ID"]))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp():
    servers = []

    def start(delay: float = 0.0) -> tuple[Recorder, str]:
        recorder = Recorder(delay)
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return recorder, f"smtp://127.0.0.1:{port}?starttls=false"

    yield start
    for controller in servers:
        controller.stop()


def make_project(root: Path, subscribers: int) -> Path:
    use_real_sender(init_project(root).config.path)
    rows = ["email,name"] + [f"reader{i}@example.org,Reader {i}" for i in range(subscribers)]
    (root / "subscribers" / "example.csv").write_text("\n".join(rows) + "\n")
    return root


def run(root: Path, url: str, *args: str):
    return runner.invoke(
        app,
        ["--project", str(root), "run", "--articles", str(ARTICLES), *args],
        env={"DIGEST_SMTP_URL": url},
    )


def test_period_keys() -> None:
    from datetime import datetime

    when = datetime.fromisoformat(AS_OF)
    assert period_key(when, "week") == "2026-W47"
    assert period_key(when, "day") == "2026-11-20"
    assert period_key(when, "month") == "2026-11"
    # ISO weeks cross years: 2027-01-01 is a Friday of 2026-W53
    assert period_key(datetime.fromisoformat("2027-01-01T12:00:00+00:00"), "week") == "2026-W53"


def test_two_runs_in_one_week_send_one_copy_each(tmp_path: Path, smtp) -> None:
    root = make_project(tmp_path / "news", subscribers=5)
    recorder, url = smtp()
    first = run(root, url, "--as-of", AS_OF)
    assert first.exit_code == 0, first.output
    assert "2026-W47" in first.stdout and "sent" in first.stdout
    # the scheduler fires again later the same week
    second = run(root, url, "--as-of", "2026-11-22T09:00:00+00:00")
    assert second.exit_code == 0, second.output
    assert "already sent" in second.stdout
    recipients = Counter(rcpt for rcpt, _ in recorder.received)
    assert sorted(recipients) == sorted(f"reader{i}@example.org" for i in range(5))
    assert set(recipients.values()) == {1}


def test_an_empty_week_sends_nothing(tmp_path: Path, smtp) -> None:
    root = make_project(tmp_path / "news", subscribers=3)
    recorder, url = smtp()
    result = run(root, url, "--as-of", "2026-06-10T12:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert "nothing sent" in result.stdout
    assert recorder.received == []


def test_hold_builds_without_sending_and_send_releases(tmp_path: Path, smtp) -> None:
    root = make_project(tmp_path / "news", subscribers=2)
    recorder, url = smtp()
    held = run(root, url, "--as-of", AS_OF, "--hold")
    assert held.exit_code == 0, held.output and "held" in held.stdout
    again = run(root, url, "--as-of", AS_OF)  # the scheduler does not release a held issue
    assert "held" in again.stdout and recorder.received == []
    release = runner.invoke(app, ["--project", str(root), "send"], env={"DIGEST_SMTP_URL": url})
    assert release.exit_code == 0, release.output
    assert len(recorder.received) == 2


@pytest.mark.slow
def test_a_killed_run_is_completed_by_the_next(tmp_path: Path, smtp) -> None:
    total, concurrency = 60, 4
    root = make_project(tmp_path / "news", subscribers=total)
    config = root / "digest.toml"
    config.write_text(config.read_text().replace("concurrency = 8", f"concurrency = {concurrency}"))
    recorder, url = smtp(delay=0.05)
    env = dict(os.environ, DIGEST_SMTP_URL=url)
    command = [sys.executable, "-m", "digest", "--project", str(root), "run"]
    command += ["--articles", str(ARTICLES), "--as-of", AS_OF]
    # the first run is killed with SIGKILL part way through the list
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(recorder.received) < total // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = len(recorder.received)
    assert 0 < first < total
    # the next scheduled run finishes the job
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = Counter(rcpt for rcpt, _ in recorder.received)
    assert set(counts) == {f"reader{i}@example.org" for i in range(total)}
    duplicates = [rcpt for rcpt, n in counts.items() if n > 1]
    assert all(counts[r] == 2 for r in duplicates)
    assert len(duplicates) <= concurrency  # the in-flight window at the kill
    for rcpt in duplicates:  # a resent copy is recognisable by its Message-ID
        assert len({mid for r, mid in recorder.received if r == rcpt}) == 1


def test_the_period_is_the_editors_calendar_not_utc() -> None:
    from datetime import datetime

    new_years_eve = datetime.fromisoformat("2026-12-31T23:00:00-05:00")  # 04:00 UTC on 1 January
    assert period_key(new_years_eve, "month") == "2026-12"
    assert period_key(new_years_eve, "day") == "2026-12-31"


def test_a_run_just_after_the_week_turns_does_not_resend_last_weeks_stories(
    tmp_path: Path, smtp
) -> None:
    root = make_project(tmp_path / "news", subscribers=3)
    recorder, url = smtp()
    late_sunday = run(root, url, "--as-of", "2026-11-22T23:30:00+00:00")
    assert late_sunday.exit_code == 0 and "2026-W47" in late_sunday.stdout
    # a retry fires half an hour later, in the next ISO week, over the same 7-day window
    monday = run(root, url, "--as-of", "2026-11-23T00:30:00+00:00")
    assert monday.exit_code == 0, monday.output
    assert "2026-W48" in monday.stdout and "nothing sent" in monday.stdout
    assert len(recorder.received) == 3


def test_too_few_stories_say_so(tmp_path: Path, smtp) -> None:
    root = make_project(tmp_path / "news", subscribers=2)
    config = root / "digest.toml"
    config.write_text(config.read_text().replace("min_stories = 1", "min_stories = 20"))
    recorder, url = smtp()
    result = run(root, url, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "only 6 political stories (selection.min_stories is 20); nothing sent" in result.stdout
    assert recorder.received == []


def test_a_run_overlapping_another_leaves_the_send_to_it(tmp_path: Path, smtp) -> None:
    from digest.project import open_project
    from digest.send import IssueLock

    root = make_project(tmp_path / "news", subscribers=2)
    recorder, url = smtp()
    assert run(root, url, "--as-of", AS_OF, "--hold").exit_code == 0
    project = open_project(root)
    issue = project.store.issue_by_key("2026-W47")
    assert issue is not None
    project.store.set_issue_status(issue.id, "approved")  # as if approved, another run sending
    with IssueLock(project.state_dir, issue.id):
        result = run(root, url, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "being sent by another run" in result.stdout and "Traceback" not in result.output
    assert recorder.received == []


def test_a_run_after_a_hand_send_in_the_same_week_sends_nothing(
    tmp_path: Path, store_backend: str
) -> None:
    """An editor builds and sends the week's issue by hand (its own key, build-…); the cron job
    later that week must see it, say so, and exit 0, not build and send a second issue."""
    from datetime import UTC, datetime, timedelta

    root = init_project(tmp_path / "news").root
    (root / "subscribers" / "readers.csv").write_text("email,name\nann@example.net,Ann\n")
    (root / "subscribers" / "example.csv").unlink()
    week = tmp_path / "this-week"
    week.mkdir()
    yesterday = (datetime.now(UTC) - timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    for path in ARTICLES.glob("*.txt"):  # the sample week, as if published today
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"Published Date: .*", f"Published Date: {yesterday}", text)
        (week / path.name).write_text(text, encoding="utf-8")
    built = runner.invoke(app, ["--project", str(root), "build", "--articles", str(week)])
    assert built.exit_code == 0, built.output
    hand = runner.invoke(app, ["--project", str(root), "send", built.stdout.split()[-1]])
    assert hand.exit_code == 0, hand.output
    outbox = sorted((root / "outbox").rglob("*"))
    # news arrives after the hand send; the cron job ingests it
    later = tmp_path / "later"
    later.mkdir()
    fresh = REPO / "tests" / "fixtures" / "classify" / "modern" / "political_uk_commons.txt"
    title, _, body = fresh.read_text(encoding="utf-8").partition("\n")
    (later / "fresh.txt").write_text(
        f"x\nSubscribe To Our Newsletter\n\n{title}\n\n\n\n{body.strip()}\n\nBy: Staff\n"
        f"Title: {title}\nSourced From: news.example/fresh\nPublished Date: {yesterday}\n",
        encoding="utf-8",
    )
    as_of = datetime.now(UTC).isoformat()
    cron = runner.invoke(
        app, ["--project", str(root), "run", "--as-of", as_of, "--articles", str(later)]
    )
    assert cron.exit_code == 0, cron.output
    assert "built by hand, 6 stories) already went out this week" in cron.stdout
    listed = runner.invoke(app, ["--project", str(root), "issue", "list", "--json"])
    assert len(listed.stdout.strip().splitlines()) == 1  # no second issue was built
    assert sorted((root / "outbox").rglob("*")) == outbox  # and nothing more was mailed


def test_period_bounds_hold_the_period_in_its_own_time_zone() -> None:
    from datetime import datetime

    from digest.schedule import period_bounds

    friday = datetime.fromisoformat("2026-11-20T18:00:00+01:00")
    start, end = period_bounds(friday, "week")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-16T00:00:00+01:00",
        "2026-11-23T00:00:00+01:00",
    )
    start, end = period_bounds(datetime.fromisoformat("2026-12-31T23:00:00+00:00"), "month")
    assert (start.day, start.month, end.year, end.month, end.day) == (1, 12, 2027, 1, 1)
    start, end = period_bounds(friday, "day")
    assert end - start == timedelta(days=1) and start.hour == 0


def test_an_issue_scheduled_by_the_editor_is_sent_by_the_first_run_after_its_time(
    tmp_path: Path, store_backend: str
) -> None:
    """Issue 23, day one: `digest issue schedule ID --at …`, which `digest run` honours."""
    root = init_project(tmp_path / "news").root
    (root / "subscribers" / "example.csv").write_text("email,name\nann@example.net,Ann\n")
    project = ["--project", str(root)]
    built = runner.invoke(
        app, [*project, "build", "--articles", str(ARTICLES), "--as-of", "2026-11-20T07:00:00Z"]
    )
    assert built.exit_code == 0, built.output
    scheduled = runner.invoke(app, [*project, "issue", "schedule", "1", "--at", "2026-11-20 09:00"])
    assert scheduled.exit_code == 0, scheduled.output
    assert "sends it from 2026-11-20 09:00 UTC" in scheduled.stderr
    early = runner.invoke(app, [*project, "run", "--as-of", "2026-11-20T08:00:00+00:00"])
    assert early.exit_code == 0, early.output
    assert "scheduled: a run from 2026-11-20 09:00 UTC sends it" in early.stdout
    assert not (root / "outbox").exists() or not list((root / "outbox").rglob("*.*"))
    on_time = runner.invoke(app, [*project, "run", "--as-of", "2026-11-20T09:30:00+00:00"])
    assert on_time.exit_code == 0, on_time.output
    assert "issue 1 (" in on_time.stdout and "sent" in on_time.stdout
    listed = runner.invoke(app, [*project, "issue", "list", "--json"])
    assert len(listed.stdout.strip().splitlines()) == 1  # the scheduled issue, not a new build
    bad = runner.invoke(app, [*project, "issue", "schedule", "1", "--at", "tuesday"])
    assert bad.exit_code == 2 and "--at 'tuesday'" in bad.stderr
