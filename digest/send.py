"""The send engine: one issue to its subscribers, exactly once across crashes and SMTP faults.

    subscribers/*.csv ──snapshot──▶ sends rows (pending) ──stream──▶ N workers ──▶ Transport
                                         ▲                                │
                                         └──── sent | failed | deferred ◀─┘ (recorded one by one)

A row is recorded as soon as its outcome is known, before the worker takes the next one, so a
crash at any moment leaves at most `concurrency` rows whose message may have gone out but are
still pending; the resume sends them again with the same Message-ID. Rows are read from the store
in small batches and messages are built one at a time: memory does not grow with the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import heapq
import ipaddress
import itertools
import math
import os
import random
import re
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from digest.desk import approve, current_parts
from digest.errors import EXIT_OK, EXIT_PARTIAL, ConfigError, DigestError
from digest.models import Issue, Subscriber
from digest.store import GAVE_UP_PREFIX, SendCounts, SendRow
from digest.subscribers import iter_subscribers, known_lists
from digest.transports import (
    Delivery,
    Envelope,
    MemoryTransport,
    OutboxTransport,
    SMTPTransport,
    Transport,
)

if TYPE_CHECKING:
    from digest.config import Config
    from digest.dkim import DKIMSigner
    from digest.project import Project
    from digest.store import Store

DEFAULT_RETRY_BASE = 2.0  # seconds before the first retry; doubled for each one after
DEFAULT_MAX_ATTEMPTS = 4  # per address and run; what is still deferred waits for the next run
# Tries per address over every run, by default, as a multiple of --max-attempts: an address that
# answers 4xx for ever is given up on (failed) instead of keeping the issue `sending` for ever.
TOTAL_ATTEMPTS_FACTOR = 3
MAX_RETRY_DELAY = 900.0
BATCH = 500  # rows read from the store at a time
# Rows a worker claims at a time, per connection: enough to keep its connections busy between
# claims, few enough that the last claims leave no worker idle while another has a long queue.
CLAIM_PER_CONNECTION = 4
# Seconds a worker's claim on its rows lasts unless renewed (it renews every third of it): a
# worker killed mid-send leaves its rows to the others this long after its last renewal.
DEFAULT_LEASE = 30.0
# a worker with nothing left to claim looks again this often while others hold rows (PostgreSQL)
CLAIM_POLL = 2.0
# rounds of connections that could not be opened (refused, no greeting, timed out), each
# followed by a global pause that doubles, before the send stops: a relay that is down would
# otherwise cost every row its timeout
MAX_UNREACHABLE = 4
# temporary replies about us in a row (throttling), each doubling the global pause, before the
# send stops and leaves the rest to a later run
MAX_THROTTLES = 10
TRANSPORT_KINDS = ("outbox", "smtp", "memory")


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


# -- the lock -------------------------------------------------------------------------------------


class IssueLock:
    """An flock on `.digest/send-ISSUE.lock`: the OS drops it when the holder dies, even by
    SIGKILL, so a crashed send never blocks its resume."""

    def __init__(self, state_dir: Path, issue_id: int) -> None:
        self.path = state_dir / f"send-{issue_id}.lock"
        self.issue_id = issue_id
        self._fd: int | None = None

    def __enter__(self) -> IssueLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SendLocked(
                f"issue {self.issue_id}: another `digest send` is sending it (pid {holder});"
                " wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            # the file stays: unlinking a lock file lets two processes lock different inodes
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def worker_id() -> str:
    """This process, as the other workers see it in `sends.worker` and `send_workers`: host, pid
    and a nonce (pids are reused, and containers all call themselves pid 1)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


# -- transport and messages -----------------------------------------------------------------------


