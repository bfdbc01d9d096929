"""`send_issue`: one issue to its subscribers. Preflight, approval, the snapshot of recipients,
taking part in the send, then the engine; the report at the end (docs/sending.md)."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from digest.desk import approve, current_parts
from digest.errors import DigestError
from digest.keys import project_keys
from digest.models import Issue
from digest.project import Project
from digest.send.dry_run import dry_run_report
from digest.send.engine import Run
from digest.send.feed import RunSettings
from digest.send.lock import DEFAULT_LEASE, taking_part, worker_id
from digest.send.messages import Messages
from digest.send.pacing import Pace, SharedPace
from digest.send.preflight import (
    check_before_send,
    check_list_exists,
    check_relay,
    postal_address_warning,
)
from digest.send.report import SendProgress, SendReport
from digest.send.transport import check_transport_switch, choose_transport, describe_transport
from digest.store import Store
from digest.subscribers import iter_subscribers
from digest.transports import Transport, TransportSetupError

DEFAULT_RETRY_BASE = 2.0  # seconds before the first retry; doubled for each one after
DEFAULT_MAX_ATTEMPTS = 4  # per address and run; what is still deferred waits for the next run
# Tries per address over every run, by default, as a multiple of --max-attempts: an address that
# answers 4xx for ever is given up on (failed) instead of keeping the issue `sending` for ever.
TOTAL_ATTEMPTS_FACTOR = 3


def resolve_issue(project: Project, issue: Issue | int | None) -> Issue:
    if isinstance(issue, Issue):
        return issue
    return project.store.latest_issue() if issue is None else project.store.issue(issue)


def snapshot_recipients(
    project: Project, issue: Issue, list_name: str | None, problems: list[str] | None = None
) -> int:
    """Queue the subscribers (of one list, or all) for `issue`; people already queued keep their
    row, so a resume never re-sends. Returns how many were added; each list row that could not
    be read is named in `problems` (nobody leaves a list silently)."""
    check_list_exists(project, list_name)
    if issue.status == "sent" and list_name is None:
        return 0  # done: a repeated `digest send` confirms, it does not pick up newcomers
    report = None if problems is None else (lambda p: problems.append(f"skipped {p}"))
    # suppressed ones too: the engine skips them when their turn comes (a suppression can also
    # arrive mid-send), and counts them
    active = iter_subscribers(
        project.subscribers_dir, list_name, store=project.store, on_problem=report, suppressed=True
    )
    added = 0
    # short transactions, so that `digest serve` recording an unsubscribe never waits long; a
    # partial snapshot is harmless, since a resume snapshots again before sending
    while chunk := list(itertools.islice(active, 1000)):
        added += project.store.add_recipients(issue.id, chunk)
    if issue.status != "sending":
        project.store.set_issue_status(issue.id, "sending")
        issue.status = "sending"
    return added


async def send_issue_async(
    project: Project,
    issue: Issue | int | None = None,
    *,
    list_name: str | None = None,
    transport: Transport | None = None,
    smtp_url: str | None = None,
    insecure: bool = False,
    backend: str | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
    hourly_cap: int | None = None,
    retry_base: float = DEFAULT_RETRY_BASE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_total_attempts: int | None = None,
    dry_run: bool = False,
    progress: Callable[[SendProgress], None] | None = None,
    lease: float = DEFAULT_LEASE,
    greylist_delay: float | None = None,
    notice: Callable[[str], None] | None = None,
) -> SendReport:
    """Send `issue` (default: the latest) to its subscribers; see digest/send/engine.py.

    Approves a draft first (docs/editing.md). Raises SendLocked when another process is
    sending it, DigestError for bad settings or a relay that refuses us outright (rows stay
    pending for a resume), SendPaused when the circuit breaker trips, SendStopped when the
    relay cannot be reached or keeps deferring us. `backend` (`--transport`) chooses the
    transport explicitly, also when it differs from the one the issue's send started with.
    `notice` gets one line for each event worth telling while the send runs: the relay
    throttling us or out of reach, greylisting, a long wait."""
    config = project.config
    concurrency = config.concurrency if concurrency is None else concurrency
    if max_total_attempts is None:
        max_total_attempts = config.max_total_attempts or TOTAL_ATTEMPTS_FACTOR * max_attempts
    _check_positive(
        concurrency=concurrency, max_attempts=max_attempts, max_total_attempts=max_total_attempts
    )
    rate = config.rate if rate is None else rate
    greylist_delay = config.greylist_delay if greylist_delay is None else greylist_delay
    _check_non_negative(retry_base=retry_base, rate=rate, greylist_delay=greylist_delay)
    issue = resolve_issue(project, issue)
    check_list_exists(project, list_name)
    # a secret that signed links already sent and is held no more stops every send, a rerun
    # of a sent issue included, until the operator chooses (docs/deploy.md)
    project_keys(project)
    if dry_run:
        issue = current_parts(project, issue)  # a draft as it would go: not approved by a look
        return dry_run_report(project, issue, Messages(project, issue), list_name)
    if issue.status == "sent" and list_name is None:
        return _already_sent(project, issue)
    explicit = backend is not None
    transport = transport or choose_transport(
        project, smtp_url=smtp_url, insecure=insecure, concurrency=concurrency, backend=backend
    )
    # everything that can refuse the send does so before the issue changes (preflight.py)
    check_before_send(project, transport, list_name)
    await check_relay(transport)
    try:
        issue = _approved(project, issue)
    except BaseException:
        await transport.close()
        raise
    messages = Messages(project, issue)
    hourly_cap = config.hourly_cap if hourly_cap is None else hourly_cap
    store = project.store
    pace = _pace(store, rate, hourly_cap)
    problems: list[str] = []
    if (warning := postal_address_warning(config, transport)) is not None:
        problems.append(warning)
    worker = worker_id()
    settings = RunSettings(
        concurrency=concurrency,
        retry_base=retry_base,
        max_attempts=max_attempts,
        max_total_attempts=max_total_attempts,
        worker=worker,
        lease=lease,
        greylist_delay=greylist_delay,
    )
    with taking_part(project, issue.id, worker, lease):
        check_transport_switch(project, issue, transport, explicit=explicit)
        snapshot_recipients(project, issue, list_name, problems)
        run = Run(
            project,
            issue,
            transport,
            messages,
            settings,
            pace=pace,
            progress=progress,
            notice=notice,
        )
        await _run(store, issue, transport, run)
        counts = store.send_counts(issue.id)
        if not counts.pending and not counts.deferred:
            store.set_issue_status(issue.id, "sent")
    return SendReport(
        issue_id=issue.id,
        issue_key=issue.key,
        counts=counts,
        run=run.state,
        bounced=run.outcomes.bounced,
        transport=describe_transport(transport),
        warnings=problems + run.outcomes.warnings,
        replies=+run.outcomes.replies,
    )


def _pace(store: Store, rate: float, hourly_cap: int) -> Pace | SharedPace:
    """The rate and hourly cap: shared by every worker through the store on PostgreSQL."""
    if store.shared:
        return SharedPace(store, rate, hourly_cap)
    return Pace(rate, hourly_cap, store.sent_in_last_hour() if hourly_cap else ())


async def _run(store: Store, issue: Issue, transport: Transport, run: Run) -> None:
    """This worker's part of the send; a failed start or a stop recorded for every worker."""
    try:
        async with transport:
            await run.run()
    except TransportSetupError as exc:
        # refused before a single message was tried (our sender at MAIL FROM, an outbox
        # that cannot be written): a failed start leaves the issue as it was
        if store.shared or not store.undo_send_start(issue.id):
            store.stop_send(issue.id, str(exc))
            raise
        raise DigestError(
            f"{exc}; nothing was sent: issue {issue.id} is approved, as before the send"
            f" (`digest issue reopen {issue.id}` to edit it)"
        ) from None
    except DigestError as exc:
        # the relay refused us, or the send had to stop: every other worker stops too
        store.stop_send(issue.id, str(exc))
        raise


