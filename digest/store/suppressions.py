"""Suppressions, keyed by a hash of the address so that a forgotten person leaves nothing
readable behind."""

from __future__ import annotations

import hashlib
from datetime import datetime

from digest.store.database import Database
from digest.store.timeutil import now_utc


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class Suppressions:
    db: Database

    def suppress(self, email: str, reason: str, *, list_name: str | None = None) -> None:
        self.db.execute(
            """INSERT INTO suppressions (email_hash, email, reason, list, created)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (email_hash) DO UPDATE SET reason = excluded.reason""",
            (email_hash(email), email.strip().lower(), reason, list_name, now_utc().isoformat()),
        )

    def is_suppressed(self, email: str) -> bool:
        return self.suppression_reason(email) is not None

    def suppression_reason(self, email: str) -> str | None:
        reason: str | None = self.db.scalar(
            "SELECT reason FROM suppressions WHERE email_hash = ?", (email_hash(email),)
        )
        return reason

    def suppression_count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM suppressions"))

    def recipients_suppressed(self, issue_id: int, reason: str, since: datetime) -> int:
        """How many of the issue's recipients were suppressed for `reason` at or after `since`."""
        return int(
            self.db.scalar(
                """SELECT count(*) FROM suppressions WHERE reason = ? AND created >= ?
                   AND email IN (SELECT lower(email) FROM sends WHERE issue_id = ?)""",
                (reason, since.isoformat(), issue_id),
            )
        )

    def forget(self, email: str) -> tuple[int, str]:
        """Erase what the store knows of a person: their subscriptions, their send rows and the
        plain address of their suppression, keeping (or adding) the hashed entry so nothing can
        bring them back. Returns (send rows deleted, suppression reason)."""
        key = email.strip().lower()
        with self.db.transaction():
            deleted = self.db.execute("DELETE FROM sends WHERE lower(email) = ?", (key,)).rowcount
            self.db.execute("DELETE FROM subscribers WHERE email_key = ?", (key,))
            self.db.execute(
                """INSERT INTO suppressions (email_hash, email, reason, list, created)
                   VALUES (?, NULL, 'unsubscribed', NULL, ?)
                   ON CONFLICT (email_hash) DO UPDATE SET email = NULL, list = NULL""",
                (email_hash(email), now_utc().isoformat()),
            )
            reason = self.suppression_reason(email)
        return int(deleted), str(reason)
