"""Recording what became of each message: the row's new state in the store, this run's counts,
the bounce record of an address that keeps failing, and the circuit breaker that stops a send
whose failures all look the same (a problem with the relay or the message, not the addresses)."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from digest.models import Issue, Subscriber
from digest.send.pacing import backoff
from digest.send.policy import Verdict, reply_pattern
from digest.send.recorder import Recorder
from digest.send.report import SendPaused, SendProgress
from digest.store import GAVE_UP_PREFIX, Store
from digest.transports import Delivery

if TYPE_CHECKING:
    from digest.project import Project


class Outcomes:
    """Records outcomes for one worker's run, through its `Recorder` (the caller waits for
    `recorder.recorded()` before its connection sends again). `record` and `defer_uncounted`
    return the delay after which the address is tried again in this run, or None when this run
    is done with it."""

    def __init__(
        self,
        project: Project,
        issue: Issue,
        recorder: Recorder,
        *,
        retry_base: float,
        max_attempts: int,
        max_total_attempts: int,
        transport_name: str,
    ) -> None:
        self.recorder = recorder
        self.issue = issue
        self.bounce_limit = project.config.bounce_limit
        self.max_send_errors = project.config.max_send_errors
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.max_total_attempts = max_total_attempts
        self.transport_name = transport_name
        self.state = SendProgress()
        self.bounced = 0
        self.warnings: list[str] = []
        self.replies: Counter[str] = Counter()  # of failed and deferred messages
        # the first reason this run must stop; the engine stops feeding rows once it is set
        self.fatal: BaseException | None = None
        # the circuit breaker: the current run of permanent failures with one reply. Their
        # bounce accounting waits until the run is broken, so a tripped breaker costs nobody.
        self._streak_reply = ""
        self._streak: list[Subscriber] = []

    def skipped(self, subscriber: Subscriber, reason: str = "") -> None:
        """Not mailed: suppressed (no reason), or a row whose message cannot be built."""
        self._mark(subscriber.email, "skipped", reply=reason or None, count_attempt=bool(reason))
        if reason:
            self.warnings.append(f"{subscriber.email}: skipped: {reason}")
        self.state.skipped += 1

    def record(
        self,
        subscriber: Subscriber,
        delivery: Delivery,
        verdict: Verdict,
        attempts: int,
        earlier: int,
    ) -> float | None:
        """`attempts` in this run, counting this one; `earlier` in runs before it."""
        email = subscriber.email
        reply = delivery.reply[:500]
        if not delivery.ok:
            self.replies[delivery.reply[:200]] += 1
        retry: float | None = None
        if verdict is Verdict.SENT:
            self._mark(email, "sent", reply=reply)
            self.state.sent += 1
        elif verdict is Verdict.FAILED:
            self._mark(email, "failed", reply=reply)
            self.state.failed += 1
            self._permanent_failure(subscriber, delivery)
            return None
        elif verdict is Verdict.NO_SESSION:
            delay = backoff(self.retry_base, attempts)
            retry = self.defer_uncounted(subscriber, reply, delay, attempts)
        elif verdict is Verdict.GIVE_UP:
            # The server answered for this address, temporarily, too many times: give up, like
            # an MTA whose queue lifetime ran out.
            reply = f"{GAVE_UP_PREFIX}{earlier + attempts} attempts: {reply}"[:500]
            self._mark(email, "failed", reply=reply)
            self.state.failed += 1
        else:
            delay = backoff(self.retry_base, attempts)
            self._mark(email, "deferred", reply=reply, next_try=time.time() + delay)
            if attempts < self.max_attempts:
                retry = delay
            else:
                self.state.deferred += 1  # the next run tries again, not before next_try
        self._end_streak()
        return retry

    def defer_uncounted(
        self, subscriber: Subscriber, reply: str, delay: float, attempts: int
    ) -> float | None:
        """Deferred for a reason that is not the address's (a throttle, no connection): the
        stored attempt count, which decides giving up, is untouched; --max-attempts still
        bounds this run's tries."""
        self.defer_greylisted(subscriber, reply, delay)
        if attempts < self.max_attempts and self.fatal is None:
            return delay
        self.state.deferred += 1
        return None

    def defer_greylisted(self, subscriber: Subscriber, reply: str, delay: float) -> None:
        """Deferred for `delay` seconds with no attempt counted: greylisted (the engine retries
        it once in this run, whatever --max-attempts says), throttled or no session."""
        self._mark(
            subscriber.email,
            "deferred",
            reply=reply[:500],
            next_try=time.time() + delay,
            count_attempt=False,
        )

    def _mark(
        self,
        email: str,
        status: str,
        *,
        reply: str | None = None,
        next_try: float | None = None,
        count_attempt: bool = True,
    ) -> None:
        """The row's new state, queued for the recorder's next transaction."""
        issue_id = self.issue.id
        self.recorder.record(
            lambda store: store.mark_send(
                issue_id,
                email,
                status,
                reply=reply,
                next_try=next_try,
                count_attempt=count_attempt,
            )
        )

    def _permanent_failure(self, subscriber: Subscriber, delivery: Delivery) -> None:
        """Count a permanent failure towards the circuit breaker; trip it when
        `transport.max_send_errors` in a row carry the same reply (like listmonk's
        MaxSendErrors): those rows go back to pending and nobody's bounce record counts them."""
        if not self.max_send_errors:
            self._bounce_check(subscriber, delivery.reply)
            return
        reply = reply_pattern(delivery.reply, subscriber.email)
        if reply != self._streak_reply:
            self._end_streak()
            self._streak_reply = reply
        self._streak.append(subscriber)
        if len(self._streak) < self.max_send_errors or self.fatal is not None:
            return
        for member in self._streak:
            self._mark(member.email, "pending", count_attempt=False)
        self.state.failed -= len(self._streak)
        self.replies[delivery.reply[:200]] -= len(self._streak)
        self.fatal = SendPaused(
            f"{self.transport_name}: paused, the last {len(self._streak)}"
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

    def finish(self) -> None:
        self._end_streak()

    def _bounce_check(self, subscriber: Subscriber, reply: str) -> None:
        """On the recorder's thread, after the failure it counts is written."""
        self.recorder.record(
            lambda store: self._suppress_if_bouncing(store, subscriber, reply), grouped=False
        )

    def _suppress_if_bouncing(self, store: Store, subscriber: Subscriber, reply: str) -> None:
        failures = store.consecutive_failures(subscriber.email)
        if failures >= self.bounce_limit:
            detail = f"{failures} failed issues in a row, the last refused: {reply[:300]}"
            store.suppress(subscriber.email, "bounced", list_name=subscriber.list, detail=detail)
            self.bounced += 1
