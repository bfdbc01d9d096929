"""`digest send --dry-run`: build every message a send would, send and record nothing."""

from __future__ import annotations

from collections.abc import Iterator

from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.project import Project
from digest.send.feed import BATCH
from digest.send.messages import Messages
from digest.send.report import SendProgress, SendReport
from digest.subscribers import iter_subscribers


def dry_run_report(
    project: Project, issue: Issue, messages: Messages, list_name: str | None
) -> SendReport:
    """Build every message that a send would, without sending or recording anything."""
    store = project.store
    progress = SendProgress()
    warnings: list[str] = []
    if store.has_recipients(issue.id) and list_name is None:
        recipients = _stream_rows(project, issue.id)
    else:
        recipients = _unique(
            iter_subscribers(
                project.subscribers_dir,
                list_name,
                store=store,
                suppressed=True,
                on_problem=lambda p: warnings.append(f"skipped {p}"),
            )
        )
    for subscriber in recipients:
        if store.is_suppressed(subscriber.email):
            progress.skipped += 1
            continue
        try:
            messages.envelope(subscriber)
        except DigestError as exc:
            warnings.append(f"{subscriber.email}: would be skipped: {exc}")
            progress.skipped += 1
            continue
        progress.sent += 1
    progress.total = progress.done
    return SendReport(
        issue_id=issue.id,
        issue_key=issue.key,
        counts=store.send_counts(issue.id),
        run=progress,
        dry_run=True,
        would_send=progress.sent,
        warnings=warnings,
    )


def _unique(subscribers: Iterator[Subscriber]) -> Iterator[Subscriber]:
    seen: set[str] = set()
    for subscriber in subscribers:
        if subscriber.email not in seen and subscriber.status == "active":
            seen.add(subscriber.email)
            yield subscriber


def _stream_rows(project: Project, issue_id: int) -> Iterator[Subscriber]:
    after = 0
    while batch := project.store.recipient_batch(
        issue_id, ("pending", "deferred"), after=after, limit=BATCH
    ):
        after = batch[-1].rowid
        for row in batch:
            yield row.subscriber