def choose_transport(
    project: Project,
    *,
    smtp_url: str | None = None,
    insecure: bool = False,
    concurrency: int | None = None,
    backend: str | None = None,
) -> Transport:
    """`--transport` > `--smtp-url` > DIGEST_SMTP_URL > digest.toml's backend > the outbox."""
    config = project.config
    if backend is not None and backend not in TRANSPORT_KINDS:
        raise DigestError(f"--transport {backend}: choose one of {', '.join(TRANSPORT_KINDS)}")
    url = smtp_url or (config.smtp_url if config.transport == "smtp" else "")
    if backend == "smtp" and not (url := url or config.smtp_url):
        raise DigestError("--transport smtp: no relay given (--smtp-url or DIGEST_SMTP_URL)")
    if url and backend in (None, "smtp"):
        transport = SMTPTransport(
            url,
            password=config.smtp_password,
            timeout=config.timeout,
            verify=not (insecure or config.insecure),
            ca_file=config.ca_file or None,
            pool_size=concurrency or config.concurrency,
            helo_name=config.helo_name or None,
        )
        _check_links_for_relay(config, transport)
        return transport
    if backend == "memory" or (backend is None and config.transport == "memory"):
        return MemoryTransport()
    return OutboxTransport(project.outbox_dir)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_links_for_relay(config: Config, transport: SMTPTransport) -> None:
    """Mail through a real relay goes to real readers: its unsubscribe and web links must work
    from their machines, and RFC 8058 one-click unsubscribe needs https. A relay on loopback is
    a test setup (or a local MTA in front of a test), so it is let through."""
    if _is_loopback(transport.settings.host):
        return
    base = urlsplit(config.base_url)
    if base.scheme != "https" or _is_loopback(base.hostname or ""):
        raise ConfigError(
            f"{config.path}: `newsletter.base_url` is {config.base_url}, but messages would go"
            f" through {transport.settings}: readers' unsubscribe and web links would not work"
            " (one-click unsubscribe needs https); set base_url (or DIGEST_BASE_URL) to the"
            " public https:// address of `digest serve`"
        )


def transport_kind(transport: Transport) -> str:
    if isinstance(transport, SMTPTransport):
        return "smtp"
    if isinstance(transport, OutboxTransport):
        return "outbox"
    if isinstance(transport, MemoryTransport):
        return "memory"
    return type(transport).__name__


def check_transport_switch(
    project: Project, issue: Issue, transport: Transport, *, explicit: bool
) -> None:
    """An issue keeps the transport its send started with: a later `digest send` in a shell
    without DIGEST_SMTP_URL must not finish it into the local outbox and call it sent."""
    recorded = project.store.issue_transport(issue.id)
    kind = transport_kind(transport)
    if issue.status == "sent" and not explicit:
        return  # nothing left to send: a repeated `digest send` only confirms
    if recorded and recorded.split(" ", 1)[0] != kind and not explicit:
        raise DigestError(
            f"issue {issue.id} was started through {recorded.split(' ', 1)[1]}; this send would"
            f" go through {describe_transport(transport)}. Check DIGEST_SMTP_URL and"
            f" digest.toml, or pass --transport {kind} to switch on purpose"
        )
    description = f"{kind} {describe_transport(transport)}"
    if recorded != description:
        project.store.set_issue_transport(issue.id, description)


def describe_transport(transport: Transport) -> str:
    if isinstance(transport, SMTPTransport):
        return str(transport.settings)
    if isinstance(transport, OutboxTransport):
        return f"outbox {transport.path}"
    return type(transport).__name__


class Messages:
    """Builds the envelope for one recipient: the message factory, then DKIM when configured."""

    def __init__(self, project: Project, issue: Issue) -> None:
        from digest.dkim import signer_from_config
        from digest.message import MessageFactory
        from digest.tokens import load_secret

        project.check_shared_secret()
        secret = load_secret(project.state_dir, project.config.secret)
        self.factory = MessageFactory(issue, project.config, secret)
        self.signer: DKIMSigner | None = signer_from_config(project.config)

    def envelope(self, subscriber: Subscriber) -> Envelope:
        envelope: Envelope = self.factory.envelope(subscriber)
        if self.signer is not None:
            envelope = replace(envelope, data=self.signer.sign(envelope.data))
        return envelope

    async def envelope_async(self, subscriber: Subscriber) -> Envelope:
        """`envelope`, with the DKIM signature computed in a worker thread: an RSA signature
        on the event loop would stall every connection while it is made."""
        envelope: Envelope = self.factory.envelope(subscriber)
        if self.signer is not None:
            data = await asyncio.to_thread(self.signer.sign, envelope.data)
            envelope = replace(envelope, data=data)
        return envelope


