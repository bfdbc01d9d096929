"""Sends: one row per issue × subscriber, with its status, attempts and last reply."""

from __future__ import annotations

import json
import time
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


def subscriber_of(row: Row) -> Subscriber:
    return Subscriber(
        email=row["email"],
        list=row["list"],
        name=row["name"],
        attributes=json.loads(row["attributes"]),
    )


def _send_row(row: Row) -> SendRow:
    return SendRow(
        rowid=int(row["rowid"]),
        subscriber=subscriber_of(row),
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
        """Issues whose send to `email` failed since the last one delivered to it: the bounce
        count that decides suppression. A failure is a permanent refusal in our SMTP session or
        a soft bounce reported later (`digest bounces`); an issue the relay accepted but that
        bounced is not a delivery. Addresses given up on after temporary failures do not
        count."""
        return int(
            self.db.scalar(
                """SELECT count(DISTINCT issue_id) FROM (
                       SELECT issue_id FROM sends WHERE email = ? AND status = 'failed'
                       AND coalesce(last_reply, '') NOT LIKE ?
                       UNION ALL
                       SELECT issue_id FROM bounces WHERE email = ? AND kind = 'soft'
                       AND issue_id IS NOT NULL
                   ) AS failures WHERE issue_id >
                   coalesce((SELECT max(issue_id) FROM sends AS s
                             WHERE email = ? AND status = 'sent' AND NOT EXISTS (
                                 SELECT 1 FROM bounces AS b WHERE b.email = s.email
                                 AND b.issue_id = s.issue_id)), 0)""",
                (email, GAVE_UP_PREFIX + "%", email, email),
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

    def send_rows(self, issue_id: int, statuses: tuple[str, ...]) -> list[dict[str, object]]:
        """email, list, status, attempts, last_reply, updated of the issue's rows in `statuses`."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.all(
            f"SELECT email, list, status, attempts, last_reply, updated FROM sends"
            f" WHERE issue_id = ? AND status IN ({marks}) ORDER BY rowid",
            (issue_id, *statuses),
        )
        return [dict(row) for row in rows]

    def send_counts(self, issue_id: int) -> SendCounts:
        counts = SendCounts()
        for row in self.db.all(
            "SELECT status, count(*) FROM sends WHERE issue_id = ? GROUP BY status", (issue_id,)
        ):
            setattr(counts, row[0], int(row[1]))
        return counts


class SendLeases:
    """Several workers on one issue: claims, leases, the workers' registry, the stop that one
    worker records for all, and the pacing budget they share."""

    db: Database

    def claim_batch(self, issue_id: int, worker: str, lease: float, limit: int) -> list[SendRow]:
        """Lease up to `limit` pending or deferred rows that no live worker holds, in rowid
        order, to `worker` for `lease` seconds. Its own rows, leased or not, are never claimed
        again: it holds them (in a retry queue) or is done with them for this run."""
        now = time.time()
        with self.db.transaction():
            rows = self.db.all(
                self.db.query("claim_batch"), (worker, now + lease, issue_id, now, worker, limit)
            )
        return sorted((_send_row(row) for row in rows), key=lambda row: row.rowid)

    def renew_leases(self, issue_id: int, worker: str, lease: float) -> None:
        """Keep `worker`'s rows and registration for `lease` more seconds."""
        until = time.time() + lease
        with self.db.transaction():
            self.db.execute(
                "UPDATE sends SET lease_until = ? WHERE issue_id = ? AND worker = ?",
                (until, issue_id, worker),
            )
            self.db.execute(
                """INSERT INTO send_workers (issue_id, worker, started, lease_until)
                   VALUES (?, ?, ?, ?) ON CONFLICT (issue_id, worker)
                   DO UPDATE SET lease_until = excluded.lease_until""",
                (issue_id, worker, now_utc().isoformat(), until),
            )

    def release_leases(self, issue_id: int, worker: str | None = None) -> None:
        """Give up `worker`'s rows and registration (every worker's, without one: the caller
        knows they are dead), so that they can be claimed at once."""
        params: list[object] = [issue_id]
        where = "issue_id = ?"
        if worker is not None:
            where, params = "issue_id = ? AND worker = ?", [issue_id, worker]
        with self.db.transaction():
            self.db.execute(
                f"UPDATE sends SET worker = NULL, lease_until = NULL WHERE {where}", params
            )
            self.db.execute(f"DELETE FROM send_workers WHERE {where}", params)

    def others_lease_until(self, issue_id: int, worker: str) -> float | None:
        """When the last lease other workers hold on rows still to send ends (None: no such
        row), so a worker without work knows how long the rest may take. A lapsed lease counts
        too (a time in the past): its rows are not finished, and may be in the middle of being
        claimed by a third worker right now (row locks a claim skips), so only a look after
        they are claimed or sent can tell whether this worker is done."""
        until = self.db.scalar(
            """SELECT max(lease_until) FROM sends WHERE issue_id = ? AND worker != ?
               AND status IN ('pending', 'deferred')""",
            (issue_id, worker),
        )
        return float(until) if until is not None else None

    def live_workers(self, issue_id: int) -> int:
        return int(
            self.db.scalar(
                "SELECT count(*) FROM send_workers WHERE issue_id = ? AND lease_until >= ?",
                (issue_id, time.time()),
            )
        )

    def stop_send(self, issue_id: int, reason: str) -> bool:
        """Record why the issue's send stopped, unless a worker did already (the first reason
        is the one kept). Returns whether this call recorded it."""
        changed = self.db.execute(
            "UPDATE issues SET stopped = ? WHERE id = ? AND stopped IS NULL", (reason, issue_id)
        ).rowcount
        return bool(changed)

    def undo_send_start(self, issue_id: int) -> bool:
        """Put an issue whose send stopped before a single message was tried back as it was
        before the send (approved, nobody queued, no transport recorded), so it can be reopened;
        False, changing nothing, once any row was attempted or is no longer pending."""
        with self.db.transaction():
            tried = self.db.scalar(
                "SELECT count(*) FROM sends WHERE issue_id = ?"
                " AND (status != 'pending' OR attempts > 0)",
                (issue_id,),
            )
            if tried:
                return False
            self.db.execute("DELETE FROM sends WHERE issue_id = ?", (issue_id,))
            changed = self.db.execute(
                "UPDATE issues SET status = 'approved', send_started = NULL, transport = NULL,"
                " stopped = NULL WHERE id = ? AND status = 'sending'",
                (issue_id,),
            ).rowcount
        return bool(changed)

    def send_stopped(self, issue_id: int) -> str | None:
        stopped: str | None = self.db.scalar("SELECT stopped FROM issues WHERE id = ?", (issue_id,))
        return stopped

    def clear_stop(self, issue_id: int) -> None:
        self.db.execute("UPDATE issues SET stopped = NULL WHERE id = ?", (issue_id,))

    def take_send_slot(self, interval: float, hourly_cap: int) -> float:
        """Take the next message slot of the budget every worker shares: `interval` seconds
        after the last one taken, and at most `hourly_cap` in any hour (0: no cap). Returns the
        Unix time the slot starts; the caller waits until then."""
        now = time.time()
        with self.db.transaction(exclusive="send_slots"):
            row = self.db.one(
                """SELECT max(taken), (SELECT taken FROM send_slots WHERE taken > ?
                   ORDER BY taken DESC LIMIT 1 OFFSET ?) FROM send_slots""",
                (now - 3600, max(hourly_cap - 1, 0)),
            )
            last, capped = (row[0], row[1]) if row is not None else (None, None)
            slot = max(now, last + interval if last is not None and interval else now)
            if hourly_cap and capped is not None:
                slot = max(slot, capped + 3600)
            self.db.execute("DELETE FROM send_slots WHERE taken < ?", (now - 3600,))
            self.db.execute("INSERT INTO send_slots (taken) VALUES (?)", (slot,))
        return slot
