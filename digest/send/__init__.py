"""Sending an issue: exactly once across crashes and SMTP faults, at the relay's pace.

One module per concern (docs/architecture.md, "The send package"):

- `issue`: `send_issue`, the sequence: preflight, approval, snapshot, taking part, the engine;
- `preflight`: the checks before anything changes (a real sender, a list, the relay's login);
- `lock`: who may send (an flock on SQLite, registered workers with leases on PostgreSQL);
- `engine`: one worker's run: each message built, paced, sent and its outcome acted on;
- `feed`: where the next row comes from: the store's claims and this run's retries;
- `outcomes`: recording what became of each message, bounces, the circuit breaker;
- `policy`: what a relay's reply means for the send (sent, the address's fault, throttling...);
- `pacing`: the rate, the hourly cap, the shared budget, and yielding when the relay pushes back;
- `messages`, `transport`, `dry_run`, `one_copy`, `report`: the envelopes, the transport's
  choice, `--dry-run`, `--to`, and what the caller is told.
"""

from digest.send.dry_run import dry_run_report
from digest.send.engine import MAX_THROTTLES, MAX_UNREACHABLE, Run
from digest.send.feed import BATCH, RunSettings
from digest.send.issue import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_BASE,
    TOTAL_ATTEMPTS_FACTOR,
    resolve_issue,
    send_issue,
    send_issue_async,
    snapshot_recipients,
)
from digest.send.lock import DEFAULT_LEASE, IssueLock, taking_part, worker_id
from digest.send.messages import Messages
from digest.send.one_copy import send_test_copy, send_test_copy_async
from digest.send.pacing import MAX_RETRY_DELAY, Pace, Pushback, SharedPace, backoff
from digest.send.report import SendLocked, SendPaused, SendProgress, SendReport, SendStopped
from digest.send.transport import (
    TRANSPORT_KINDS,
    check_transport_switch,
    choose_transport,
    describe_transport,
    transport_kind,
)

__all__ = [
    "BATCH",
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_BASE",
    "MAX_RETRY_DELAY",
    "MAX_THROTTLES",
    "MAX_UNREACHABLE",
    "TOTAL_ATTEMPTS_FACTOR",
    "TRANSPORT_KINDS",
    "IssueLock",
    "Messages",
    "Pace",
    "Pushback",
    "Run",
    "RunSettings",
    "SendLocked",
    "SendPaused",
    "SendProgress",
    "SendReport",
    "SendStopped",
    "SharedPace",
    "backoff",
    "check_transport_switch",
    "choose_transport",
    "describe_transport",
    "dry_run_report",
    "resolve_issue",
    "send_issue",
    "send_issue_async",
    "send_test_copy",
    "send_test_copy_async",
    "snapshot_recipients",
    "taking_part",
    "transport_kind",
    "worker_id",
]
