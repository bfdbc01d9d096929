"""The engine: one worker's run over an issue's rows, exactly once across crashes and faults.

    sends rows (pending, deferred) ──claim a few──▶ feed ──▶ N connections ──▶ Transport
           ▲                                         ▲                           │
           └──── sent | failed | deferred (outcomes) ┴──── retry in this run ◀───┘

A row is recorded as soon as its outcome is known, before the connection takes the next one, so
a crash at any moment leaves at most `concurrency` rows whose message may have gone out but are
still pending; the resume sends them again with the same Message-ID. Rows are claimed from the
store a few at a time and messages are built one at a time: memory does not grow with the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.send.messages import Messages
from digest.send.outcomes import Outcomes
from digest.send.pacing import MAX_RETRY_DELAY, Pace, Pushback
from digest.send.policy import Verdict, judge
from digest.send.report import SendProgress, SendStopped
from digest.send.transport import describe_transport
from digest.store import SendRow
from digest.transports import Delivery, Transport

if TYPE_CHECKING:
    from digest.project import Project

BATCH = 500  # rows read from the store at a time
# Rows a worker claims at a time, per connection: enough to keep its connections busy between
# claims, few enough that the last claims leave no worker idle while another has a long queue.
CLAIM_PER_CONNECTION = 4
# a worker with nothing left to claim looks again this often while others hold rows (PostgreSQL)
CLAIM_POLL = 2.0
# rounds of connections that could not be opened (refused, no greeting, timed out), each
# followed by a global pause that doubles, before the send stops: a relay that is down would
# otherwise cost every row its timeout
MAX_UNREACHABLE = 4
# temporary replies about us in a row (throttling), each doubling the global pause, before the
# send stops and leaves the rest to a later run
MAX_THROTTLES = 10


@dataclass(order=True)
class _Retry:
    due: float  # loop time; 0.0 for a row taken straight from the store
    order: int
    subscriber: Subscriber = field(compare=False)
    attempts: int = field(compare=False)  # in this run
    earlier: int = field(default=0, compare=False)  # in earlier runs


@dataclass
class RunSettings:
    concurrency: int
    retry_base: float
    max_attempts: int
    max_total_attempts: int
    worker: str
    lease: float


class Run:
    """One worker's run: claims rows, feeds them to `concurrency` connections, and has each
    outcome recorded (`Outcomes`) and the relay's pushback honoured (`Pushback`, `Pace`)."""

    def __init__(
        self,
        project: Project,
        issue: Issue,
        transport: Transport,
        messages: Messages,
        settings: RunSettings,
        *,
        pace: Pace,
        progress: Callable[[SendProgress], None] | None,
    ) -> None:
        self.store = project.store
        self.issue = issue
        self.transport = transport
        self.messages = messages
        self.settings = settings
        self.concurrency = settings.concurrency
        self.pace = pace
        self.pushback = Pushback(settings.concurrency, settings.retry_base)
        self.progress = progress
        self.outcomes = Outcomes(
            project,
            issue,
            retry_base=settings.retry_base,
            max_attempts=settings.max_attempts,
            max_total_attempts=settings.max_total_attempts,
            transport_name=describe_transport(transport),
        )
        self.state = self.outcomes.state
        self._retries: list[_Retry] = []
        self._order = itertools.count()
        self._outstanding = 0  # taken from the store or the retry heap, outcome not final yet
        self._changed = asyncio.Event()

    @property
    def fatal(self) -> BaseException | None:
        return self.outcomes.fatal

    @fatal.setter
    def fatal(self, reason: BaseException | None) -> None:
        self.outcomes.fatal = reason

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
        self.outcomes.finish()

    async def _keep_leases(self) -> None:
        """Renew this worker's claims while it works, and stop when another worker recorded
        that the relay refused us."""
        while True:
            await asyncio.sleep(self.settings.lease / 3)
            self.store.renew_leases(self.issue.id, self.settings.worker, self.settings.lease)
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
        worker, lease = self.settings.worker, self.settings.lease
        size = min(BATCH, self.concurrency * CLAIM_PER_CONNECTION)
        batch = self.store.claim_batch(self.issue.id, worker, lease, size)
        if batch:
            return batch
        now = asyncio.get_running_loop().time()
        others = self.store.others_lease_until(self.issue.id, worker)
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

    def _retry_later(self, item: _Retry, delay: float | None, attempts: int) -> None:
        if delay is None:
            return
        due = asyncio.get_running_loop().time() + delay
        retry = _Retry(due, next(self._order), item.subscriber, attempts, item.earlier)
        heapq.heappush(self._retries, retry)
        self._outstanding += 1  # back in the heap; the worker's finally takes one off
        self.state.retrying += 1

    async def _deliver(self, item: _Retry) -> None:
        subscriber = item.subscriber
        if self.store.is_suppressed(subscriber.email):
            self.outcomes.skipped(subscriber)
            self._report()
            return
        try:
            envelope = await self.messages.envelope_async(subscriber)
        except DigestError as exc:
            # bad data in one row (say a name with a line break): that person is not mailed,
            # and it is not a bounce
            self.outcomes.skipped(subscriber, str(exc))
            self._report()
            return
        await self.pushback.take_slot()
        try:
            await self.pace.wait()
            started = asyncio.get_running_loop().time()
            delivery = await self.transport.send(envelope)
        finally:
            await self.pushback.free_slot()
        if item.due:
            self.state.retrying -= 1
        attempts = item.attempts + 1
        self._count_unreachable(delivery, started)
        verdict = judge(delivery, item.earlier + attempts, self.settings.max_total_attempts)
        if verdict is Verdict.THROTTLED:
            self._throttled(item, delivery, started)
        else:
            self.pushback.answered()
            retry = self.outcomes.record(subscriber, delivery, verdict, attempts, item.earlier)
            self._retry_later(item, retry, attempts)
        self._report()

    def _count_unreachable(self, delivery: Delivery, started: float) -> None:
        """Stop after MAX_UNREACHABLE rounds of connections that could not be opened: a relay
        that is down, or accepts TCP but never greets, would cost every row its timeout."""
        if not delivery.unreachable:
            self.pushback.connected()
            return
        if not self.pushback.connection_failed(started):
            return  # one of a round already counted
        rounds = self.pushback.unreachable
        if rounds >= MAX_UNREACHABLE and self.fatal is None:
            self.fatal = SendStopped(
                f"{describe_transport(self.transport)}: stopped after {rounds}"
                f" rounds of failed connections ({delivery.reply[:200]}); the rest stays"
                " deferred: run `digest send` again once the relay answers"
            )

    def _throttled(self, item: _Retry, delivery: Delivery, started: float) -> None:
        """A temporary reply about us ("450 4.7.1 too much mail", "421 too busy"): the whole
        send backs off, with fewer connections and half the rate, and the address keeps its
        attempts, since retrying it alone would only keep the relay's counter up."""
        if self.pushback.throttled(started):
            if self.pushback.throttles > MAX_THROTTLES:
                self.fatal = SendStopped(
                    f"{describe_transport(self.transport)}: stopped, the relay kept deferring us"
                    f" ({delivery.reply}); the rest stays deferred for a later run: run"
                    " `digest send` again later, or set a lower `transport.rate`"
                )
            self.pace.slow_down()
        self.outcomes.replies[delivery.reply[:200]] += 1
        attempts = item.attempts + 1
        delay = self.pushback.pause_left()
        retry = self.outcomes.defer_uncounted(item.subscriber, delivery.reply, delay, attempts)
        self._retry_later(item, retry, attempts)