def _already_sent(project: Project, issue: Issue) -> SendReport:
    """A sent issue is finished: a repeated `digest send` confirms it, touching nothing (not
    the relay, not its finish time), and names when it was sent."""
    _, finished = project.store.issue_send_times(issue.id)
    return SendReport(
        issue_id=issue.id,
        issue_key=issue.key,
        counts=project.store.send_counts(issue.id),
        transport=(project.store.issue_transport(issue.id) or "").partition(" ")[2],
        already_sent=finished or datetime.now(UTC),
    )


def _approved(project: Project, issue: Issue) -> Issue:
    if issue.status != "draft":
        return issue
    try:
        return approve(project, issue.id)  # sending a draft is the editor's approval
    except DigestError:
        # several workers started on the draft at once: one of them approved it
        issue = project.store.issue(issue.id)
        if issue.status == "draft":
            raise
        return issue


def send_issue(project: Project, issue: Issue | int | None = None, **options: Any) -> SendReport:
    """`send_issue_async` for callers without an event loop (the CLI, `digest run`)."""
    return asyncio.run(send_issue_async(project, issue, **options))


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise DigestError(f"--{name.replace('_', '-')} {value}: must be at least 1")


def _check_non_negative(**values: float) -> None:
    # nan compares false with everything: a nan delay once made a retry wait for ever
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise DigestError(f"--{name.replace('_', '-')} {value:g}: must be a number 0 or more")
