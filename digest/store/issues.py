"""Issues: frozen once built (entries and rendered parts), with their send status."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from digest.errors import DigestError
from digest.identity import SentStory
from digest.models import Article, Issue, IssueEntry, RunnerUp
from digest.store.database import Database, Row
from digest.store.timeutil import now_utc


class IssueExists(DigestError):
    """An issue with this key was built already (by this process or a concurrent one)."""


def entries_json(entries: list[IssueEntry]) -> str:
    return json.dumps(
        [e.to_json() | {"article_id": e.article_id, "merged_ids": e.merged_ids} for e in entries]
    )


def issue_article_rows(issue_id: int, entries: list[IssueEntry]) -> list[tuple[int, int, int]]:
    """(issue, article, position) for every article an entry stands for: its own and the ones
    merged into it, so all of them count as sent with the issue."""
    rows: dict[int, tuple[int, int, int]] = {}
    for position, entry in enumerate(entries):
        for article_id in [entry.article_id, *entry.merged_ids]:
            rows.setdefault(article_id, (issue_id, article_id, position))
    return list(rows.values())


def runners_up_json(runners_up: list[RunnerUp]) -> str:
    return json.dumps([asdict(r) for r in runners_up])


class Issues:
    db: Database
    articles_by_ids: Callable[[list[int]], list[Article]]  # from the Articles aggregate

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
        with self.db.transaction():
            try:
                issue_id = int(
                    self.db.scalar(
                        """INSERT INTO issues (key, subject, created, status, entries, html, text,
                           runners_up, approved_at, message_id_key)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                        (
                            key,
                            subject,
                            created.isoformat(),
                            status,
                            entries_json(entries),
                            html,
                            text,
                            runners_up_json(runners_up or []),
                            created.isoformat() if status == "approved" else None,
                            secrets.token_hex(16),
                        ),
                    )
                )
            except self.db.integrity_error:
                raise IssueExists(f"issue {key!r} already exists") from None
            self.db.executemany(
                "INSERT INTO issue_articles (issue_id, article_id, position) VALUES (?, ?, ?)",
                issue_article_rows(issue_id, entries),
            )
            if before_commit is not None:
                before_commit(self.issue(issue_id))
        return self.issue(issue_id)

    def _issue(self, row: Row) -> Issue:
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
                    merged_ids=item.get("merged_ids", []),
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
            message_id_key=row["message_id_key"],
            send_at=datetime.fromisoformat(row["send_at"]) if row["send_at"] else None,
        )

    def issue(self, issue_id: int) -> Issue:
        row = self.db.one("SELECT * FROM issues WHERE id = ?", (issue_id,))
        if row is None:
            raise DigestError(f"issue {issue_id}: no such issue (see `digest build`)")
        return self._issue(row)

    def issue_by_key(self, key: str) -> Issue | None:
        row = self.db.one("SELECT * FROM issues WHERE key = ?", (key,))
        return self._issue(row) if row else None

    def latest_issue(self) -> Issue:
        row = self.db.one("SELECT * FROM issues ORDER BY id DESC LIMIT 1")
        if row is None:
            raise DigestError("no issue has been built yet (run `digest build`)")
        return self._issue(row)

    def issues(self, status: str | None = None) -> list[Issue]:
        if status:
            rows = self.db.all("SELECT * FROM issues WHERE status = ? ORDER BY id DESC", (status,))
        else:
            rows = self.db.all("SELECT * FROM issues ORDER BY id DESC")
        return [self._issue(r) for r in rows]

    def article_ids_in_issues(self, statuses: tuple[str, ...] = ("sending", "sent")) -> set[int]:
        """The articles that went out (or are going out) in an issue already."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.all(
            f"SELECT DISTINCT article_id FROM issue_articles JOIN issues ON issues.id = issue_id"
            f" WHERE issues.status IN ({marks})",
            statuses,
        )
        return {int(row[0]) for row in rows}

    def sent_stories(self, statuses: tuple[str, ...] = ("sending", "sent")) -> list[SentStory]:
        """Every entry of the issues that went out (or are going out), with all the articles
        it stood for: what story identity compares a new week's candidates with."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.all(
            "SELECT issues.id, issues.key, issues.sent_at, issues.send_started, issues.entries,"
            " issue_articles.article_id, issue_articles.position FROM issue_articles"
            f" JOIN issues ON issues.id = issue_id WHERE issues.status IN ({marks})"
            " ORDER BY issues.id, issue_articles.position",
            statuses,
        )
        articles = {a.id: a for a in self.articles_by_ids([int(row[5]) for row in rows])}
        stories: dict[tuple[int, int], SentStory] = {}
        for row in rows:
            issue_id, position = int(row[0]), int(row[6])
            story = stories.get((issue_id, position))
            if story is None:
                entries = json.loads(row[4])
                title = entries[position]["title"] if position < len(entries) else ""
                when = row[2] or row[3]
                story = SentStory(
                    issue_id, row[1], datetime.fromisoformat(when) if when else None, title
                )
                stories[(issue_id, position)] = story
            article = articles.get(int(row[5]))
            if article is not None:
                story.articles.append(article)
        return list(stories.values())

    def set_issue_status(self, issue_id: int, status: str) -> None:
        """`sent` stamps when the send first finished, `sending` when it first started: a list
        sent later to a sent issue keeps both (`--since-last` and `digest report` read them)."""
        now = now_utc().isoformat()
        self.db.execute(
            "UPDATE issues SET status = ?,"
            " sent_at = CASE WHEN ? IN ('sent', 'sending') THEN coalesce(sent_at, ?) END,"
            " send_started = coalesce(send_started, ?) WHERE id = ?",
            (
                status,
                status,
                now if status == "sent" else None,
                now if status == "sending" else None,
                issue_id,
            ),
        )

    def issue_transport(self, issue_id: int) -> str | None:
        transport: str | None = self.db.scalar(
            "SELECT transport FROM issues WHERE id = ?", (issue_id,)
        )
        return transport

    def set_issue_transport(self, issue_id: int, transport: str) -> None:
        self.db.execute("UPDATE issues SET transport = ? WHERE id = ?", (transport, issue_id))

    def issues_send_started(self, since: datetime) -> list[tuple[Issue, datetime]]:
        """The issues whose send has begun (sending or sent) since about `since` (a day's
        margin: the caller compares exactly), with when it began, newest first."""
        rows = self.db.all(
            "SELECT * FROM issues WHERE status IN ('sending', 'sent')"
            " AND send_started >= ? ORDER BY id DESC",
            ((since.astimezone(UTC) - timedelta(days=1)).isoformat(),),
        )
        return [(self._issue(row), datetime.fromisoformat(row["send_started"])) for row in rows]

    def last_sent_at(self) -> datetime | None:
        last = self.db.scalar(
            "SELECT max(sent_at) FROM issues WHERE status = 'sent' AND sent_at IS NOT NULL"
        )
        return datetime.fromisoformat(last) if last else None

    def issue_send_times(self, issue_id: int) -> tuple[datetime | None, datetime | None]:
        """When the issue's send started and when it finished (None: not yet)."""
        row = self.db.one("SELECT send_started, sent_at FROM issues WHERE id = ?", (issue_id,))
        started, finished = (row[0], row[1]) if row else (None, None)
        return (
            datetime.fromisoformat(started) if started else None,
            datetime.fromisoformat(finished) if finished else None,
        )
