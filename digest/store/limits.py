"""Rate limits that every process sharing the store enforces together (several web replicas):
one row per counted event in `rate_events`, keyed by a hash of what is limited, so the table
holds no address in the clear. Rows older than their window are pruned as new ones arrive."""

from __future__ import annotations

import hashlib
import time

from digest.store.database import Database


def _hash(bucket: str, key: str) -> str:
    return hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest()


class RateLimits:
    db: Database

    def take_rate(
        self, bucket: str, key: str, *, limit: int, window: float, now: float | None = None
    ) -> float:
        """Count one event of `key` in `bucket` if fewer than `limit` were counted in the last
        `window` seconds, and return 0; otherwise count nothing and return the seconds until
        the oldest counted one leaves the window (a Retry-After). One transaction per bucket at
        a time, so replicas racing each other cannot both take the last place."""
        now = time.time() if now is None else now
        key_hash = _hash(bucket, key)
        with self.db.transaction(exclusive=f"rate {bucket}"):
            self.db.execute(
                "DELETE FROM rate_events WHERE bucket = ? AND at <= ?", (bucket, now - window)
            )
            times = [
                float(row[0])
                for row in self.db.all(
                    "SELECT at FROM rate_events WHERE bucket = ? AND key_hash = ? ORDER BY at",
                    (bucket, key_hash),
                )
            ]
            if len(times) >= limit:
                return max(times[len(times) - limit] + window - now, 1.0)
            self.db.execute(
                "INSERT INTO rate_events (bucket, key_hash, at) VALUES (?, ?, ?)",
                (bucket, key_hash, now),
            )
        return 0.0

    def rate_event_count(self, bucket: str | None = None) -> int:
        """How many events the table holds (of one bucket): pruning keeps it to the windows."""
        where, params = ("WHERE bucket = ?", (bucket,)) if bucket else ("", ())
        return int(self.db.scalar(f"SELECT count(*) FROM rate_events {where}", params))
