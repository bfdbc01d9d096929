"""What counting costs a story-link redirect (issue 27). Not a test: prints numbers and whether
the target is met.

    python bench/clicks.py [--follows 300] [--rounds 3] [--database-url postgresql://...]

A project with `[stats] clicks = true` builds an issue from examples/articles and sends it to
one reader through the outbox; `digest serve`'s app runs under a real uvicorn on loopback, and
one client follows the first story's counted link `--follows` times in a row (keep-alive):

- counted: the issue is sent, so each follow adds one to its count in the store;
- baseline: the same link, the issue set back to approved, so each follow is verified and
  redirected exactly the same way but not counted.

Rounds alternate the two. Target: the median counted follow is ≤ 5 ms slower than the median
baseline one, and the count equals the counted follows (none lost).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import uvicorn

from digest.build import build_issue
from digest.project import init_project, open_project
from digest.send import send_issue
from digest.web import create_app, server_config

REPO = Path(__file__).resolve().parent.parent
TARGET_MS = 5.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def sent_project(root: Path) -> tuple[int, str]:
    """A project with one issue sent to one reader; (issue id, the first story's link path)."""
    project = init_project(root)
    config = project.config.path
    text = config.read_text(encoding="utf-8").replace("clicks = false", "clicks = true")
    config.write_text(text.replace("digest@example.org", "digest@news.example.net"))
    for path in project.subscribers_dir.glob("*.csv"):
        path.unlink()
    (project.subscribers_dir / "one.csv").write_text("email\nreader@example.net\n")
    project.close()
    project = open_project(root)
    built = build_issue(
        project,
        articles=[str(REPO / "examples" / "articles")],
        as_of=datetime.fromisoformat("2026-11-20T18:00:00+00:00"),
        status="approved",
    )
    assert built.issue is not None, "no issue built"
    send_issue(project, built.issue.id)
    text = next(p for p in project.outbox_dir.rglob("*") if p.is_file()).read_text()
    found = re.search(r"https?://[^/\s]+(/r/\d+/1/[A-Za-z0-9_-]+)", text)
    assert found, "no counted link in the sent copy"
    project.close()
    return built.issue.id, found.group(1)


def follow_times(base: str, path: str, follows: int) -> list[float]:
    times = []
    with httpx.Client(headers={"User-Agent": BROWSER}) as client:
        for _ in range(follows):
            start = time.perf_counter()
            response = client.get(base + path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 302, response.status_code
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--follows", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="", help="PostgreSQL (else SQLite)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DIGEST_DATABASE_URL"] = args.database_url
        os.environ.setdefault("DIGEST_SECRET", "bench-clicks-secret-0123456789abcdefghij")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "news"
        issue_id, path = sent_project(root)
        project = open_project(root)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(server_config(create_app(project), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        counted: list[float] = []
        baseline: list[float] = []
        try:
            for _ in range(args.rounds):
                project.store.set_issue_status(issue_id, "sent")
                counted += follow_times(base, path, args.follows)
                project.store.set_issue_status(issue_id, "approved")
                baseline += follow_times(base, path, args.follows)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        [count] = project.store.story_counts([issue_id])
        project.close()
    counted_ms = statistics.median(counted) * 1000
    baseline_ms = statistics.median(baseline) * 1000
    added = counted_ms - baseline_ms
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{backend}, {len(counted)} counted and {len(baseline)} baseline follows")
    print(f"median follow: baseline {baseline_ms:.2f} ms, counted {counted_ms:.2f} ms")
    print(f"counting adds {added:.2f} ms (ratio {counted_ms / baseline_ms:.2f}x)")
    met = added <= TARGET_MS and count.clicks == len(counted)
    print(f"count in the store: {count.clicks} (expected {len(counted)})")
    print(f"target ≤ {TARGET_MS:.0f} ms and no lost count: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
