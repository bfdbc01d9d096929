"""The hostile bounce mailbox (issue 24). Not a test: prints numbers and whether targets are met.

    python bench/bounces.py [--junk-mib 1] [--no-baseline]

A project sends its sample issue (tests/fixtures/email) to two readers through the outbox; then
a Maildir holds one real DSN about one of them (tests/fixtures/bounces/postfix-hard.eml), a
130 KB mail of 2,000 nested multipart parts and a 1 MiB junk mail shaped for flufl.bounce's
slowest heuristics (a phrase that starts one, then 16,000-character lines).

- baseline: what the unguarded path (`email` parser + flufl.bounce on the whole message, as
  before issue 24) costs on the same three messages; the bomb raises RecursionError there;
- first run: `process_bounces` on the mailbox. Target ≤ 15 s, and the DSN's reader suppressed;
- second run: the junk is still there, the same bomb has arrived again. Target ≤ 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mailbox
import re
import sys
import tempfile
import time
from datetime import datetime
from email import message_from_bytes
from pathlib import Path

from flufl.bounce import all_failures

from digest.bounces import process_bounces
from digest.models import Article, IssueEntry
from digest.project import init_project, open_project
from digest.render import render_issue
from digest.send import send_issue

REPO = Path(__file__).resolve().parent.parent
READERS = ["gone@example.net", "ok@example.net"]
FIRST_TARGET, SECOND_TARGET = 15.0, 5.0


def nested(depth: int) -> bytes:
    head = b"From: a@attacker.example\r\nSubject: x\r\nMessage-ID: <nest@attacker.example>\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi" + closing + b"\r\n"


def junk(size: int) -> bytes:
    head = (
        b"From: a@attacker.example\r\nSubject: offer\r\nMessage-ID: <junk@attacker.example>\r\n"
        b"Content-Type: text/plain\r\n\r\nYour message could not be delivered to\r\n"
    )
    line = b"a" * 16000 + b"\r\n"
    return head + line * (size // len(line))


def sent_project(root: Path) -> tuple[Path, bytes]:
    """A project that sent its issue; the DSN about READERS[0]'s copy."""
    project = init_project(root)
    for path in project.subscribers_dir.glob("*.csv"):
        path.unlink()
    rows = "".join(f"{a},Reader\n" for a in READERS)
    (project.subscribers_dir / "readers.csv").write_text(f"email,name\n{rows}", encoding="utf-8")
    config = project.config.path
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "[transport]\n", '[transport]\nbounce_address = "bounces+{token}@example.org"\n'
        ),
        encoding="utf-8",
    )
    project.close()
    project = open_project(root)
    data = json.loads((REPO / "tests/fixtures/email/sample_issue.json").read_text("utf-8"))
    entries = []
    for item in data["entries"]:
        published = datetime.fromisoformat(item["published"])
        article_id, _ = project.store.add_article(
            Article(
                title=item["title"],
                body=" ".join(item["summary"]),
                source_url=item["source_url"],
                published=published,
            )
        )
        entries.append(
            IssueEntry(
                article_id=article_id,
                title=item["title"],
                source_url=item["source_url"],
                source_name=item["source_url"].split("/")[2],
                published=published,
                authors=item["authors"],
                summary=item["summary"],
                political_score=item["political_score"],
            )
        )
    parts = render_issue(
        entries, config=project.config, template_dirs=project.template_dirs, subject="Bench"
    )
    issue = project.store.create_issue(
        key="2026-W10",
        subject="Bench",
        entries=entries,
        html=parts.html,
        text=parts.text,
        status="approved",
    )
    send_issue(project, issue.id)
    outbox = mailbox.Maildir(project.outbox_dir, create=False)
    copy = next(m for m in outbox if READERS[0] in str(m["To"]))
    fixture = (REPO / "tests/fixtures/bounces/postfix-hard.eml").read_text("utf-8")
    web_link = re.findall(r"<(https?://[^>]+)>", str(copy["List-Unsubscribe"]))[0]
    values = {
        "verp": str(copy["Return-Path"]).strip("<>"),
        "bounce": "bounces@example.org",
        "rcpt": READERS[0],
        "message_id": str(copy["Message-ID"]),
        "list_unsubscribe": " ".join(str(copy["List-Unsubscribe"]).split()),
        "web_token": web_link.rpartition("token=")[2],
    }
    for name, value in values.items():
        fixture = fixture.replace(f"@@{name}@@", value)
    project.close()
    return root, fixture.replace("\n", "\r\n").encode()


def baseline(messages: list[bytes]) -> float:
    started = time.perf_counter()
    for data in messages:
        with contextlib.suppress(RecursionError):
            all_failures(message_from_bytes(data))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junk-mib", type=float, default=1.0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    sys.setrecursionlimit(1000)
    bomb, big = nested(2000), junk(int(args.junk_mib * 1024 * 1024))
    with tempfile.TemporaryDirectory() as tmp:
        root, dsn = sent_project(Path(tmp) / "project")
        folder = Path(tmp) / "bounces"
        box = mailbox.Maildir(folder, create=True)
        for data in (dsn, bomb, big):
            box.add(data)
        print(f"mailbox: DSN {len(dsn)} B, nested bomb {len(bomb)} B, junk {len(big)} B")
        rows = []
        if not args.no_baseline:
            rows.append(
                ("baseline: unguarded parse + flufl.bounce", baseline([dsn, bomb, big]), 0.0)
            )
        project = open_project(root)
        started = time.perf_counter()
        first = process_bounces(project, str(folder))
        rows.append(("first run", time.perf_counter() - started, FIRST_TARGET))
        suppressed = project.store.suppression_reason(READERS[0])
        box.add(bomb)  # the same bomb again
        started = time.perf_counter()
        second = process_bounces(project, str(folder))
        rows.append(
            (
                "second run (junk still there, bomb again)",
                time.perf_counter() - started,
                SECOND_TARGET,
            )
        )
        project.close()
    print(f"first run: {first.summary()}")
    print(f"second run: {second.summary()}")
    print(f"{READERS[0]} suppressed: {suppressed}")
    base = rows[0][1] if not args.no_baseline else 0.0
    print("\n| run | seconds | target | met | × baseline |")
    print("|---|---|---|---|---|")
    for label, seconds, target in rows:
        met = "" if not target else ("yes" if seconds <= target else "NO")
        ratio = f"{seconds / base:.3f}" if base else ""
        print(
            f"| {label} | {seconds:.3f} | {f'{target:.0f} s' if target else ''} | {met} | {ratio} |"
        )


if __name__ == "__main__":
    main()
