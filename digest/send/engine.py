"""The engine: one worker's run over an issue's rows, exactly once across crashes and faults.

    sends rows (pending, deferred) ──claim a few──▶ feed ──▶ N connections ──▶ Transport
           ▲                                         ▲                           │
           └──── sent | failed | deferred (outcomes) ┴──── retry in this run ◀───┘

A row is recorded as soon as its outcome is known, before the connection takes the next one, so
a crash at any moment leaves at most `concurrency` rows whose message may have gone out but are
still pending; the resume sends them again with the same Message-ID. Rows are claimed from the
store a few at a time and messages are built one at a time: memory does not grow with the list.
Every store call of the run goes through the worker's `Recorder` (its own thread and
connection), so the event loop never waits on the store while replies are due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from digest.errors import DigestError
from digest.models import Issue
from digest.send.feed import Feed, Item, RunSettings, clock_time
from digest.send.messages import Messages
from digest.send.outcomes import Outcomes
from digest.send.pacing import Pace, Pushback
from digest.send.policy import Verdict, asked_delay, judge
from digest.send.recorder import Recorder, open_store_for
from digest.send.report import SendProgress, SendStopped
from digest.send.transport import describe_transport
from digest.transports import Delivery, Transport

if TYPE_CHECKING:
    from digest.project import Project

# rounds of connections that could not be opened (refused, no greeting, timed out), each
# followed by a global pause that doubles, before the send stops: a relay that is down would
# otherwise cost every row its timeout
MAX_UNREACHABLE = 4
# temporary replies about us in a row (throttling), each doubling the global pause, before the
# send stops and leaves the rest to a later run
MAX_THROTTLES = 10
# a pause at least this long (seconds) is announced as it begins
ANNOUNCE_PAUSE = 1.0


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
        notice: Callable[[str], None] | None = None,
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
        self.notice = notice or (lambda line: None)
        self.recorder = Recorder(open_store_for(project))
        self.outcomes = Outcomes(
            project,
            issue,
            self.recorder,
            retry_base=settings.retry_base,
            max_attempts=settings.max_attempts,
            max_total_attempts=settings.max_total_attempts,
            transport_name=describe_transport(transport),
        )
        self.state = self.outcomes.state
        self.feed = Feed(
            self.recorder,
            issue,
            settings,
            self.outcomes,
            self.pushback,
            lambda line: self.notice(line),
        )

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
        await self.recorder.start()
        try:
            await self._run()
            self.outcomes.finish()
        finally:
            await self.recorder.close()
        if self.fatal is None and self.recorder.error is not None:
            self.fatal = self.recorder.error
        if self.fatal is not None:
            raise self.fatal

    async def _run(self) -> None:
        queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=self.concurrency)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.concurrency)]
        leases = asyncio.create_task(self.feed.keep_leases())
        try:
            await self.feed.run(queue)
            await asyncio.gather(*workers)
        finally:
            for task in [*workers, leases]:
                task.cancel()
            await asyncio.gather(*workers, leases, return_exceptions=True)

    async def _worker(self, queue: asyncio.Queue[Item | None]) -> None:
        while (item := await queue.get()) is not None:
            if self.fatal is not None:
                continue  # stopping: the row stays pending for the next run
            try:
                await self._deliver(item)
                # recorded before this connection sends again: the crash promise
                await self.recorder.recorded()
            except BaseException as exc:
                # a relay that cannot be used at all, or a bug: stop feeding, finish in-flight
                self.fatal = exc
                if not isinstance(exc, Exception):
                    raise
            finally:
                self.feed.done_with()

    async def _deliver(self, item: Item) -> None:
        subscriber = item.subscriber
        email = subscriber.email
        if await self.recorder.call(lambda store: store.is_suppressed(email), grouped=True):
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
            epoch = await self.pushback.clear_to_send(self.pace)
            delivery = await self.transport.send(envelope)
        finally:
            await self.pushback.free_slot()
        if item.due:
            self.state.retrying -= 1
            self.feed.greylisted_waiting.discard(subscriber.email)
        attempts = item.attempts + 1
        self._count_unreachable(delivery, epoch)
        total = item.earlier + attempts
        verdict = judge(delivery, total, self.settings.max_total_attempts, item.greylisted)
        if verdict is Verdict.THROTTLED:
            self._throttled(item, delivery, epoch)
        elif verdict is Verdict.GREYLISTED:
            self._greylisted(item, delivery)
        else:
            self.pushback.answered(delivery.ok)
            if delivery.ok:
                self.pace.speed_up()
            retry = self.outcomes.record(subscriber, delivery, verdict, attempts, item.earlier)
            self.feed.retry_later(item, retry, attempts)
        self._report()

    def _count_unreachable(self, delivery: Delivery, epoch: int) -> None:
        """Stop after MAX_UNREACHABLE rounds of connections that could not be opened: a relay
        that is down, or accepts TCP but never greets, would cost every row its timeout."""
        if not delivery.unreachable:
            self.pushback.connected()
            return
        if not self.pushback.connection_failed(epoch):
            return  # one of a round already counted
        rounds = self.pushback.unreachable
        if rounds < MAX_UNREACHABLE:
            self._announce_pause(
                f"cannot reach the relay ({delivery.reply[:200]}): round {rounds} of"
                f" {MAX_UNREACHABLE}, everyone waits {self.pushback.pause_left():.1f} s"
            )
        elif self.fatal is None:
            self.fatal = SendStopped(
                f"{describe_transport(self.transport)}: stopped after {rounds}"
                f" rounds of failed connections ({delivery.reply[:200]}); the rest stays"
                " deferred: run `digest send` again once the relay answers"
            )

    def _announce_pause(self, line: str) -> None:
        """A pause long enough to notice is said; shorter ones (a small --retry-base) are not."""
        if self.pushback.pause_left() >= ANNOUNCE_PAUSE:
            self.notice(line)

    def _throttled(self, item: Item, delivery: Delivery, epoch: int) -> None:
        """A temporary reply about us ("450 4.7.1 too much mail", "421 too busy"): the whole
        send backs off, with fewer connections and half the rate, once per event, and the
        address keeps its attempts, since retrying it alone would only keep the relay's counter
        up."""
        if self.pushback.throttled(epoch, asked_delay(delivery.reply)):
            self.pace.slow_down()
            if self.pushback.throttles > MAX_THROTTLES:
                self.fatal = SendStopped(
                    f"{describe_transport(self.transport)}: stopped, the relay kept deferring us"
                    f" ({delivery.reply}); the rest stays deferred for a later run: run"
                    " `digest send` again later, or set a lower `transport.rate`"
                )
            else:
                rate = f", {self.pace.rate:.2g} messages/s" if self.pace.rate else ""
                self._announce_pause(
                    f"the relay is throttling us ({delivery.reply[:200]}): everyone waits"
                    f" {self.pushback.pause_left():.1f} s, then {self.pushback.limit}"
                    f" {'connection' if self.pushback.limit == 1 else 'connections'}{rate}"
                )
        self.outcomes.replies[delivery.reply[:200]] += 1
        attempts = item.attempts + 1
        delay = self.pushback.pause_left()
        retry = self.outcomes.defer_uncounted(item.subscriber, delivery.reply, delay, attempts)
        self.feed.retry_later(item, retry, attempts)

    def _greylisted(self, item: Item, delivery: Delivery) -> None:
        """Greylisting: the address is tried again once after the greylisting delay, also
        beyond --max-attempts, and costs no attempt. The first of a wave is announced."""
        self.pushback.answered(False)
        delay = self.settings.greylist_delay
        self.outcomes.defer_greylisted(item.subscriber, delivery.reply, delay)
        if not self.feed.greylisted_waiting:
            self.notice(
                f"greylisted by the relay ({delivery.reply[:200]}): {item.subscriber.email} and"
                f" any others greylisted are tried again in {delay:.0f} s, from"
                f" {clock_time(delay)}"
            )
        self.feed.greylisted_waiting.add(item.subscriber.email)
        self.feed.retry_later(item, delay, item.attempts + 1, greylisted=True)
