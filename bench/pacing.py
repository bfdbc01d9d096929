"""Sending at the relay's pace (issue 25, item 1). Not a test: prints numbers and whether the
targets are met.

    python bench/pacing.py [--outage-messages 300] [--throttle-messages 120]

Each scenario runs `digest send` (its own process, as an editor would) against the loopback test
relay of tests/send_support.py, and runs it again while anything is left, as the targets allow:

1. outage: 300 subscribers at --rate 20; the relay goes down for 3 s after 100 messages.
   Target: all delivered exactly once within 60 s, in at most one rerun.
2. throttling: 120 subscribers at --rate 5; the relay answers "450 4.7.1" to a MAIL FROM beyond
   8 in any 4 s. Target: all delivered within 120 s over at most two runs, none failed.

The baseline each prints its time against is the ideal: the messages at the configured rate plus
the outage (15 s + 3 s), or at the relay's own limit (2 per second: 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]

from send_support import FaultyRelay, Relay, make_project  # noqa: E402


def send_until_done(root: Path, relay: Relay, rate: float, runs: int) -> tuple[float, list[dict]]:
    """`digest send` until it exits 0, at most `runs` times: the time taken and each summary."""
    summaries = []
    started = time.perf_counter()
    for _ in range(runs):
        argv = ["--project", str(root), "send", "--smtp-url", relay.url, "--json"]
        done = subprocess.run(
            [sys.executable, "-m", "digest", *argv, "--rate", str(rate)],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=3600,
        )
        lines = done.stdout.strip().splitlines()
        summary = json.loads(lines[-1]) if lines else {}
        summary["exit"] = done.returncode
        summary["notices"] = sum(1 for line in done.stderr.splitlines() if line.strip())
        summaries.append(summary)
        if done.returncode == 0:
            break
    return time.perf_counter() - started, summaries


def report(
    name: str,
    elapsed: float,
    ideal: float,
    summaries: list[dict],
    copies: dict,
    addresses: list[str],
    limit: float,
    runs: int,
) -> None:
    once = sum(1 for a in addresses if copies.get(a) == 1)
    twice = sum(1 for a in addresses if copies.get(a, 0) > 1)
    failed = summaries[-1].get("failed", 0)
    met = once == len(addresses) and elapsed <= limit and len(summaries) <= runs and not failed
    print(
        f"{name}: {elapsed:.1f} s over {len(summaries)} run(s); delivered once {once}/"
        f"{len(addresses)}, more than once {twice}, failed {failed}"
    )
    print(f"  ideal {ideal:.0f} s: {elapsed / ideal:.2f}× the ideal; runs: {summaries}")
    print(
        f"  target: all once within {limit:.0f} s in at most {runs} run(s):"
        f" {'met' if met else 'NOT met'}"
    )


def outage(tmp: Path, messages: int) -> None:
    addresses = [f"o{n:04d}@example.net" for n in range(messages)]
    project = make_project(tmp / "outage", addresses)
    project.close()
    relay = Relay(FaultyRelay()).start()
    try:
        down = relay.restart_after(messages // 3, pause=3.0)
        elapsed, summaries = send_until_done(project.root, relay, 20.0, runs=2)
        down.join(timeout=10)
        copies = dict(relay.handler.copies())
    finally:
        relay.stop()
    report(
        "outage (3 s, rate 20/s)", elapsed, messages / 20 + 3, summaries, copies, addresses, 60.0, 2
    )


def throttling(tmp: Path, messages: int) -> None:
    addresses = [f"t{n:04d}@example.net" for n in range(messages)]
    project = make_project(tmp / "throttling", addresses)
    project.close()
    handler = FaultyRelay(mail_quota=(8, 4.0))
    relay = Relay(handler).start()
    try:
        elapsed, summaries = send_until_done(project.root, relay, 5.0, runs=2)
        copies = dict(handler.copies())
    finally:
        relay.stop()
    refused = sum(1 for _, accepted in handler.mail_log if not accepted)
    report(
        "throttling (8 per 4 s, rate 5/s)",
        elapsed,
        messages / 2,
        summaries,
        copies,
        addresses,
        120.0,
        2,
    )
    print(f"  MAIL FROM refused with 450 4.7.1: {refused} of {len(handler.mail_log)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outage-messages", type=int, default=300)
    parser.add_argument("--throttle-messages", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outage(Path(tmp), args.outage_messages)
        throttling(Path(tmp), args.throttle_messages)


if __name__ == "__main__":
    main()
