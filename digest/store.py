"""The state store: one SQLite file (WAL) per project, schema versioned with forward migrations.

Tables: articles (+ every source that carried each), issues (frozen once built: entries and
rendered parts), sends (one row per issue × subscriber), suppressions (keyed by a hash of the
address so that a forgotten person leaves nothing readable behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.errors import DigestError
from digest.models import Article, Issue, IssueEntry, RunnerUp, Subscriber
from digest.sources.fields import normalise_url

# Append only: a released migration is never edited; user_version counts the applied ones.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT UNIQUE,
        body_hash TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        headline TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        published_ts REAL,
        body TEXT NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        warnings TEXT NOT NULL DEFAULT '[]',
        political_score REAL,
        added TEXT NOT NULL
    );
    CREATE INDEX articles_published ON articles (published_ts);
    CREATE TABLE article_sources (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        PRIMARY KEY (article_id, source)
    );
    CREATE TABLE issues (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        created TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'built',
        entries TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE TABLE issue_articles (
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (issue_id, article_id)
    );
    CREATE TABLE sends (
        issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        list TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try REAL,
        last_reply TEXT,
        updated TEXT,
        PRIMARY KEY (issue_id, email)
    );
    CREATE INDEX sends_status ON sends (issue_id, status);
    CREATE INDEX sends_email ON sends (email, status);
    CREATE TABLE suppressions (
        email_hash TEXT PRIMARY KEY,
        email TEXT,
        reason TEXT NOT NULL,
        list TEXT,
        created TEXT NOT NULL
    );
    """,
    # Which sources are article addresses (its own and those of the sites that re-ran it) and
    # which are origins (a file, a feed's URL with its `?apikey=`): only addresses are ever
    # published. Older rows are origins unless they are the article's own address.
    """
    ALTER TABLE article_sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'origin';
    UPDATE article_sources SET kind = 'url'
        WHERE source = (SELECT url FROM articles WHERE articles.id = article_sources.article_id);
    """,
    # the transport an issue's send started through ("smtp smtp://relay:587", "outbox …")
    "ALTER TABLE issues ADD COLUMN transport TEXT;",
    # The editor's desk (docs/editing.md): an issue is a draft until approved, when its rendered
    # parts are frozen. A "built" issue was frozen already, so it counts as approved; a "held"
    # one was waiting for an editor, as a draft does. The intro is the editor's Markdown; the
    # runners-up are the candidates the selection left out, for the editor to swap in.
    """
    ALTER TABLE issues ADD COLUMN intro TEXT NOT NULL DEFAULT '';
    ALTER TABLE issues ADD COLUMN subject_custom INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE issues ADD COLUMN runners_up TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE issues ADD COLUMN approved_at TEXT;
    ALTER TABLE issues ADD COLUMN send_started TEXT;
    UPDATE issues SET status = 'approved', approved_at = created WHERE status = 'built';
    UPDATE issues SET status = 'draft' WHERE status = 'held';
    UPDATE issues SET send_started = (SELECT min(updated) FROM sends WHERE issue_id = issues.id)
        WHERE status IN ('sending', 'sent');
    """,
]


class IssueExists(DigestError):
    """An issue with this key was built already (by this process or a concurrent one)."""


SEND_STATUSES = ("pending", "sent", "failed", "deferred", "skipped")


def _entries_json(entries: list[IssueEntry]) -> str:
    return json.dumps([e.to_json() | {"article_id": e.article_id} for e in entries])


def _runners_up_json(runners_up: list[RunnerUp]) -> str:
    return json.dumps([asdict(r) for r in runners_up])


def now_utc() -> datetime:
    return datetime.now(UTC)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def body_fingerprint(body: str) -> str:
    """Bodies that differ only in case, whitespace or punctuation are the same article."""
    words = re.findall(r"\w+", body.casefold())
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


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


# The reply recorded for an address given up on after too many temporary failures starts with
# this: such a failure says nothing about the address being gone, so it is not a bounce.
GAVE_UP_PREFIX = "gave up after "


@dataclass(frozen=True)
class SendRow:
    """One (issue, subscriber) row to deliver: `attempts` over every run so far, `next_try` (a
    Unix time) for a deferred row."""

    rowid: int
    subscriber: Subscriber
    attempts: int = 0
    next_try: float | None = None


