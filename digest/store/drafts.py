"""The editor's side of issues (digest/desk.py): a draft's content replaced, approved, scheduled,
reopened or discarded, each one conditional write, so an edit racing an approval or a send
changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from digest.models import Issue, IssueEntry, RunnerUp
from digest.store.database import Database, Row
from digest.store.issues import entries_json, issue_article_rows, runners_up_json
from digest.store.timeutil import now_utc


class Drafts:
    db: Database
    _issue: Callable[[Row], Issue]  # from the Issues aggregate

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
        with self.db.transaction():
            changed = self.db.execute(
                """UPDATE issues SET subject = ?, subject_custom = ?, intro = ?, entries = ?,
                   runners_up = ?, html = ?, text = ? WHERE id = ? AND status = 'draft'""",
                (
                    subject,
                    int(subject_custom),
                    intro,
                    entries_json(entries),
                    runners_up_json(runners_up),
                    html,
                    text,
                    issue_id,
                ),
            ).rowcount
            if changed:
                self.db.execute("DELETE FROM issue_articles WHERE issue_id = ?", (issue_id,))
                self.db.executemany(
                    "INSERT INTO issue_articles (issue_id, article_id, position) VALUES (?, ?, ?)",
                    issue_article_rows(issue_id, entries),
                )
        return bool(changed)

    def approve_issue(self, issue_id: int, *, html: str, text: str) -> bool:
        """Freeze a draft with its final parts; False when the issue is no draft now."""
        changed = self.db.execute(
            "UPDATE issues SET status = 'approved', html = ?, text = ?, approved_at = ?"
            " WHERE id = ? AND status = 'draft'",
            (html, text, now_utc().isoformat(), issue_id),
        ).rowcount
        return bool(changed)

    def schedule_issue(self, issue_id: int, send_at: datetime | None) -> bool:
        """Set (or clear, with None) the time `digest run` sends an approved issue at; False
        when the issue's send has begun."""
        changed = self.db.execute(
            "UPDATE issues SET send_at = ? WHERE id = ? AND status IN ('draft', 'approved')",
            (send_at.astimezone(UTC).isoformat() if send_at else None, issue_id),
        ).rowcount
        return bool(changed)

    def scheduled_issues(self) -> list[Issue]:
        """Approved issues with a send time, soonest first."""
        rows = self.db.all(
            "SELECT * FROM issues WHERE status = 'approved' AND send_at IS NOT NULL"
            " ORDER BY send_at, id"
        )
        return [self._issue(row) for row in rows]

    def reopen_issue(self, issue_id: int) -> bool:
        """An approved issue back to a draft, unless its send has begun."""
        changed = self.db.execute(
            "UPDATE issues SET status = 'draft', approved_at = NULL WHERE id = ?"
            " AND status = 'approved'"
            " AND NOT EXISTS (SELECT 1 FROM sends WHERE issue_id = issues.id)",
            (issue_id,),
        ).rowcount
        return bool(changed)

    def discard_issue(self, issue_id: int) -> bool:
        """Delete a draft or an approved issue that never started sending."""
        changed = self.db.execute(
            "DELETE FROM issues WHERE id = ? AND status IN ('draft', 'approved')"
            " AND NOT EXISTS (SELECT 1 FROM sends WHERE issue_id = issues.id)",
            (issue_id,),
        ).rowcount
        return bool(changed)
