"""The state store: one interface over SQLite (the embedded default: one file per project, WAL)
or PostgreSQL (shared by several hosts), with the same versioned forward migrations on both.

Split by aggregate — articles (+ every source that carried each), issues (frozen once built),
sends (one row per issue × subscriber), subscribers (one row per list × address),
suppressions (keyed by a hash of the address), bounces (what the bounce mailbox reported),
the web side's shared rate limits, summaries cached by what decides them — over one connection
layer (`database.py`) where every difference between the two dialects lives.
"""

from __future__ import annotations

from pathlib import Path

from digest.store.articles import Articles, body_fingerprint
from digest.store.bounces import Bounces
from digest.store.clicks import StoryClicks
from digest.store.database import (
    DEFAULT_TIMEOUTS,
    Database,
    PostgresDatabase,
    SQLiteDatabase,
    StoreTimeout,
    Timeouts,
)
from digest.store.drafts import Drafts
from digest.store.issues import IssueExists, Issues
from digest.store.keys import SigningKeys
from digest.store.limits import RateLimits
from digest.store.migrations import MIGRATIONS
from digest.store.sends import (
    GAVE_UP_PREFIX,
    SEND_STATUSES,
    SendCounts,
    SendLeases,
    SendRow,
    Sends,
)
from digest.store.subscribers import Subscribers
from digest.store.summaries import Summaries
from digest.store.suppressions import Suppressions, email_hash
from digest.store.timeutil import now_utc

__all__ = [
    "GAVE_UP_PREFIX",
    "MIGRATIONS",
    "SEND_STATUSES",
    "IssueExists",
    "SendCounts",
    "SendRow",
    "Store",
    "StoreTimeout",
    "Timeouts",
    "body_fingerprint",
    "email_hash",
    "now_utc",
]


class Store(
    Articles,
    Issues,
    Drafts,
    Sends,
    SendLeases,
    Subscribers,
    Suppressions,
    Bounces,
    RateLimits,
    SigningKeys,
    Summaries,
    StoryClicks,
):
    """The project's state. `Store(path)` opens (and migrates) the SQLite file at `path`;
    `Store(database)` wraps an open PostgreSQL (or SQLite) connection."""

    def __init__(self, target: Path | Database) -> None:
        self.db: Database = target if isinstance(target, Database) else SQLiteDatabase(target)

    @classmethod
    def connect(cls, url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> Store:
        """The PostgreSQL store at `url` (a URL without its password), migrated."""
        return cls(PostgresDatabase(url, timeouts=timeouts))

    @property
    def shared(self) -> bool:
        """Whether other hosts may work on the same state at once (PostgreSQL): several send
        workers per issue, with leases, instead of one sender holding a file lock."""
        return isinstance(self.db, PostgresDatabase)

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    @property
    def target(self) -> str:
        """Where the state lives, fit to print (a path, or a URL without its password)."""
        return self.db.target

    def close(self) -> None:
        self.db.close()
