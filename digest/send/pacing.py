"""How fast a send goes, and how it yields when the relay pushes back.

- `Pace`: the configured rate and hourly cap; `SharedPace` takes each slot from the budget every
  worker shares in the store (PostgreSQL). The rate is AIMD, as TCP's window and Postfix's
  destination concurrency: a throttle halves it (never below a sixteenth of the configured
  rate), and every message accepted adds a little back, so that it climbs to the configured
  rate again in about RECOVERY seconds of sending.
- `Pushback`: one state for every connection of this worker: how many messages may be in flight
  (halved on a throttle, one more back per `limit` accepted), a global pause, and the events in
  a row (rounds of failed connections, throttles) that decide when the send stops. An event is
  counted once: every message carries the epoch it was sent in, and a failure of a message sent
  before the latest event is an echo of that event (eight connections refused together by one
  outage are one round, not eight). A pause never exceeds what the relay asked for ("try again
  in 30 seconds"), nor MAX_PAUSE when it asked for nothing.

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
# the longest global pause when the relay did not say how long to wait
MAX_PAUSE = 60.0
# a throttled rate never falls below the configured one divided by this
MAX_SLOWDOWN = 16
# seconds of sending in which an additive increase brings the rate from nothing to the ceiling
RECOVERY = 20.0


def loop_clock() -> float:
    """The running event loop's monotonic clock."""
    return asyncio.get_running_loop().time()


def backoff(retry_base: float, attempt: int) -> float:
    """Exponential with "equal jitter": half the delay fixed, half random, so that many
    addresses deferred together by one outage do not all come back at the same instant."""
    delay = min(retry_base * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay / 2 + random.uniform(0, delay / 2)


class Pace:
    """`rate` messages per second at most (AIMD below it under pushback) and at most
    `hourly_cap` in any hour (0: no limit)."""

    def __init__(
        self,
        rate: float = 0.0,
        hourly_cap: int = 0,
        sent_ago: Iterable[float] = (),
        *,
        clock: Clock = loop_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.ceiling = rate if rate > 0 else 0.0
        self.rate = self.ceiling
        self.hourly_cap = hourly_cap
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        # Messages sent in the last hour by earlier runs (seconds ago) count against the cap: a
        # restarted send must not double a relay's hourly quota. asyncio's clock is monotonic.
        now = time.monotonic()
        self._window: deque[float] = deque(sorted(now - ago for ago in sent_ago if ago < 3600))
        self._lock = asyncio.Lock()

    @property
    def interval(self) -> float:
        return 1.0 / self.rate if self.rate > 0 else 0.0

    def slow_down(self) -> None:
        """Multiplicative decrease (when a rate is set): the relay said we are too fast."""
        if self.rate:
            self.rate = max(self.rate / 2, self.ceiling / MAX_SLOWDOWN)

    def speed_up(self) -> None:
        """Additive increase after a message the relay accepted: `ceiling / RECOVERY` more per
        second of sending at the current rate, up to the configured rate."""
        if self.rate and self.rate < self.ceiling:
            self.rate = min(self.ceiling, self.rate + self.ceiling / (RECOVERY * self.rate))

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
    """The relay pushing back, as one state for every connection of this worker (see the module
    docstring). `epoch` counts events; `clear_to_send` says which one a message goes out in."""

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
        self.concurrency = concurrency
        self.limit = concurrency
        self.in_flight = 0
        self.epoch = 0
        self.unreachable = 0  # rounds of failed connections in a row
        self.throttles = 0  # throttles in a row, no address answered between them
        self.paused_until = -math.inf
        self._accepted = 0  # since the limit last grew
        self._slot_freed = asyncio.Condition()

    async def take_slot(self) -> None:
        """Wait for one of the `limit` sending slots, then for the end of any global pause."""
        async with self._slot_freed:
            await self._slot_freed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        await self.wait_pause()

    async def wait_pause(self) -> None:
        while (wait := self.paused_until - self.clock()) > 0:
            await self.sleep(wait)

    async def free_slot(self) -> None:
        async with self._slot_freed:
            self.in_flight -= 1
            self._slot_freed.notify_all()

    async def clear_to_send(self, pace: Pace) -> int:
        """After `take_slot`: the rate's slot, then any pause that began while this message
        waited for it (nothing goes out during a pause, so nothing sent in one is counted as
        news). Returns the epoch the message goes out in."""
        while True:
            await pace.wait()
            if not self.pause_left():
                return self.epoch
            await self.wait_pause()

    def pause_left(self) -> float:
        return max(self.paused_until - self.clock(), 0.0)

    def _event(self, pause: float) -> None:
        self.epoch += 1
        self.paused_until = max(self.paused_until, self.clock() + pause)

    def connection_failed(self, epoch: int) -> bool:
        """A connection could not be opened. Returns whether it began a new round (a message
        sent after the latest event), which pauses everyone for a backoff that doubles each
        round in a row; the others of its round are echoes."""
        if epoch != self.epoch:
            return False
        self.unreachable += 1
        self._event(min(backoff(self.retry_base, self.unreachable), MAX_PAUSE))
        return True

    def connected(self) -> None:
        """A session was opened: the run of failed connections is over."""
        self.unreachable = 0

    def throttled(self, epoch: int, asked: float | None = None) -> bool:
        """A temporary reply about us. Returns whether it is a new throttle (not an echo): then
        everyone pauses, for what the relay `asked` (seconds) when it said, else for a backoff
        that doubles with each throttle in a row, at most MAX_PAUSE; and half the slots."""
        if epoch != self.epoch:
            return False
        self.throttles += 1
        if asked is None:
            pause = min(backoff(self.retry_base, self.throttles), MAX_PAUSE)
        else:
            pause = min(asked, MAX_RETRY_DELAY)
        self._event(pause)
        self.limit = max(1, self.limit // 2)
        self._accepted = 0
        return True

    def answered(self, accepted: bool) -> None:
        """The relay answered about an address, not about us: the throttles in a row end, and
        an accepted message gives a slot back every `limit` of them (the waiters see it when a
        slot is next freed)."""
        self.throttles = 0
        if accepted and self.limit < self.concurrency:
            self._accepted += 1
            if self._accepted >= self.limit:
                self.limit += 1
                self._accepted = 0