def resolve_issue(project: Project, issue: Issue | int | None) -> Issue:
    if isinstance(issue, Issue):
        return issue
    return project.store.latest_issue() if issue is None else project.store.issue(issue)


# -- pacing ---------------------------------------------------------------------------------------


class Pace:
    """`rate` messages per second and at most `hourly_cap` in any hour (0: no limit)."""

    def __init__(
        self, rate: float = 0.0, hourly_cap: int = 0, sent_ago: Iterable[float] = ()
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.hourly_cap = hourly_cap
        self._next = 0.0
        # Messages sent in the last hour by earlier runs (seconds ago) count against the cap: a
        # restarted send must not double a relay's hourly quota. asyncio's clock is monotonic.
        now = time.monotonic()
        self._window: deque[float] = deque(sorted(now - ago for ago in sent_ago if ago < 3600))
        self._lock = asyncio.Lock()

    def slow_down(self) -> None:
        """Half the rate (when one is set): the relay said we are sending too fast."""
        self.interval *= 2

    async def wait(self) -> None:
        if not self.interval and not self.hourly_cap:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            if self.interval:
                now = loop.time()
                slot = max(now, self._next)
                self._next = slot + self.interval
                if slot > now:
                    await asyncio.sleep(slot - now)
            if self.hourly_cap:
                while len(self._window) >= self.hourly_cap:
                    wait = self._window[0] + 3600.0 - loop.time()
                    if wait <= 0:
                        self._window.popleft()
                    else:
                        await asyncio.sleep(wait)
                self._window.append(loop.time())


class SharedPace(Pace):
    """The same limits for the issue as a whole when several workers send it (PostgreSQL):
    each message takes its slot from a budget kept in the store."""

    def __init__(self, store: Store, rate: float = 0.0, hourly_cap: int = 0) -> None:
        super().__init__(rate, hourly_cap)
        self.store = store

    async def wait(self) -> None:
        if not self.interval and not self.hourly_cap:
            return
        async with self._lock:  # one reservation at a time per process
            slot = self.store.take_send_slot(self.interval, self.hourly_cap)
        if (wait := slot - time.time()) > 0:
            await asyncio.sleep(wait)


def backoff(retry_base: float, attempt: int) -> float:
    """Exponential with "equal jitter": half the delay fixed, half random, so that many
    addresses deferred together by one outage do not all come back at the same instant."""
    delay = min(retry_base * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay / 2 + random.uniform(0, delay / 2)


# -- the engine -----------------------------------------------------------------------------------


@dataclass(order=True)
class _Retry:
    due: float  # loop time; 0.0 for a row taken straight from the store
    order: int
    subscriber: Subscriber = field(compare=False)
    attempts: int = field(compare=False)  # in this run
    earlier: int = field(default=0, compare=False)  # in earlier runs


class _Run:
    def __init__(
        self,
        project: Project,
        issue: Issue,
        transport: Transport,
        messages: Messages,
        *,
        concurrency: int,
        pace: Pace,
        retry_base: float,
        max_attempts: int,
        max_total_attempts: int,
        progress: Callable[[SendProgress], None] | None,
        worker: str,
        lease: float,
    ) -> None:
        self.store = project.store
        self.worker = worker
        self.lease = lease
        self.bounce_limit = project.config.bounce_limit
        self.max_send_errors = project.config.max_send_errors
        self.issue = issue
        self.transport = transport
        self.messages = messages
        self.concurrency = concurrency
        self.pace = pace
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.max_total_attempts = max_total_attempts
        self.progress = progress
        self.state = SendProgress()
        self.bounced = 0
        self.warnings: list[str] = []
        self.fatal: BaseException | None = None
        self._retries: list[_Retry] = []
        self._order = itertools.count()
        self._outstanding = 0  # taken from the store or the retry heap, outcome not final yet
        self._changed = asyncio.Event()
        self.replies: Counter[str] = Counter()  # of failed and deferred messages
        # rounds of connections that could not be opened, in a row, and when the last ended
        self._unreachable = 0
        self._last_unreachable = -math.inf
        # throttling: replies about us in a row, the global pause, and how many may be in flight
        self._throttles = 0
        self._pause_started = -math.inf
        self._paused_until = 0.0
        self._limit = concurrency
        self._in_flight = 0
        self._slot_freed = asyncio.Condition()
        # the circuit breaker: the current run of permanent failures with one reply. Their
        # bounce accounting waits until the run is broken, so a tripped breaker costs nobody.
        self._streak_reply = ""
        self._streak: list[Subscriber] = []

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.state)

    async def run(self) -> None:
        counts = self.store.send_counts(self.issue.id)
        self.state.total = counts.pending + counts.deferred
        self._report()
        queue: asyncio.Queue[_Retry | None] = asyncio.Queue(maxsize=self.concurrency)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.concurrency)]
        leases = asyncio.create_task(self._keep_leases())
        try:
            await self._feed(queue)
            await asyncio.gather(*workers)
        finally:
            for task in [*workers, leases]:
                task.cancel()
            await asyncio.gather(*workers, leases, return_exceptions=True)
        if self.fatal is not None:
            raise self.fatal
        self._end_streak()

    async def _keep_leases(self) -> None:
        """Renew this worker's claims while it works, and stop when another worker recorded
        that the relay refused us."""
        while True:
            await asyncio.sleep(self.lease / 3)
            self.store.renew_leases(self.issue.id, self.worker, self.lease)
            self._stopped_elsewhere()

    def _stopped_elsewhere(self) -> None:
        reason = self.store.send_stopped(self.issue.id)
        if reason and self.fatal is None:
            self.fatal = SendStopped(f"issue {self.issue.key}: stopped by another worker: {reason}")
            self._changed.set()

    def _claim(self) -> list[SendRow] | float | None:
        """The next rows this worker leases; else when to look again (loop time) while other
        workers hold rows still to send, or something of ours may come back; else None: done."""
        self._stopped_elsewhere()
        if self.fatal is not None:
            return None
        size = min(BATCH, self.concurrency * CLAIM_PER_CONNECTION)
        batch = self.store.claim_batch(self.issue.id, self.worker, self.lease, size)
        if batch:
            return batch
        now = asyncio.get_running_loop().time()
        others = self.store.others_lease_until(self.issue.id, self.worker)
        if others is not None:
            # claimed here as soon as that worker's lease lapses (it died), if it does
            return now + min(max(others - time.time(), 0.0) + 0.1, CLAIM_POLL)
        return now + CLAIM_POLL if self._retries or self._outstanding else None

    async def _feed(self, queue: asyncio.Queue[_Retry | None]) -> None:
        loop = asyncio.get_running_loop()
        buffered: deque[SendRow] = deque()
        next_claim: float | None = 0.0  # None: nothing left to claim
        while self.fatal is None:
            now = loop.time()
            if self._retries and self._retries[0].due <= now:
                item = heapq.heappop(self._retries)  # already counted as outstanding
            elif buffered or (next_claim is not None and next_claim <= now):
                if not buffered:
                    claimed = self._claim()
                    if isinstance(claimed, list):
                        buffered.extend(claimed)
                    else:
                        next_claim = claimed
                    continue
                row = buffered.popleft()
                self._outstanding += 1
                wait = (row.next_try or 0.0) - time.time()
                if wait > 0:
                    # deferred by an earlier run and not due yet: never tried before its time
                    due = loop.time() + min(wait, MAX_RETRY_DELAY)
                    retry = _Retry(due, next(self._order), row.subscriber, 0, row.attempts)
                    heapq.heappush(self._retries, retry)
                    self.state.retrying += 1
                    continue
                item = _Retry(0.0, next(self._order), row.subscriber, 0, row.attempts)
            elif self._retries or self._outstanding or next_claim is not None:
                deadlines = [self._retries[0].due] if self._retries else []
                deadlines += [next_claim] if next_claim is not None else []
                timeout = min(deadlines) - now if deadlines else None
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
                if next_claim is not None and not (self._retries or self._outstanding):
                    # the last of ours is done: look now, not at a poll set while it was in
                    # flight (every send ended CLAIM_POLL after its last message)
                    next_claim = min(next_claim, loop.time())
                continue
            else:
                break
            await queue.put(item)
        for _ in range(self.concurrency):
            await queue.put(None)

    async def _worker(self, queue: asyncio.Queue[_Retry | None]) -> None:
        while (item := await queue.get()) is not None:
            if self.fatal is not None:
                continue  # stopping: the row stays pending for the next run
            try:
                await self._deliver(item)
            except BaseException as exc:
                # a relay that cannot be used at all, or a bug: stop feeding, finish in-flight
                self.fatal = exc
                if not isinstance(exc, Exception):
                    raise
            finally:
                self._outstanding -= 1
                self._changed.set()

    async def _deliver(self, item: _Retry) -> None:
        subscriber, store, issue_id = item.subscriber, self.store, self.issue.id
        if store.is_suppressed(subscriber.email):
            store.mark_send(issue_id, subscriber.email, "skipped", count_attempt=False)
            self.state.skipped += 1
            self._report()
            return
        try:
            envelope = await self.messages.envelope_async(subscriber)
        except DigestError as exc:
            # bad data in one row (say a name with a line break): that person is not mailed,
            # and it is not a bounce
            store.mark_send(issue_id, subscriber.email, "skipped", reply=str(exc))
            self.warnings.append(f"{subscriber.email}: skipped: {exc}")
            self.state.skipped += 1
            self._report()
            return
        await self._take_slot()
        try:
            await self.pace.wait()
            started = asyncio.get_running_loop().time()
            delivery = await self.transport.send(envelope)
        finally:
            async with self._slot_freed:
                self._in_flight -= 1
                self._slot_freed.notify_all()
        if item.due:
            self.state.retrying -= 1
        self._count_unreachable(delivery, started)
        if delivery.about_us and not delivery.ok:
            self._throttled(item, delivery, started)
        else:
            self._record(subscriber, delivery, item.attempts + 1, item.earlier)
        self._report()

    def _count_unreachable(self, delivery: Delivery, started: float) -> None:
        """Stop after MAX_UNREACHABLE rounds of connections that could not be opened: a relay
        that is down, or accepts TCP but never greets, would cost every row its timeout.
        Connections that failed together (one per worker) are one round."""
        if not delivery.unreachable:
            self._unreachable = 0
            return
        if started < self._last_unreachable:
            return
        self._unreachable += 1
        now = asyncio.get_running_loop().time()
        self._last_unreachable = now
        # nobody connects again before the pause is over: fresh rows would fail the same way
        self._paused_until = max(
            self._paused_until, now + backoff(self.retry_base, self._unreachable)
        )
        if self._unreachable >= MAX_UNREACHABLE and self.fatal is None:
            self.fatal = SendStopped(
                f"{describe_transport(self.transport)}: stopped after {self._unreachable}"
                f" rounds of failed connections ({delivery.reply[:200]}); the rest stays"
                " deferred: run `digest send` again once the relay answers"
            )

    async def _take_slot(self) -> None:
        """Wait for one of the `_limit` sending slots, then for the end of any global pause."""
        async with self._slot_freed:
            await self._slot_freed.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1
        loop = asyncio.get_running_loop()
        while (wait := self._paused_until - loop.time()) > 0:
            await asyncio.sleep(wait)

    def _throttled(self, item: _Retry, delivery: Delivery, started: float) -> None:
        """A temporary reply about us ("450 4.7.1 too much mail", "421 too busy"): the whole
        send backs off, with fewer connections and half the rate, and the address keeps its
        attempts, since retrying it alone would only keep the relay's counter up."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        # a reply to a message sent before the current pause began is an echo of the same news
        if started >= self._pause_started:
            self._throttles += 1
            if self._throttles > MAX_THROTTLES:
                self.fatal = SendStopped(
                    f"{describe_transport(self.transport)}: stopped, the relay kept deferring us"
                    f" ({delivery.reply}); the rest stays deferred for a later run: run"
                    " `digest send` again later, or set a lower `transport.rate`"
                )
            self._pause_started = now
            self._paused_until = now + backoff(self.retry_base, self._throttles)
            self._limit = max(1, self._limit // 2)
            self.pace.slow_down()
        self.replies[delivery.reply[:200]] += 1
        self._defer_uncounted(
            item.subscriber,
            delivery.reply,
            self._paused_until - now,
            item.attempts + 1,
            item.earlier,
        )

    def _defer_uncounted(
        self, subscriber: Subscriber, reply: str, delay: float, attempts: int, earlier: int
    ) -> None:
        """Deferred for a reason that is not the address's (a throttle, no connection): the
        stored attempt count, which decides giving up, is untouched; --max-attempts still
        bounds this run's tries."""
        next_try = time.time() + delay
        self.store.mark_send(
            self.issue.id,
            subscriber.email,
            "deferred",
            reply=reply[:500],
            next_try=next_try,
            count_attempt=False,
        )
        if attempts < self.max_attempts and self.fatal is None:
            self._retry_later(subscriber, delay, attempts, earlier)
        else:
            self.state.deferred += 1

    def _record(
        self, subscriber: Subscriber, delivery: Delivery, attempts: int, earlier: int
    ) -> None:
        """`attempts` in this run, counting this one; `earlier` in runs before it."""
        store, issue_id, email = self.store, self.issue.id, subscriber.email
        reply = delivery.reply[:500]
        total = earlier + attempts
        if not delivery.about_us:
            self._throttles = 0
        if not delivery.ok:
            self.replies[delivery.reply[:200]] += 1
        if delivery.ok:
            store.mark_send(issue_id, email, "sent", reply=reply)
            self.state.sent += 1
        elif delivery.permanent:
            store.mark_send(issue_id, email, "failed", reply=reply)
            self.state.failed += 1
            self._permanent_failure(subscriber, delivery)
            return
        elif delivery.unreachable:
            # no session was opened: nothing was said about the address
            delay = backoff(self.retry_base, attempts)
            self._defer_uncounted(subscriber, reply, delay, attempts, earlier)
        elif total >= self.max_total_attempts and not delivery.connection_lost:
            # The server answered for this address, temporarily, too many times: give up, like
            # an MTA whose queue lifetime ran out. Lost connections never get here, so a relay
            # that is down for days leaves rows deferred rather than failing the whole list.
            reply = f"{GAVE_UP_PREFIX}{total} attempts: {reply}"[:500]
            store.mark_send(issue_id, email, "failed", reply=reply)
            self.state.failed += 1
        else:
            delay = backoff(self.retry_base, attempts)
            store.mark_send(issue_id, email, "deferred", reply=reply, next_try=time.time() + delay)
            if attempts < self.max_attempts:
                self._retry_later(subscriber, delay, attempts, earlier)
            else:
                self.state.deferred += 1  # the next run tries again, not before next_try
        self._end_streak()

    def _retry_later(
        self, subscriber: Subscriber, delay: float, attempts: int, earlier: int
    ) -> None:
        due = asyncio.get_running_loop().time() + delay
        heapq.heappush(self._retries, _Retry(due, next(self._order), subscriber, attempts, earlier))
        self._outstanding += 1  # back in the heap; the worker's finally takes one off
        self.state.retrying += 1

    def _permanent_failure(self, subscriber: Subscriber, delivery: Delivery) -> None:
        """Count a permanent failure towards the circuit breaker; trip it when
        `transport.max_send_errors` in a row carry the same reply (like listmonk's
        MaxSendErrors): those rows go back to pending and nobody's bounce record counts them."""
        if not self.max_send_errors:
            self._bounce_check(subscriber, delivery.reply)
            return
        reply = _reply_pattern(delivery.reply, subscriber.email)
        if reply != self._streak_reply:
            self._end_streak()
            self._streak_reply = reply
        self._streak.append(subscriber)
        if len(self._streak) < self.max_send_errors or self.fatal is not None:
            return
        for member in self._streak:
            self.store.mark_send(self.issue.id, member.email, "pending", count_attempt=False)
        self.state.failed -= len(self._streak)
        self.replies[delivery.reply[:200]] -= len(self._streak)
        self.fatal = SendPaused(
            f"{describe_transport(self.transport)}: paused, the last {len(self._streak)}"
            f" messages all failed with the same reply ({delivery.reply[:200]}); that looks like"
            " a problem with the relay or the message, not with the addresses, so nobody was"
            " marked failed or bounced: fix it and run `digest send` again (or raise"
            " `transport.max_send_errors`)"
        )
        self._streak = []

    def _end_streak(self) -> None:
        """A different outcome broke the run of identical failures: account for its bounces."""
        streak, reply = self._streak, self._streak_reply
        self._streak, self._streak_reply = [], ""
        for subscriber in streak:
            self._bounce_check(subscriber, reply)

    def _bounce_check(self, subscriber: Subscriber, reply: str) -> None:
        failures = self.store.consecutive_failures(subscriber.email)
        if failures >= self.bounce_limit:
            detail = f"{failures} failed issues in a row, the last refused: {reply[:300]}"
            self.store.suppress(
                subscriber.email, "bounced", list_name=subscriber.list, detail=detail
            )
            self.bounced += 1


