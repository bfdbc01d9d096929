"""Where one worker's next row comes from: the store's claims (a few rows at a time, under a lease
this worker renews) and this run's retries (a heap by due time). Ends when nothing is left to
claim, nothing of this run may come back, and no other worker holds a row still to send."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from digest.models import Issue, Subscriber
from digest.send.outcomes import Outcomes
from digest.send.pacing import MAX_RETRY_DELAY, Pushback
from digest.send.recorder import Recorder
from digest.send.report import SendStopped
from digest.store import SendRow

BATCH = 500  # rows read from the store at a time
# Rows a worker claims at a time, per connection: enough to keep its connections busy between
# claims, few enough that the last claims leave no worker idle while another has a long queue.
CLAIM_PER_CONNECTION = 4
# a worker with nothing left to claim looks again this often while others hold rows (PostgreSQL)
CLAIM_POLL = 2.0
# a wait with nothing in flight at least this long is announced: a send never sits silent
ANNOUNCE_WAIT = 10.0


@dataclass(order=True)
class Item:
    """One address to send to now (`due` 0.0, straight from the store) or later (a retry)."""

    due: float  # loop time
    order: int
    subscriber: Subscriber = field(compare=False)
    attempts: int = field(compare=False)  # in this run
    earlier: int = field(default=0, compare=False)  # in earlier runs
    greylisted: bool = field(default=False, compare=False)  # already, in this run


@dataclass
class RunSettings:
    concurrency: int
    retry_base: float
    max_attempts: int
    max_total_attempts: int
    worker: str
    lease: float
    greylist_delay: float = 300.0


class Feed:
    """The rows of one worker's run, fed to its connections through a queue (`run`)."""

    def __init__(
        self,
        recorder: Recorder,
        issue: Issue,
        settings: RunSettings,
        outcomes: Outcomes,
        pushback: Pushback,
        notice: Callable[[str], None],
    ) -> None:
        self.recorder = recorder  # every store call, off the event loop
        self.issue = issue
        self.settings = settings
        self.outcomes = outcomes
        self.pushback = pushback
        self.notice = notice
        self.retries: list[Item] = []
        self._order = itertools.count()
        self.outstanding = 0  # taken from the store or the retry heap, outcome not final yet
        self.changed = asyncio.Event()
        self.greylisted_waiting: set[str] = set()  # greylisted, waiting for their retry
        self._announced_until = 0.0  # when the last wait announced ends

    def done_with(self) -> None:
        """An item's delivery is over (it may have gone back in the heap)."""
        self.outstanding -= 1
        self.changed.set()

    async def keep_leases(self) -> None:
        """Renew this worker's claims while it works, and stop when another worker recorded
        that the relay refused us."""
        issue_id, worker, lease = self.issue.id, self.settings.worker, self.settings.lease
        while True:
            await asyncio.sleep(lease / 3)
            await self.recorder.call(lambda store: store.renew_leases(issue_id, worker, lease))
            await self.stopped_elsewhere()

    async def stopped_elsewhere(self) -> None:
        issue_id = self.issue.id
        reason = await self.recorder.call(lambda store: store.send_stopped(issue_id))
        if reason and self.outcomes.fatal is None:
            self.outcomes.fatal = SendStopped(
                f"issue {self.issue.key}: stopped by another worker: {reason}"
            )
            self.changed.set()

    async def _claim(self) -> list[SendRow] | float | None:
        """The next rows this worker leases; else when to look again (loop time) while other
        workers hold rows still to send, or something of ours may come back; else None: done."""
        await self.stopped_elsewhere()
        if self.outcomes.fatal is not None:
            return None
        issue_id, worker, lease = self.issue.id, self.settings.worker, self.settings.lease
        size = min(BATCH, self.settings.concurrency * CLAIM_PER_CONNECTION)
        batch = await self.recorder.call(
            lambda store: store.claim_batch(issue_id, worker, lease, size)
        )
        if batch:
            return batch
        now = asyncio.get_running_loop().time()
        others = await self.recorder.call(lambda store: store.others_lease_until(issue_id, worker))
        if others is not None:
            # claimed here as soon as that worker's lease lapses (it died), if it does
            return now + min(max(others - time.time(), 0.0) + 0.1, CLAIM_POLL)
        return now + CLAIM_POLL if self.retries or self.outstanding else None

    async def run(self, queue: asyncio.Queue[Item | None]) -> None:
        loop = asyncio.get_running_loop()
        buffered: deque[SendRow] = deque()
        next_claim: float | None = 0.0  # None: nothing left to claim
        while self.outcomes.fatal is None:
            now = loop.time()
            if self.retries and self.retries[0].due <= now:
                item = heapq.heappop(self.retries)  # already counted as outstanding
            elif buffered or (next_claim is not None and next_claim <= now):
                if not buffered:
                    claimed = await self._claim()
                    if isinstance(claimed, list):
                        buffered.extend(claimed)
                    else:
                        next_claim = claimed
                    continue
                row = buffered.popleft()
                self.outstanding += 1
                wait = (row.next_try or 0.0) - time.time()
                if wait > 0:
                    # deferred by an earlier run and not due yet: never tried before its time
                    due = loop.time() + min(wait, MAX_RETRY_DELAY)
                    retry = Item(due, next(self._order), row.subscriber, 0, row.attempts)
                    heapq.heappush(self.retries, retry)
                    self.outcomes.state.retrying += 1
                    continue
                item = Item(0.0, next(self._order), row.subscriber, 0, row.attempts)
            elif self.retries or self.outstanding or next_claim is not None:
                deadlines = [self.retries[0].due] if self.retries else []
                deadlines += [next_claim] if next_claim is not None else []
                timeout = min(deadlines) - now if deadlines else None
                self.announce_wait()
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), timeout)
                if next_claim is not None and not (self.retries or self.outstanding):
                    # the last of ours is done: look now, not at a poll set while it was in
                    # flight (every send ended CLAIM_POLL after its last message)
                    next_claim = min(next_claim, loop.time())
                continue
            else:
                break
            await queue.put(item)
        for _ in range(self.settings.concurrency):
            await queue.put(None)

    def announce_wait(self) -> None:
        """Say so when nothing will happen for a while: nothing in flight, and the next retry
        (greylisted, deferred) is not due for ANNOUNCE_WAIT seconds or more."""
        if not self.retries or self.pushback.in_flight:
            return
        due = self.retries[0].due
        wait = due - asyncio.get_running_loop().time()
        if wait < ANNOUNCE_WAIT or due <= self._announced_until:
            return
        self._announced_until = due
        waiting = len(self.retries)
        greylisted = len(self.greylisted_waiting)
        why = f", {greylisted} of them greylisted" if greylisted else ""
        self.notice(
            f"waiting {wait:.0f} s, until {clock_time(wait)}, for"
            f" {waiting} {'address' if waiting == 1 else 'addresses'} to be tried again{why}"
        )

    def retry_later(
        self, item: Item, delay: float | None, attempts: int, greylisted: bool = False
    ) -> None:
        if delay is None:
            return
        due = asyncio.get_running_loop().time() + delay
        greylisted = greylisted or item.greylisted
        retry = Item(due, next(self._order), item.subscriber, attempts, item.earlier, greylisted)
        heapq.heappush(self.retries, retry)
        self.outstanding += 1  # back in the heap; the worker's finally takes one off
        self.outcomes.state.retrying += 1


def clock_time(seconds_from_now: float) -> str:
    return f"{datetime.now(UTC) + timedelta(seconds=seconds_from_now):%H:%M:%S} UTC"
