"""What a send tells its caller: progress while it runs, the report when it ends, and the three
ways it can stop early."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from digest.errors import EXIT_OK, EXIT_PARTIAL, DigestError
from digest.store import SendCounts


class SendLocked(DigestError):
    """Another process is sending this issue right now."""


class SendStopped(DigestError):
    """The relay could not be reached, or kept deferring us: the rows stay deferred for a later
    run (exit 1, as for any deferral)."""

    exit_code = EXIT_PARTIAL


class SendPaused(DigestError):
    """The circuit breaker: the same permanent failure for many addresses in a row looks like a
    problem with the relay or the message, not with the addresses. The rows stay pending."""


@dataclass
class SendProgress:
    """What this run has done so far; `total` is what it set out to send."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0  # still deferred after the last attempt of this run
    skipped: int = 0
    retrying: int = 0  # waiting for another attempt in this run

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.deferred + self.skipped


@dataclass
class SendReport:
    issue_id: int
    issue_key: str
    counts: SendCounts  # the issue as a whole, after this run
    run: SendProgress = field(default_factory=SendProgress)
    bounced: int = 0  # addresses suppressed as bounced by this run
    transport: str = ""
    dry_run: bool = False
    would_send: int = 0  # dry run: messages built
    warnings: list[str] = field(default_factory=list)
    # the replies of this run's failed and deferred messages, with how many got each
    replies: Counter[str] = field(default_factory=Counter)
    # the issue was sent before this run, which sent nothing: when it first finished
    already_sent: datetime | None = None

    @property
    def remaining(self) -> int:
        return self.counts.pending + self.counts.deferred

    @property
    def exit_code(self) -> int:
        """1 when anything is left deferred or failed for good in this run: a run that sent
        nothing to anyone must never look like success."""
        if self.dry_run:
            return EXIT_OK
        return EXIT_PARTIAL if self.remaining or self.run.failed else EXIT_OK

    def top_replies(self, count: int = 3) -> str:
        """`2× 550 5.1.1 no such user; 1× Connection refused`: what went wrong, most first."""
        return "; ".join(f"{n}× {reply}" for reply, n in self.replies.most_common(count))

    def summary(self) -> dict[str, int]:
        """The `--json` line: the issue as a whole; anything not yet delivered counts as
        deferred."""
        return {
            "sent": self.counts.sent,
            "failed": self.counts.failed,
            "deferred": self.remaining,
            "skipped": self.counts.skipped,
        }
