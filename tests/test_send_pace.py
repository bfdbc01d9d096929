"""The hourly cap remembers what earlier runs sent: a restarted send must not double a quota."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from digest.models import IssueEntry, Subscriber
from digest.send import Pace
from digest.store import Store


def test_sends_of_the_last_hour_come_from_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.db.execute(
        "INSERT INTO articles (body_hash, title, body, added) VALUES ('h','t','b','x')"
    )
    entry = IssueEntry(1, "t", None, "", None, [], ["s"], 1.0)
    issue = store.create_issue(key="k", subject="s", entries=[entry], html="h", text="t")
    people = [Subscriber(email=f"p{i}@example.org") for i in range(3)]
    store.add_recipients(issue.id, people)
    store.mark_send(issue.id, "p0@example.org", "sent")
    store.mark_send(issue.id, "p1@example.org", "failed", reply="550 no")
    ago = store.sent_in_last_hour()
    assert len(ago) == 1 and 0 <= ago[0] < 60


def test_a_full_hour_from_earlier_runs_blocks_the_next_message() -> None:
    async def go(cap: int, sent_ago: list[float]) -> None:
        await asyncio.wait_for(Pace(hourly_cap=cap, sent_ago=sent_ago).wait(), timeout=0.5)

    asyncio.run(go(3, [10.0, 20.0]))  # room for one more
    asyncio.run(go(2, [10.0, 3700.0]))  # the older one is outside the hour
    with pytest.raises(TimeoutError):
        asyncio.run(go(2, [10.0, 20.0]))  # the quota is used up: it waits, for most of an hour
