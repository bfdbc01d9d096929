"""Pacing alone, on a fake clock (digest/send/pacing.py): the rate and its AIMD, and the relay
pushing back: one event per outage or throttle, pauses no longer than the relay asked for."""

from __future__ import annotations

import asyncio

from send_support import FakeClock

from digest.send.pacing import MAX_PAUSE, MAX_SLOWDOWN, Pace, Pushback


def pushback(clock: FakeClock, concurrency: int = 8) -> Pushback:
    return Pushback(concurrency, retry_base=2.0, clock=clock, sleep=clock.sleep)


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


def test_the_rate_halves_on_throttling_and_climbs_back() -> None:
    pace = Pace(20.0)
    pace.slow_down()
    pace.slow_down()
    assert pace.rate == 5.0
    for _ in range(40):  # a few seconds of accepted messages
        pace.speed_up()
    assert 5.0 < pace.rate < 20.0
    for _ in range(1000):
        pace.speed_up()
    assert pace.rate == 20.0  # back, never above what was configured
    for _ in range(50):
        pace.slow_down()
    assert pace.rate == 20.0 / MAX_SLOWDOWN  # never driven to nothing


def test_no_rate_stays_no_rate() -> None:
    pace = Pace()
    pace.slow_down()
    pace.speed_up()
    assert pace.rate == 0.0 and pace.interval == 0.0


def test_connections_refused_together_are_one_round() -> None:
    clock = FakeClock()
    state = pushback(clock)
    epoch = state.epoch  # eight connections go out together, and are refused together
    assert state.connection_failed(epoch)
    assert not any(state.connection_failed(epoch) for _ in range(7))
    assert state.unreachable == 1
    assert 1.0 <= state.pause_left() <= 2.0
    clock.now += 5  # after the pause, the next round
    epoch = state.epoch
    assert state.connection_failed(epoch)
    assert not state.connection_failed(epoch)
    assert state.unreachable == 2


def test_a_message_queued_behind_the_rate_waits_out_a_pause_that_began_meanwhile() -> None:
    """The bug of issue 25: with a rate, a message already past the pause check waited for its
    rate slot, went out during a new pause, failed, and counted as one more round."""
    clock = FakeClock()
    state = pushback(clock)
    pace = Pace(1.0, clock=clock, sleep=clock.sleep)

    async def two() -> tuple[int, int]:
        first = await state.clear_to_send(pace)
        assert state.connection_failed(first)  # refused: a pause begins
        paused_until = state.paused_until
        second = await state.clear_to_send(pace)  # its rate slot came during the pause
        assert clock.now >= paused_until
        return first, second

    first, second = asyncio.run(two())
    assert second == first + 1  # sent after the event: a new round if it fails, not an echo


def test_a_throttle_is_one_event_and_its_echoes_are_not_news() -> None:
    clock = FakeClock()
    state = pushback(clock)
    epoch = state.epoch
    assert state.throttled(epoch)
    assert not state.throttled(epoch)  # sent before the pause began
    assert state.throttles == 1 and state.limit == 4
    for _ in range(4):
        state.answered(accepted=True)
    assert state.throttles == 0 and state.limit == 5  # a slot back per `limit` accepted
    for _ in range(100):
        state.answered(accepted=True)
    assert state.limit == 8  # never more than configured


def test_a_pause_never_exceeds_what_the_relay_asked_for() -> None:
    clock = FakeClock()
    state = pushback(clock)
    assert state.throttled(state.epoch, asked=5.0)
    assert state.pause_left() == 5.0
    for _ in range(20):  # a relay that never says how long: doubling, up to MAX_PAUSE
        clock.now += state.pause_left()
        assert state.throttled(state.epoch)
        assert state.pause_left() <= MAX_PAUSE


def test_nobody_sends_during_a_pause() -> None:
    clock = FakeClock()
    state = pushback(clock)
    assert state.throttled(state.epoch)
    pause = state.pause_left()

    async def next_message() -> None:
        await state.take_slot()
        await state.free_slot()

    before = clock.now
    asyncio.run(next_message())
    assert clock.now - before == pause
