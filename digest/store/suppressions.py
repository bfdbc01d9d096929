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

    def suppress(
        self, email: str, reason: str, *, list_name: str | None = None, detail: str = ""
    ) -> None:
        """Suppress `email` for `reason`; `detail` says what showed it (a DSN's status and
        diagnostic, a complaint's feedback type). `updated` is when the reason was last set."""
        now = now_utc().isoformat()
        self.db.execute(
            """INSERT INTO suppressions (email_hash, email, reason, list, created, detail, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (email_hash) DO UPDATE SET reason = excluded.reason,
               detail = excluded.detail, updated = excluded.updated""",
            (email_hash(email), email.strip().lower(), reason, list_name, now, detail, now),
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

    def suppressed_recipients(self, issue_id: int, since: datetime) -> list[dict[str, str]]:
        """The issue's recipients suppressed at or after `since`: email, reason, detail, when."""
        rows = self.db.all(
            """SELECT email, reason, detail, coalesce(updated, created) AS suppressed
               FROM suppressions WHERE coalesce(updated, created) >= ?
               AND email IN (SELECT lower(email) FROM sends WHERE issue_id = ?)
               ORDER BY suppressed, email""",
            (since.isoformat(), issue_id),
        )
        return [dict(row) for row in rows]

    def suppression_list(self, reason: str | None = None) -> list[dict[str, str | None]]:
        """Every suppression (a forgotten person's without an address): email, reason, list,
        detail, when, oldest first."""
        where, params = ("WHERE reason = ?", (reason,)) if reason else ("", ())
        rows = self.db.all(
            f"""SELECT email, reason, list, detail, coalesce(updated, created) AS suppressed
                FROM suppressions {where} ORDER BY suppressed, email_hash""",
            params,
        )
        return [dict(row) for row in rows]

    def forget(self, email: str) -> tuple[int, str]:
        """Erase what the store knows of a person: their subscriptions, their send rows and the
        plain address of their suppression, keeping (or adding) the hashed entry so nothing can
        bring them back. Returns (send rows deleted, suppression reason)."""
        key = email.strip().lower()
        with self.db.transaction():
            deleted = self.db.execute("DELETE FROM sends WHERE lower(email) = ?", (key,)).rowcount
            self.db.execute("DELETE FROM bounces WHERE lower(email) = ?", (key,))
            self.db.execute("DELETE FROM subscribers WHERE email_key = ?", (key,))
            self.db.execute(
                """INSERT INTO suppressions (email_hash, email, reason, list, created)
                   VALUES (?, NULL, 'unsubscribed', NULL, ?)
                   ON CONFLICT (email_hash) DO UPDATE SET email = NULL, list = NULL,
                   detail = ''""",
                (email_hash(email), now_utc().isoformat()),
            )
            reason = self.suppression_reason(email)
        return int(deleted), str(reason)
