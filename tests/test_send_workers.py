"""Several `digest send` processes on one issue, sharing a real PostgreSQL (conftest's
`postgres`), against a loopback SMTP server: the work is split, a worker killed with SIGKILL
leaves its rows to the others, and a stop recorded by one worker stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from send_support import FaultyRelay, Relay, make_project
from typer.testing import CliRunner

from digest.cli import app
from digest.project import Project
from digest.store import Store

CONCURRENCY = 4
LEASE = 2.0


@pytest.fixture
def shared_project(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("DIGEST_DATABASE_URL", postgres_url)
    monkeypatch.setenv("DIGEST_SECRET", "one secret for every worker and replica")
    return make_project(tmp_path / "p", [f"r{n:03d}@example.net" for n in range(300)])


def _worker(project: Project, relay: Relay) -> subprocess.Popen[bytes]:
    args = ["--project", str(project.root), "send", "--smtp-url", relay.url, "--json"]
    args += ["--concurrency", str(CONCURRENCY), "--lease", str(LEASE), "--retry-base", "0.05"]
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        env=dict(os.environ),  # DIGEST_DATABASE_URL and PGPASSWORD
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _send_here(project: Project, handler: FaultyRelay) -> Any:
    """`digest send` in this process, against a relay running `handler` for as long."""
    relay = Relay(handler).start()
    try:
        return CliRunner().invoke(
            app, ["--project", str(project.root), "send", "--smtp-url", relay.url]
        )
    finally:
        relay.stop()


@pytest.mark.slow
def test_three_workers_one_killed_every_subscriber_gets_one_copy(shared_project: Project) -> None:
    addresses = [f"r{n:03d}@example.net" for n in range(300)]
    handler = FaultyRelay(delay=0.05)
    relay = Relay(handler).start()
    store = Store.connect(shared_project.config.store_url)
    issue_id = store.latest_issue().id
    try:
        workers = [_worker(shared_project, relay) for _ in range(3)]
        deadline = time.monotonic() + 60
        # all three at work on the one issue, then a while longer
        while store.live_workers(issue_id) < 3 and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), [
                w.communicate()[1].decode() for w in workers if w.poll() is not None
            ]
            time.sleep(0.01)
        wanted = len(handler.received) + 30
        while len(handler.received) < wanted and time.monotonic() < deadline:
            time.sleep(0.002)
        assert store.live_workers(issue_id) == 3
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        assert len(handler.received) < len(addresses)  # killed mid-send, not after
        outputs = [w.communicate(timeout=120) for w in workers[1:]]
    finally:
        relay.stop()
    for worker, (stdout, stderr) in zip(workers[1:], outputs, strict=True):
        assert worker.returncode == 0, stderr.decode()
        # each survivor's summary is the issue's as a whole, all workers added up
        assert json.loads(stdout.decode().splitlines()[-1])["sent"] == 300
    copies = handler.copies()
    assert set(copies) == set(addresses)  # nobody skipped: the dead worker's rows were taken
    duplicated = [a for a, n in copies.items() if n > 1]
    assert len(duplicated) <= CONCURRENCY  # at most what was in flight in the killed worker
    assert all(copies[a] == 2 for a in duplicated)
    assert all(len(handler.message_ids(a)) == 1 for a in addresses)  # same Message-ID
    counts = store.send_counts(issue_id)
    assert (counts.sent, counts.pending, counts.deferred) == (300, 0, 0)
    assert store.issue(issue_id).status == "sent" and store.live_workers(issue_id) == 0


@pytest.mark.slow
def test_a_stop_recorded_by_one_worker_stops_the_others_and_is_recorded_once(
    shared_project: Project,
) -> None:
    handler = FaultyRelay(delay=0.02)
    relay = Relay(handler).start()
    store = Store.connect(shared_project.config.store_url)
    issue_id = store.latest_issue().id
    try:
        worker = _worker(shared_project, relay)
        deadline = time.monotonic() + 60
        while len(handler.received) < 20 and time.monotonic() < deadline:
            time.sleep(0.002)
        # what another worker does when the relay refuses it (a failed login, a 554 greeting)
        assert store.stop_send(issue_id, "smtp://relay: login refused (535)")
        assert not store.stop_send(issue_id, "a second worker's reason")  # recorded once
        _, stderr = worker.communicate(timeout=60)
    finally:
        relay.stop()
    assert worker.returncode == 1
    assert "stopped by another worker: smtp://relay: login refused (535)" in stderr.decode()
    assert store.send_stopped(issue_id) == "smtp://relay: login refused (535)"
    assert 20 <= len(handler.received) < 300  # it stopped early
    # nobody is sending any more: the next run clears the stop and finishes the issue
    result = _send_here(shared_project, handler)
    assert result.exit_code == 0, result.output
    assert store.send_stopped(issue_id) is None
    assert set(handler.copies()) == {f"r{n:03d}@example.net" for n in range(300)}


def test_a_relay_refusing_us_is_recorded_as_the_stop(shared_project: Project) -> None:
    result = _send_here(shared_project, FaultyRelay(mail_reply="554 5.7.1 sender blocked"))
    assert result.exit_code != 0
    store = Store.connect(shared_project.config.store_url)
    stopped = store.send_stopped(store.latest_issue().id)
    assert stopped is not None and "554" in stopped


def test_a_shared_store_needs_one_secret_for_every_host(
    shared_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_SECRET")
    result = CliRunner().invoke(app, ["--project", str(shared_project.root), "send"])
    assert result.exit_code == 2 and "set DIGEST_SECRET on every host" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (shared_project.state_dir / "secret").exists()  # none generated on this host


@pytest.mark.slow
def test_an_unsubscribe_at_one_web_replica_is_honoured_by_every_worker(
    shared_project: Project,
) -> None:
    from starlette.testclient import TestClient

    from digest.project import open_project
    from digest.tokens import load_secret, make_token
    from digest.web import create_app

    replicas = [open_project(shared_project.root) for _ in range(2)]  # each with its own pool
    clients = [TestClient(create_app(p), base_url=p.config.base_url) for p in replicas]
    secret = load_secret(shared_project.state_dir, shared_project.config.secret)
    token = make_token(secret, "r007@example.net", "list0")
    for client in clients:  # the mail client retries through the other replica: still one
        response = client.post(
            f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
    for replica in replicas:
        replica.close()
    store = Store.connect(shared_project.config.store_url)
    assert store.suppression_count() == 1
    handler = FaultyRelay()
    relay = Relay(handler).start()
    try:
        workers = [_worker(shared_project, relay) for _ in range(2)]
        for worker in workers:
            worker.communicate(timeout=120)
    finally:
        relay.stop()
    assert [w.returncode for w in workers] == [0, 0]
    assert "r007@example.net" not in handler.copies() and len(handler.copies()) == 299
    assert store.send_counts(store.latest_issue().id).skipped == 1
