"""Pacing alone, on a fake clock (digest/send/pacing.py): the rate, and the relay pushing back."""

from __future__ import annotations

import asyncio

from send_support import FakeClock

from digest.send.pacing import Pace, Pushback


def test_a_rate_spaces_messages_evenly() -> None:
    clock = FakeClock()
    pace = Pace(10.0, clock=clock, sleep=clock.sleep)
    start = clock.now

    async def five() -> list[float]:
        times = []
        for _ in range(5):
            await pace.wait()
            times.append(round(clock.now - start, 6))
        return times

    assert asyncio.run(five()) == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_connections_that_failed_together_are_one_round() -> None:
    clock = FakeClock()
    pushback = Pushback(8, retry_base=2.0, clock=clock, sleep=clock.sleep)
    started = clock.now
    clock.now += 0.01
    assert pushback.connection_failed(started)
    # the seven other connections of the same round fail a moment later: echoes
    assert not any(pushback.connection_failed(started) for _ in range(7))
    assert pushback.unreachable == 1
    assert 1.0 <= pushback.pause_left() <= 2.0
    clock.now += 5
    assert pushback.connection_failed(clock.now - 0.01)  # a connection after the pause
    assert pushback.unreachable == 2


def test_a_throttle_pauses_everyone_and_its_echoes_are_not_new_news() -> None:
    clock = FakeClock()
    pushback = Pushback(8, retry_base=2.0, clock=clock, sleep=clock.sleep)
    sent = clock.now
    clock.now += 0.5
    assert pushback.throttled(sent)
    assert not pushback.throttled(sent)  # sent before the pause began
    assert pushback.throttles == 1 and pushback.limit == 4
    pause = pushback.pause_left()

    async def next_message() -> None:
        await pushback.take_slot()
        await pushback.free_slot()

    before = clock.now
    asyncio.run(next_message())
    assert clock.now - before == pause  # nobody sends during the pause
    pushback.answered()
    assert pushback.throttles == 0