def _reply_pattern(reply: str, email: str) -> str:
    """A reply with the recipient's address taken out: "550 5.1.1 <a@x>: unknown" and
    "550 5.1.1 <b@x>: unknown" are the same answer."""
    return re.sub(re.escape(email), "", reply, flags=re.IGNORECASE).strip()


def snapshot_recipients(
    project: Project, issue: Issue, list_name: str | None, problems: list[str] | None = None
) -> int:
    """Queue the subscribers (of one list, or all) for `issue`; people already queued keep their
    row, so a resume never re-sends. Returns how many were added; each list row that could not
    be read is named in `problems` (nobody leaves a list silently)."""
    lists = known_lists(project.subscribers_dir, project.store)
    if list_name is not None and list_name not in lists:
        known = ", ".join(lists) or "none"
        raise DigestError(f"--list {list_name}: no such list (lists: {known})")
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
) -> SendReport:
    """Send `issue` (default: the latest) to its subscribers; see the module docstring.

    Approves a draft first (docs/editing.md). Raises SendLocked when another process is
    sending it, DigestError for bad settings or a relay that refuses us outright (rows stay
    pending for a resume), SendPaused when the circuit breaker trips, SendStopped when the
    relay cannot be reached or keeps deferring us. `backend` (`--transport`) chooses the
    transport explicitly, also when it differs from the one the issue's send started with."""
    config = project.config
    concurrency = config.concurrency if concurrency is None else concurrency
    if max_total_attempts is None:
        max_total_attempts = config.max_total_attempts or TOTAL_ATTEMPTS_FACTOR * max_attempts
    _check_positive(
        concurrency=concurrency, max_attempts=max_attempts, max_total_attempts=max_total_attempts
    )
    _check_non_negative(retry_base=retry_base, rate=config.rate if rate is None else rate)
    issue = resolve_issue(project, issue)
    if dry_run:
        issue = current_parts(project, issue)  # a draft as it would go: not approved by a look
        return _dry_run(project, issue, Messages(project, issue), list_name)
    if issue.status == "draft":
        try:
            issue = approve(project, issue.id)  # sending a draft is the editor's approval
        except DigestError:
            # several workers started on the draft at once: one of them approved it
            issue = project.store.issue(issue.id)
            if issue.status == "draft":
                raise
    messages = Messages(project, issue)
    explicit = backend is not None
    transport = transport or choose_transport(
        project, smtp_url=smtp_url, insecure=insecure, concurrency=concurrency, backend=backend
    )
    hourly_cap = config.hourly_cap if hourly_cap is None else hourly_cap
    store = project.store
    pace = (
        SharedPace(store, config.rate if rate is None else rate, hourly_cap)
        if store.shared
        else Pace(
            config.rate if rate is None else rate,
            hourly_cap,
            store.sent_in_last_hour() if hourly_cap else (),
        )
    )
    problems: list[str] = []
    worker = worker_id()
    with _sender(project, issue.id, worker, lease):
        check_transport_switch(project, issue, transport, explicit=explicit)
        snapshot_recipients(project, issue, list_name, problems)
        run = _Run(
            project,
            issue,
            transport,
            messages,
            concurrency=concurrency,
            pace=pace,
            retry_base=retry_base,
            max_attempts=max_attempts,
            max_total_attempts=max_total_attempts,
            progress=progress,
            worker=worker,
            lease=lease,
        )
        try:
            async with transport:
                await run.run()
        except DigestError as exc:
            # the relay refused us, or the send had to stop: every other worker stops too
            store.stop_send(issue.id, str(exc))
            raise
        counts = store.send_counts(issue.id)
        if not counts.pending and not counts.deferred:
            store.set_issue_status(issue.id, "sent")
    return SendReport(
        issue_id=issue.id,
        issue_key=issue.key,
        counts=counts,
        run=run.state,
        bounced=run.bounced,
        transport=describe_transport(transport),
        warnings=problems + run.warnings,
        replies=+run.replies,
    )


