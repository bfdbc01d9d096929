"""`kill -9` of a sending process, then `digest send` again: nobody skipped, duplicates only
within the in-flight window and with the Message-ID of the first copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from send_support import FaultyRelay, Relay, make_project
from typer.testing import CliRunner

from digest.cli import app

CONCURRENCY = 4


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [5, 40])
def test_sigkill_mid_send_then_resume(tmp_path: Path, kill_after: int) -> None:
    addresses = [f"r{n:03d}@example.net" for n in range(120)]
    handler = FaultyRelay(delay=0.01)
    project = make_project(tmp_path / "p", addresses)
    relay = Relay(handler).start()
    args = [
        "--project",
        str(project.root),
        "send",
        "--smtp-url",
        relay.url,
        "--concurrency",
        str(CONCURRENCY),
        "--retry-base",
        "0.05",
        "--json",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while len(handler.received) < kill_after and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        before = len(handler.received)
        assert before < len(addresses)  # killed mid-send, not after

        # the dead process's flock is gone: the resume is not blocked
        result = CliRunner().invoke(app, args, env={"DIGEST_SMTP_URL": ""})
        assert result.exit_code == 0, result.stderr
    finally:
        relay.stop()

    copies = handler.copies()
    assert set(copies) == set(addresses)  # nobody skipped
    duplicated = [a for a, n in copies.items() if n > 1]
    assert len(duplicated) <= CONCURRENCY
    assert all(copies[a] == 2 for a in duplicated)
    for address in addresses:
        assert len(handler.message_ids(address)) == 1
    counts = project.store.send_counts(project.store.latest_issue().id)
    assert (counts.sent, counts.pending, counts.deferred) == (120, 0, 0)
