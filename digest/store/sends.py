"""Sends: one row per issue × subscriber, with its status, attempts and last reply."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.models import Subscriber
from digest.store.database import Database, Row
from digest.store.timeutil import now_utc

SEND_STATUSES = ("pending", "sent", "failed", "deferred", "skipped")

# The reply recorded for an address given up on after too many temporary failures starts with
# this: such a failure says nothing about the address being gone, so it is not a bounce.
GAVE_UP_PREFIX = "gave up after "


@dataclass
class SendCounts:
    pending: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "pending": self.pending,
        }


@dataclass(frozen=True)
class SendRow:
    """One (issue, subscriber) row to deliver: `attempts` over every run so far, `next_try` (a
    Unix time) for a deferred row."""

    rowid: int
    subscriber: Subscriber
    attempts: int = 0
    next_try: float | None = None


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(
        email=row["email"],
        list=row["list"],
        name=row["name"],
        attributes=json.loads(row["attributes"]),
    )


def _send_row(row: Row) -> SendRow:
    return SendRow(
        rowid=int(row["rowid"]),
        subscriber=_subscriber(row),
        attempts=int(row["attempts"]),
        next_try=row["next_try"],
    )


class Sends:
    db: Database

    def add_recipients(self, issue_id: int, subscribers: Iterable[Subscriber]) -> int:
        """Snapshot the recipients of an issue: one pending row each, unless already there (so a
        resumed send never re-queues someone already sent). Returns how many were added."""
        with self.db.transaction():
            return self.db.executemany(
                """INSERT INTO sends (issue_id, email, list, name, attributes)
                   VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                [
                    (issue_id, s.email, s.list, s.name, json.dumps(s.attributes))
                    for s in subscribers
                ],
            )

    def recipients(self, issue_id: int, statuses: tuple[str, ...]) -> Iterator[Subscriber]:
        """Stream the recipients of an issue in the given states, a batch at a time."""
        after = 0
        while batch := self.recipient_batch(issue_id, statuses, after=after):
            for row in batch:
                yield row.subscriber
            after = batch[-1].rowid

    def mark_send(
        self,
        issue_id: int,
        email: str,
        status: str,
        *,
        reply: str | None = None,
        next_try: float | None = None,
        count_attempt: bool = True,
    ) -> None:
        if status not in SEND_STATUSES:
            raise ValueError(status)
        self.db.execute(
            """UPDATE sends SET status = ?, last_reply = coalesce(?, last_reply),
               next_try = ?, attempts = attempts + ?, updated = ?
               WHERE issue_id = ? AND email = ?""",
            (status, reply, next_try, int(count_attempt), now_utc().isoformat(), issue_id, email),
        )

    def recipient_batch(
        self, issue_id: int, statuses: tuple[str, ...], *, after: int = 0, limit: int = 500
    ) -> list[SendRow]:
        """Up to `limit` rows in the given states with rowid > `after`, in rowid order: a caller
        that updates rows between batches never sees one twice or skips one."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.all(
            f"SELECT rowid, email, list, name, attributes, attempts, next_try FROM sends"
            f" WHERE issue_id = ? AND status IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
            (issue_id, *statuses, after, limit),
        )
        return [_send_row(row) for row in rows]

    def has_recipients(self, issue_id: int) -> bool:
        found = self.db.one("SELECT 1 FROM sends WHERE issue_id = ? LIMIT 1", (issue_id,))
        return found is not None

    def consecutive_failures(self, email: str) -> int:
        """Issues whose send to `email` failed permanently since the last one delivered to it:
        the bounce count that decides suppression. Addresses given up on after temporary
        failures do not count."""
        return int(
            self.db.scalar(
                """SELECT count(*) FROM sends WHERE email = ? AND status = 'failed'
                   AND coalesce(last_reply, '') NOT LIKE ? AND issue_id >
                   coalesce((SELECT max(issue_id) FROM sends
                             WHERE email = ? AND status = 'sent'), 0)""",
                (email, GAVE_UP_PREFIX + "%", email),
            )
        )

    def sent_in_last_hour(self) -> list[float]:
        """Seconds ago of every message sent in the last hour, by any issue (for hourly caps)."""
        now = now_utc()
        since = (now - timedelta(hours=1)).isoformat()
        return [
            (now - datetime.fromisoformat(row[0])).total_seconds()
            for row in self.db.all(
                "SELECT updated FROM sends WHERE status = 'sent' AND updated > ?", (since,)
            )
        ]

    def send_counts(self, issue_id: int) -> SendCounts:
        counts = SendCounts()
        for row in self.db.all(
            "SELECT status, count(*) FROM sends WHERE issue_id = ? GROUP BY status", (issue_id,)
        ):
            setattr(counts, row[0], int(row[1]))
        return counts
