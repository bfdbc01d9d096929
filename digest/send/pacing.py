"""How fast a send goes: the configured rate and hourly cap (`Pace`, or `SharedPace` when several
workers share one budget in the store), and how the send yields when the relay pushes back
(`Pushback`: fewer connections, a global pause, the count of rounds that went wrong).

Nothing here reads a wall clock directly: each class takes `clock` and `sleep`, so a test drives
it with a fake clock."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.store import Store

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MAX_RETRY_DELAY = 900.0


def loop_clock() -> float:
    """The running event loop's monotonic clock."""
    return asyncio.get_running_loop().time()


def backoff(retry_base: float, attempt: int) -> float:
    """Exponential with "equal jitter": half the delay fixed, half random, so that many
    addresses deferred together by one outage do not all come back at the same instant."""
    delay = min(retry_base * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay / 2 + random.uniform(0, delay / 2)


class Pace:
    """`rate` messages per second and at most `hourly_cap` in any hour (0: no limit)."""

    def __init__(
        self,
        rate: float = 0.0,
        hourly_cap: int = 0,
        sent_ago: Iterable[float] = (),
        *,
        clock: Clock = loop_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.hourly_cap = hourly_cap
        self.clock = clock
        self.sleep = sleep
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
            if self.interval:
                now = self.clock()
                slot = max(now, self._next)
                self._next = slot + self.interval
                if slot > now:
                    await self.sleep(slot - now)
            if self.hourly_cap:
                while len(self._window) >= self.hourly_cap:
                    wait = self._window[0] + 3600.0 - self.clock()
                    if wait <= 0:
                        self._window.popleft()
                    else:
                        await self.sleep(wait)
                self._window.append(self.clock())


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
            await self.sleep(wait)


class Pushback:
    """The relay pushing back, as one state for every connection of this worker: how many
    messages may be in flight (`limit`), a global pause (`paused_until`), and the rounds of
    throttling or failed connections in a row that decide when the send stops."""

    def __init__(
        self,
        concurrency: int,
        retry_base: float,
        *,
        clock: Clock = loop_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.retry_base = retry_base
        self.clock = clock
        self.sleep = sleep
        self.limit = concurrency
        self.in_flight = 0
        # rounds of connections that could not be opened, in a row, and when the last ended
        self.unreachable = 0
        self._last_unreachable = -math.inf
        # throttling: replies about us in a row, and when the current pause began
        self.throttles = 0
        self._pause_started = -math.inf
        self.paused_until = 0.0
        self._slot_freed = asyncio.Condition()

    async def take_slot(self) -> None:
        """Wait for one of the `limit` sending slots, then for the end of any global pause."""
        async with self._slot_freed:
            await self._slot_freed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        while (wait := self.paused_until - self.clock()) > 0:
            await self.sleep(wait)

    async def free_slot(self) -> None:
        async with self._slot_freed:
            self.in_flight -= 1
            self._slot_freed.notify_all()

    def connected(self) -> None:
        """A session was opened: the run of failed connections is over."""
        self.unreachable = 0

    def connection_failed(self, started: float) -> bool:
        """A connection could not be opened. Connections that failed together (one per
        worker) are one round: returns whether this one began a new round, which pauses
        everyone for a backoff that doubles each round."""
        if started < self._last_unreachable:
            return False
        self.unreachable += 1
        now = self.clock()
        self._last_unreachable = now
        # nobody connects again before the pause is over: fresh rows would fail the same way
        self.paused_until = max(self.paused_until, now + backoff(self.retry_base, self.unreachable))
        return True

    def throttled(self, started: float) -> bool:
        """A temporary reply about us: fewer connections and a pause that doubles with each
        throttle in a row. A reply to a message sent before the current pause began is an echo
        of the same news. Returns whether this reply counted as a new throttle."""
        now = self.clock()
        if started < self._pause_started:
            return False
        self.throttles += 1
        self._pause_started = now
        self.paused_until = now + backoff(self.retry_base, self.throttles)
        self.limit = max(1, self.limit // 2)
        return True

    def answered(self) -> None:
        """The relay answered about an address, not about us: the throttles in a row end."""
        self.throttles = 0

    def pause_left(self) -> float:
        return max(self.paused_until - self.clock(), 0.0)