def _owner_only(path: Path) -> None:
    """Create the database owner-only (SQLite gives its WAL and shared-memory files the same
    mode), and tighten one an older digest left world-readable: they hold subscribers'
    addresses and names. A file someone else owns is left as it is."""
    with contextlib.suppress(OSError):  # it exists, or cannot be made: sqlite3 says why below
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            pass


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        _owner_only(path)
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise DigestError(f"{path}: cannot open the state store: {exc}") from None
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only power loss can roll back
            # the last commits, which the send bookkeeping tolerates (a resend keeps its
            # Message-ID).
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise DigestError(f"{path}: not a digest state store: {exc}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work. The connection autocommits otherwise (isolation_level=None),
        so every multi-statement write goes through here; BEGIN IMMEDIATE takes the write lock
        up front, so a read-then-write (dedupe, snapshot) cannot interleave with another
        process's, which waits (busy timeout) instead."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- schema ---------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise DigestError(
                f"{self.path}: written by a newer digest (schema {version}); upgrade digest"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits on its own; the version bump rides in the same script
            self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    # -- articles -------------------------------------------------------------------------------

    def add_article(self, article: Article) -> tuple[int, bool]:
        """Store `article` unless it is already known by URL or body; return (id, added).

        Either way the origin is remembered as one more source that carried the article, and a
        better copy improves the stored one: a date where it had none, the full text where it
        was cut off (a feed's teaser arriving before the page must not hide the page)."""
        url = normalise_url(article.source_url)
        fingerprint = body_fingerprint(article.body)
        with self.transaction():
            row = self.db.execute(
                "SELECT id, url, published, truncated FROM articles"
                " WHERE body_hash = ? OR (url IS NOT NULL AND url = ?)",
                (fingerprint, url),
            ).fetchone()
            added = row is None
            if added:
                published = article.published.astimezone(UTC) if article.published else None
                cursor = self.db.execute(
                    """INSERT INTO articles (url, body_hash, title, headline, authors, published,
                       published_ts, body, truncated, warnings, political_score, added)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        url,
                        fingerprint,
                        article.title,
                        article.headline,
                        json.dumps(article.authors),
                        published.isoformat() if published else None,
                        published.timestamp() if published else None,
                        article.body,
                        int(article.truncated),
                        json.dumps(article.warnings),
                        article.political_score,
                        now_utc().isoformat(),
                    ),
                )
                article_id = int(cursor.lastrowid or 0)
            else:
                article_id = int(row["id"])
                self._improve(row, article, url, fingerprint)
            kinds = {article.origin: "origin"} if article.origin else {}
            if url:
                kinds[url] = "url"  # a page read at its own address is an address
            for source, kind in kinds.items():
                self.db.execute(
                    """INSERT INTO article_sources (article_id, source, kind) VALUES (?, ?, ?)
                       ON CONFLICT DO UPDATE SET kind = 'url' WHERE excluded.kind = 'url'""",
                    (article_id, source, kind),
                )
        return article_id, added

    def _improve(self, row: sqlite3.Row, article: Article, url: str | None, body_hash: str) -> None:
        """Fill what the stored copy lacks from a newer copy of the same article."""
        if row["published"] is None and article.published is not None:
            published = article.published.astimezone(UTC)
            self.db.execute(
                "UPDATE articles SET published = ?, published_ts = ? WHERE id = ?",
                (published.isoformat(), published.timestamp(), row["id"]),
            )
        taken = self.db.execute(
            "SELECT 1 FROM articles WHERE body_hash = ? AND id != ?", (body_hash, row["id"])
        ).fetchone()
        if row["truncated"] and not article.truncated and taken is None:
            # the score belonged to the teaser: recomputed from the full text on the next build
            self.db.execute(
                """UPDATE articles SET body = ?, body_hash = ?, title = ?, headline = ?,
                   authors = ?, truncated = 0, warnings = ?, political_score = NULL,
                   url = coalesce(url, ?) WHERE id = ?""",
                (
                    article.body,
                    body_hash,
                    article.title,
                    article.headline,
                    json.dumps(article.authors),
                    json.dumps(article.warnings),
                    url,
                    row["id"],
                ),
            )

    def _article(self, row: sqlite3.Row, sources: list[tuple[str, str]]) -> Article:
        """The stored article with the first origin it came from and the addresses it was
        found at (its own and re-publishers'), so selection can tell the two apart."""
        origins = [source for source, kind in sources if kind == "origin"]
        published = datetime.fromisoformat(row["published"]) if row["published"] else None
        return Article(
            id=row["id"],
            title=row["title"],
            headline=row["headline"],
            body=row["body"],
            authors=json.loads(row["authors"]),
            source_url=row["url"],
            published=published,
            truncated=bool(row["truncated"]),
            warnings=json.loads(row["warnings"]),
            political_score=row["political_score"],
            origin=origins[0] if origins else row["url"],
            sources=[source for source, kind in sources if kind == "url"],
        )

    def articles_published_between(self, start: datetime, end: datetime) -> list[Article]:
        """Articles with start < published <= end. Undated articles are never in a window."""
        rows = self.db.execute(
            """SELECT * FROM articles WHERE published_ts > ? AND published_ts <= ?
               ORDER BY published_ts DESC, id""",
            (start.timestamp(), end.timestamp()),
        ).fetchall()
        sources = self._sources([r["id"] for r in rows])
        return [self._article(r, sources.get(r["id"], [])) for r in rows]

    def article(self, article_id: int) -> Article:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise DigestError(f"article {article_id}: not in the store")
        return self._article(row, self._sources([article_id]).get(article_id, []))

    def article_origins(self, article_id: int) -> list[str]:
        """Every file, folder entry or feed the article came from, first first."""
        sources = self._sources([article_id]).get(article_id, [])
        return [source for source, kind in sources if kind == "origin"]

    def _sources(self, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """(source, kind) of each article, in the order they were recorded."""
        found: dict[int, list[tuple[str, str]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                "SELECT article_id, source, kind FROM article_sources"
                f" WHERE article_id IN ({marks}) ORDER BY rowid",
                chunk,
            ):
                found.setdefault(row[0], []).append((row[1], row[2]))
        return found

    def set_political_scores(self, scores: Iterable[tuple[int, float]]) -> None:
        with self.transaction():
            self.db.executemany(
                "UPDATE articles SET political_score = ? WHERE id = ?",
                [(score, article_id) for article_id, score in scores],
            )

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def newest_published(self) -> datetime | None:
        """The publication date of the newest dated article, in UTC."""
        row = self.db.execute("SELECT max(published_ts) FROM articles").fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row and row[0] is not None else None

    # -- issues ---------------------------------------------------------------------------------

    def create_issue(
        self,
        *,
        key: str,
        subject: str,
        entries: list[IssueEntry],
        html: str,
        text: str,
        status: str = "draft",
        runners_up: list[RunnerUp] | None = None,
        before_commit: Callable[[Issue], None] | None = None,
    ) -> Issue:
        """Store a new issue. `before_commit` is given the issue inside the transaction: if it
        raises (its files could not be written), the issue is not stored."""
        created = now_utc()
        with self.transaction():
            try:
                cursor = self.db.execute(
                    """INSERT INTO issues (key, subject, created, status, entries, html, text,
                       runners_up, approved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        key,
                        subject,
                        created.isoformat(),
                        status,
                        _entries_json(entries),
                        html,
                        text,
                        _runners_up_json(runners_up or []),
                        created.isoformat() if status == "approved" else None,
                    ),
                )
            except sqlite3.IntegrityError:
                raise IssueExists(f"issue {key!r} already exists") from None
            issue_id = int(cursor.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO issue_articles (issue_id, article_id, position) VALUES (?, ?, ?)",
                [(issue_id, e.article_id, i) for i, e in enumerate(entries)],
            )
            if before_commit is not None:
                before_commit(self.issue(issue_id))
        return self.issue(issue_id)

    def _issue(self, row: sqlite3.Row) -> Issue:
        entries = []
        for item in json.loads(row["entries"]):
            published = item.get("published")
            entries.append(
                IssueEntry(
                    article_id=item["article_id"],
                    title=item["title"],
                    source_url=item["source_url"],
                    source_name=item.get("source_name")
                    or Article(title="", body="", source_url=item["source_url"]).source_name,
                    published=datetime.fromisoformat(published) if published else None,
                    authors=item["authors"],
                    summary=item["summary"],
                    political_score=item["political_score"],
                    other_sources=item["other_sources"],
                )
            )
        return Issue(
            id=row["id"],
            key=row["key"],
            subject=row["subject"],
            created=datetime.fromisoformat(row["created"]),
            entries=entries,
            html=row["html"],
            text=row["text"],
            status=row["status"],
            intro=row["intro"],
            subject_custom=bool(row["subject_custom"]),
            runners_up=[RunnerUp(**item) for item in json.loads(row["runners_up"])],
        )

    def issue(self, issue_id: int) -> Issue:
        row = self.db.execute("SELECT * FROM issues WHERE id = ?", (issue_id,)).fetchone()
        if row is None:
            raise DigestError(f"issue {issue_id}: no such issue (see `digest build`)")
        return self._issue(row)

    def issue_by_key(self, key: str) -> Issue | None:
        row = self.db.execute("SELECT * FROM issues WHERE key = ?", (key,)).fetchone()
        return self._issue(row) if row else None

    def latest_issue(self) -> Issue:
        row = self.db.execute("SELECT * FROM issues ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            raise DigestError("no issue has been built yet (run `digest build`)")
        return self._issue(row)

    def issues(self, status: str | None = None) -> list[Issue]:
        if status:
            rows = self.db.execute(
                "SELECT * FROM issues WHERE status = ? ORDER BY id DESC", (status,)
            )
        else:
            rows = self.db.execute("SELECT * FROM issues ORDER BY id DESC")
        return [self._issue(r) for r in rows]

    def article_ids_in_issues(self, statuses: tuple[str, ...] = ("sending", "sent")) -> set[int]:
        """The articles that went out (or are going out) in an issue already."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT DISTINCT article_id FROM issue_articles JOIN issues ON issues.id = issue_id"
            f" WHERE issues.status IN ({marks})",
            statuses,
        )
        return {int(row[0]) for row in rows}

    def set_issue_status(self, issue_id: int, status: str) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE issues SET status = ?, sent_at = CASE WHEN ? = 'sent' THEN ? END,"
                " send_started = CASE WHEN ? = 'sending' THEN coalesce(send_started, ?)"
                " ELSE send_started END WHERE id = ?",
                (status, status, now_utc().isoformat(), status, now_utc().isoformat(), issue_id),
            )

    def issue_transport(self, issue_id: int) -> str | None:
        row = self.db.execute("SELECT transport FROM issues WHERE id = ?", (issue_id,)).fetchone()
        return row[0] if row else None

    def set_issue_transport(self, issue_id: int, transport: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE issues SET transport = ? WHERE id = ?", (transport, issue_id))

    def last_sent_at(self) -> datetime | None:
        row = self.db.execute(
            "SELECT max(sent_at) FROM issues WHERE status = 'sent' AND sent_at IS NOT NULL"
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    # -- the editor's desk (digest/desk.py) -------------------------------------------------------

    def save_draft(
        self,
        issue_id: int,
        *,
        subject: str,
        subject_custom: bool,
        intro: str,
        entries: list[IssueEntry],
        runners_up: list[RunnerUp],
        html: str,
        text: str,
    ) -> bool:
        """Replace a draft's content; False (nothing changed) when the issue is no draft now."""
        with self.transaction():
            changed = self.db.execute(
                """UPDATE issues SET subject = ?, subject_custom = ?, intro = ?, entries = ?,
                   runners_up = ?, html = ?, text = ? WHERE id = ? AND status = 'draft'""",
                (
                    subject,
                    int(subject_custom),
                    intro,
                    _entries_json(entries),
                    _runners_up_json(runners_up),
                    html,
                    text,
                    issue_id,
                ),
            ).rowcount
            if changed:
                self.db.execute("DELETE FROM issue_articles WHERE issue_id = ?", (issue_id,))
                self.db.executemany(
                    "INSERT INTO issue_articles (issue_id, article_id, position) VALUES (?, ?, ?)",
                    [(issue_id, e.article_id, i) for i, e in enumerate(entries)],
                )
        return bool(changed)

    def approve_issue(self, issue_id: int, *, html: str, text: str) -> bool:
        """Freeze a draft with its final parts; False when the issue is no draft now."""
        with self.transaction():
            changed = self.db.execute(
                "UPDATE issues SET status = 'approved', html = ?, text = ?, approved_at = ?"
                " WHERE id = ? AND status = 'draft'",
                (html, text, now_utc().isoformat(), issue_id),
            ).rowcount
        return bool(changed)

    def reopen_issue(self, issue_id: int) -> bool:
        """An approved issue back to a draft, unless its send has begun."""
        with self.transaction():
            changed = self.db.execute(
                "UPDATE issues SET status = 'draft', approved_at = NULL WHERE id = ?"
                " AND status = 'approved'"
                " AND NOT EXISTS (SELECT 1 FROM sends WHERE issue_id = issues.id)",
                (issue_id,),
            ).rowcount
        return bool(changed)

    def discard_issue(self, issue_id: int) -> bool:
        """Delete a draft or an approved issue that never started sending."""
        with self.transaction():
            changed = self.db.execute(
                "DELETE FROM issues WHERE id = ? AND status IN ('draft', 'approved')"
                " AND NOT EXISTS (SELECT 1 FROM sends WHERE issue_id = issues.id)",
                (issue_id,),
            ).rowcount
        return bool(changed)

    def article_by_url(self, url: str) -> Article | None:
        """The stored article at `url` (normalised as stored), or one found there."""
        key = normalise_url(url) or url
        row = self.db.execute(
            "SELECT id FROM articles WHERE url = ? UNION ALL SELECT article_id FROM"
            " article_sources WHERE source = ? AND kind = 'url' LIMIT 1",
            (key, key),
        ).fetchone()
        return self.article(int(row[0])) if row else None

    def issue_send_times(self, issue_id: int) -> tuple[datetime | None, datetime | None]:
        """When the issue's send started and when it finished (None: not yet)."""
        row = self.db.execute(
            "SELECT send_started, sent_at FROM issues WHERE id = ?", (issue_id,)
        ).fetchone()
        started, finished = row if row else (None, None)
        return (
            datetime.fromisoformat(started) if started else None,
            datetime.fromisoformat(finished) if finished else None,
        )

    def send_rows(self, issue_id: int, statuses: tuple[str, ...]) -> list[dict[str, object]]:
        """email, list, status, attempts, last_reply, updated of the issue's rows in `statuses`."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT email, list, status, attempts, last_reply, updated FROM sends"
            f" WHERE issue_id = ? AND status IN ({marks}) ORDER BY rowid",
            (issue_id, *statuses),
        )
        return [dict(row) for row in rows]

    def recipients_suppressed(self, issue_id: int, reason: str, since: datetime) -> int:
        """How many of the issue's recipients were suppressed for `reason` at or after `since`."""
        row = self.db.execute(
            """SELECT count(*) FROM suppressions WHERE reason = ? AND created >= ?
               AND email IN (SELECT lower(email) FROM sends WHERE issue_id = ?)""",
            (reason, since.isoformat(), issue_id),
        ).fetchone()
        return int(row[0])

    # -- sends ----------------------------------------------------------------------------------

    def add_recipients(self, issue_id: int, subscribers: Iterable[Subscriber]) -> int:
        """Snapshot the recipients of an issue: one pending row each, unless already there (so a
        resumed send never re-queues someone already sent). Returns how many were added."""
        with self.transaction():
            before = self.db.total_changes
            self.db.executemany(
                """INSERT OR IGNORE INTO sends (issue_id, email, list, name, attributes)
                   VALUES (?, ?, ?, ?, ?)""",
                (
                    (issue_id, s.email, s.list, s.name, json.dumps(s.attributes))
                    for s in subscribers
                ),
            )
            return self.db.total_changes - before

    def recipients(self, issue_id: int, statuses: tuple[str, ...]) -> Iterator[Subscriber]:
        """Stream the recipients of an issue in the given states, without holding them all."""
        marks = ",".join("?" * len(statuses))
        cursor = self.db.execute(
            f"SELECT email, list, name, attributes, status FROM sends"
            f" WHERE issue_id = ? AND status IN ({marks}) ORDER BY rowid",
            (issue_id, *statuses),
        )
        for row in cursor:
            yield Subscriber(
                email=row["email"],
                list=row["list"],
                name=row["name"],
                attributes=json.loads(row["attributes"]),
            )

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
        with self.transaction():
            self.db.execute(
                """UPDATE sends SET status = ?, last_reply = coalesce(?, last_reply),
                   next_try = ?, attempts = attempts + ?, updated = ?
                   WHERE issue_id = ? AND email = ?""",
                (
                    status,
                    reply,
                    next_try,
                    int(count_attempt),
                    now_utc().isoformat(),
                    issue_id,
                    email,
                ),
            )

    def recipient_batch(
        self, issue_id: int, statuses: tuple[str, ...], *, after: int = 0, limit: int = 500
    ) -> list[SendRow]:
        """Up to `limit` rows in the given states with rowid > `after`, in rowid order: a caller
        that updates rows between batches never sees one twice or skips one."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT rowid, email, list, name, attributes, attempts, next_try FROM sends"
            f" WHERE issue_id = ? AND status IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
            (issue_id, *statuses, after, limit),
        ).fetchall()
        return [
            SendRow(
                rowid=int(row["rowid"]),
                subscriber=Subscriber(
                    email=row["email"],
                    list=row["list"],
                    name=row["name"],
                    attributes=json.loads(row["attributes"]),
                ),
                attempts=int(row["attempts"]),
                next_try=row["next_try"],
            )
            for row in rows
        ]

    def has_recipients(self, issue_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM sends WHERE issue_id = ? LIMIT 1", (issue_id,))
        return row.fetchone() is not None

    def consecutive_failures(self, email: str) -> int:
        """Issues whose send to `email` failed permanently since the last one delivered to it:
        the bounce count that decides suppression. Addresses given up on after temporary
        failures do not count."""
        row = self.db.execute(
            """SELECT count(*) FROM sends WHERE email = ? AND status = 'failed'
               AND coalesce(last_reply, '') NOT LIKE ? || '%' AND issue_id >
               coalesce((SELECT max(issue_id) FROM sends
                         WHERE email = ? AND status = 'sent'), 0)""",
            (email, GAVE_UP_PREFIX, email),
        ).fetchone()
        return int(row[0])

    def sent_in_last_hour(self) -> list[float]:
        """Seconds ago of every message sent in the last hour, by any issue (for hourly caps)."""
        now = now_utc()
        since = (now - timedelta(hours=1)).isoformat()
        return [
            (now - datetime.fromisoformat(row[0])).total_seconds()
            for row in self.db.execute(
                "SELECT updated FROM sends WHERE status = 'sent' AND updated > ?", (since,)
            )
        ]

    def send_counts(self, issue_id: int) -> SendCounts:
        counts = SendCounts()
        for row in self.db.execute(
            "SELECT status, count(*) FROM sends WHERE issue_id = ? GROUP BY status", (issue_id,)
        ):
            setattr(counts, row[0], row[1])
        return counts

    # -- suppressions ---------------------------------------------------------------------------

    def suppress(self, email: str, reason: str, *, list_name: str | None = None) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT INTO suppressions (email_hash, email, reason, list, created)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (email_hash) DO UPDATE SET reason = excluded.reason""",
                (
                    email_hash(email),
                    email.strip().lower(),
                    reason,
                    list_name,
                    now_utc().isoformat(),
                ),
            )

    def is_suppressed(self, email: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM suppressions WHERE email_hash = ?", (email_hash(email),)
        ).fetchone()
        return row is not None

    def suppression_reason(self, email: str) -> str | None:
        row = self.db.execute(
            "SELECT reason FROM suppressions WHERE email_hash = ?", (email_hash(email),)
        ).fetchone()
        return row[0] if row else None

    def suppression_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM suppressions").fetchone()[0])

    def forget(self, email: str) -> tuple[int, str]:
        """Erase what the store knows of a person: their send rows and the plain address of their
        suppression, keeping (or adding) the hashed entry so nothing can bring them back.
        Returns (send rows deleted, suppression reason)."""
        key = email.strip().lower()
        with self.transaction():
            deleted = self.db.execute("DELETE FROM sends WHERE lower(email) = ?", (key,)).rowcount
            self.db.execute(
                """INSERT INTO suppressions (email_hash, email, reason, list, created)
                   VALUES (?, NULL, 'unsubscribed', NULL, ?)
                   ON CONFLICT (email_hash) DO UPDATE SET email = NULL, list = NULL""",
                (email_hash(email), now_utc().isoformat()),
            )
            reason = self.db.execute(
                "SELECT reason FROM suppressions WHERE email_hash = ?", (email_hash(email),)
            ).fetchone()[0]
        return int(deleted), str(reason)
