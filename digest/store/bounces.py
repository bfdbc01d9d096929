"""Bounces, complaints and mailto: unsubscribes read from the bounce mailbox, one row per
report × address, and what they need to find whose they are."""

from __future__ import annotations

from datetime import timedelta

from digest.store.database import Database
from digest.store.timeutil import now_utc

BOUNCE_KINDS = ("hard", "soft", "complaint", "unsubscribe")
MESSAGE_VERDICTS = ("quarantined", "unknown")


class Bounces:
    db: Database

    def record_bounce(
        self, message_key: str, email: str, issue_id: int | None, kind: str, detail: str
    ) -> bool:
        """Record what one report says about one address; False when that report was counted
        for that address already (a rerun, or the same report delivered twice)."""
        if kind not in BOUNCE_KINDS:
            raise ValueError(kind)
        added = self.db.execute(
            """INSERT INTO bounces (message_key, email, issue_id, kind, detail, received)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (message_key, email, issue_id, kind, detail, now_utc().isoformat()),
        ).rowcount
        return bool(added)

    def issue_recipients(self, issue_id: int) -> list[str]:
        """Every address the issue was (or is being) sent to, as its send rows spell it."""
        return [
            row[0] for row in self.db.all("SELECT email FROM sends WHERE issue_id = ?", (issue_id,))
        ]

    def known_recipient(self, email: str) -> tuple[str, int | None] | None:
        """An address we mail, as our rows spell it, with the last issue delivered to it (None:
        only a subscriber so far); None when nobody by that address is known."""
        key = email.strip().lower()
        row = self.db.one(
            """SELECT email, issue_id FROM sends WHERE lower(email) = ? AND status = 'sent'
               ORDER BY issue_id DESC LIMIT 1""",
            (key,),
        )
        if row is not None:
            return str(row[0]), int(row[1])
        row = self.db.one(
            """SELECT email FROM sends WHERE lower(email) = ? UNION ALL
               SELECT email FROM subscribers WHERE email_key = ? LIMIT 1""",
            (key, key),
        )
        return (str(row[0]), None) if row is not None else None

    def message_verdict(self, digest: str) -> tuple[str, str] | None:
        """(verdict, detail) remembered for the bounce-mailbox message with this fingerprint,
        and it is seen again now; None: never seen."""
        row = self.db.one("SELECT verdict, detail FROM bounce_messages WHERE digest = ?", (digest,))
        if row is None:
            return None
        self.db.execute(
            "UPDATE bounce_messages SET last_seen = ? WHERE digest = ?",
            (now_utc().isoformat(), digest),
        )
        return str(row[0]), str(row[1])

    def remember_message(self, digest: str, verdict: str, detail: str, message_id: str) -> None:
        """What became of a message that was not acted on, so it is not read again."""
        if verdict not in MESSAGE_VERDICTS:
            raise ValueError(verdict)
        now = now_utc().isoformat()
        self.db.execute(
            """INSERT INTO bounce_messages
                   (digest, verdict, detail, message_id, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (digest) DO UPDATE SET verdict = excluded.verdict,
                   detail = excluded.detail, last_seen = excluded.last_seen""",
            (digest, verdict, detail, message_id, now, now),
        )

    def forget_old_messages(self, days: int) -> int:
        """Drop what is remembered of messages not seen for `days` (gone from the mailbox)."""
        cutoff = (now_utc() - timedelta(days=days)).isoformat()
        return int(
            self.db.execute("DELETE FROM bounce_messages WHERE last_seen < ?", (cutoff,)).rowcount
        )
