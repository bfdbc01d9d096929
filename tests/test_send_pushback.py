"""Sending at the relay's pace, against the loopback relay (issue 25, items 1 and 2): an outage
is one event and the send rides it out; a relay that throttles (450 4.7.1 after 8 MAIL FROM per
4 s) slows the rate down and lets it climb back, and nobody fails; a greylisting relay gets its
retry, announced, also with --max-attempts 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from send_support import FaultyRelay, Relay, make_project

from digest.project import Project

# a hang guard, not a timing assertion: the old pacing took hours for these
HANG = 150


def send(project: Project, relay: Relay, *args: str) -> tuple[int, dict[str, int], str]:
    """`digest send` in its own process; its exit code, JSON summary and stderr."""
    argv = ["--project", str(project.root), "send", "--smtp-url", relay.url, "--json", *args]
    done = subprocess.run(
        [sys.executable, "-m", "digest", *argv],
        capture_output=True,
        text=True,
        timeout=HANG,
        env=dict(os.environ),
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}, done.stderr


def runs_until_done(project: Project, relay: Relay, *args: str, most: int) -> list[str]:
    """Send, and send again while anything is left, at most `most` runs; each run's stderr."""
    said = []
    for _ in range(most):
        code, summary, stderr = send(project, relay, *args)
        said.append(stderr)
        assert summary["failed"] == 0, stderr
        if code == 0:
            return said
        assert code == 1, stderr
    raise AssertionError(f"not done after {most} runs: {said}")


def test_an_outage_is_one_event_and_everyone_is_reached_once(tmp_path: Path) -> None:
    addresses = [f"r{n:03d}@example.net" for n in range(120)]
    project = make_project(tmp_path / "p", addresses)
    relay = Relay(FaultyRelay()).start()
    try:
        outage = relay.restart_after(40, pause=3.0)  # down for 3 s, mid-send
        said = runs_until_done(project, relay, "--rate", "20", most=2)
        outage.join(timeout=10)
    finally:
        relay.stop()
    assert "stopped after" not in "".join(said)
    assert relay.handler.copies() == dict.fromkeys(addresses, 1)
    # the rounds it counted: a few for a 3 s outage, never one per waiting connection
    rounds = "".join(said).count("cannot reach the relay")
    assert 1 <= rounds <= 3, said


def test_a_throttling_relay_slows_the_send_down_and_nobody_fails(tmp_path: Path) -> None:
    addresses = [f"t{n:03d}@example.net" for n in range(48)]
    project = make_project(tmp_path / "p", addresses)
    handler = FaultyRelay(mail_quota=(8, 4.0))
    relay = Relay(handler).start()
    try:
        said = runs_until_done(project, relay, "--rate", "5", most=2)
    finally:
        relay.stop()
    assert relay.handler.copies() == dict.fromkeys(addresses, 1)
    assert "the relay is throttling us (450 4.7.1" in said[0]
    assert "stopped" not in "".join(said)
    # each throttle was one event: far fewer refusals than messages
    refused = sum(1 for _, accepted in handler.mail_log if not accepted)
    assert refused < len(addresses) // 2, refused


def test_greylisting_is_recognised_retried_and_announced(tmp_path: Path) -> None:
    addresses = [f"g{n:02d}@example.net" for n in range(12)]
    project = make_project(tmp_path / "p", addresses)
    handler = FaultyRelay(greylist=True)
    relay = Relay(handler).start()
    try:
        code, summary, stderr = send(
            project, relay, "--max-attempts", "1", "--greylist-delay", "1.5"
        )
    finally:
        relay.stop()
    assert code == 0, stderr
    assert summary == {"sent": 12, "failed": 0, "deferred": 0, "skipped": 0}
    assert relay.handler.copies() == dict.fromkeys(addresses, 1)
    assert handler.greylisted == set(addresses)  # each was greylisted first
    assert "greylisted by the relay (451 4.7.1" in stderr
    assert "tried again in 2 s" in stderr
    # greylisting is not the address's fault: no attempt counted against anyone
    attempts = project.store.db.execute("SELECT max(attempts) FROM sends").fetchone()[0]
    assert attempts == 1


def test_a_long_greylisting_wait_is_said_not_sat_through_silently(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", ["only@example.net"])
    relay = Relay(FaultyRelay(greylist=True)).start()
    try:
        code, _, stderr = send(project, relay, "--max-attempts", "1", "--greylist-delay", "12")
    finally:
        relay.stop()
    assert code == 0, stderr
    assert "waiting 12 s, until" in stderr and "1 of them greylisted" in stderr