@contextlib.contextmanager
def _sender(project: Project, issue_id: int, worker: str, lease: float) -> Iterator[None]:
    """Take part in sending the issue. On SQLite, alone: the flock, which also proves that any
    lease left in the store belongs to a dead process. On PostgreSQL, as one of any number of
    registered workers. Either way a stop recorded by an earlier run is cleared when nobody else
    is sending, and this worker's rows are free for the others the moment it leaves."""
    store = project.store
    lock = contextlib.nullcontext() if store.shared else IssueLock(project.state_dir, issue_id)
    with lock:
        if not store.shared:
            store.release_leases(issue_id)
        if not store.live_workers(issue_id):
            store.clear_stop(issue_id)
        store.renew_leases(issue_id, worker, lease)
        try:
            yield
        finally:
            store.release_leases(issue_id, worker)


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


def _dry_run(
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


# -- one test copy --------------------------------------------------------------------------------


async def send_test_copy_async(
    project: Project,
    issue: Issue | int | None,
    address: str,
    *,
    transport: Transport | None = None,
    smtp_url: str | None = None,
    insecure: bool = False,
    backend: str | None = None,
) -> Delivery:
    """One copy of `issue` to `address`, as a subscriber of that name would get it; the
    bookkeeping is not touched."""
    address = address.strip()
    if any(c in address for c in "\r\n\t ") or "@" not in parseaddr(address)[1]:
        raise DigestError(f"--to {address!r}: not an email address")
    issue = current_parts(project, resolve_issue(project, issue))
    envelope = await Messages(project, issue).envelope_async(Subscriber(email=address, list="test"))
    transport = transport or choose_transport(
        project, smtp_url=smtp_url, insecure=insecure, concurrency=1, backend=backend
    )
    async with transport:
        return await transport.send(envelope)


def send_test_copy(
    project: Project, issue: Issue | int | None, address: str, **options: Any
) -> Delivery:
    return asyncio.run(send_test_copy_async(project, issue, address, **options))
