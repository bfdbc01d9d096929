"""Summaries cached by what decides them, so that rebuilding an issue does not summarise again.

The key (`digest.summarize.cache.summary_key`) is a hash of the article's body, title and
cut-off flag, the algorithm, the sentence and word budgets and the summariser's version: a new
body, other settings, new weights or a new splitter each make a new key, and the old row is
simply never read again. A cache: `digest store copy` leaves it behind and it fills again.
"""

from __future__ import annotations

import json

from digest.store.database import Database
from digest.store.timeutil import now_utc


class Summaries:
    db: Database

    def cached_summary(self, key: str) -> list[str] | None:
        """The sentences stored under `key`, or None."""
        row = self.db.one("SELECT sentences FROM summaries WHERE key = ?", (key,))
        return None if row is None else [str(s) for s in json.loads(row["sentences"])]

    def save_summary(self, key: str, sentences: list[str]) -> None:
        """Store `sentences` under `key` (a row already there, from a concurrent build, stays)."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO summaries (key, sentences, created) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, json.dumps(sentences, ensure_ascii=False), now_utc().isoformat()),
            )

    def count_summaries(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM summaries"))
