"""The send's recorder (digest/send/recorder.py) on a real SQLite store: store calls run on a
thread of their own, outcomes queued together share one transaction, in order, the first
failure stops every later call, and closing writes what is still queued."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.send.recorder import Recorder
from digest.store import Store


def _opener(path: Path) -> Store:
    store = Store(path)
    store.db.execute("CREATE TABLE IF NOT EXISTS marks (n INTEGER, in_transaction INTEGER)")
    return store


def _mark(n: int) -> Callable[[Store], None]:
    def write(store: Store) -> None:
        inside = store.db.connection.in_transaction  # type: ignore[attr-defined]
        store.db.execute("INSERT INTO marks VALUES (?, ?)", (n, int(inside)))

    return write


def _marks(path: Path) -> list[tuple[int, int]]:
    store = Store(path)
    try:
        return [(row[0], row[1]) for row in store.db.all("SELECT n, in_transaction FROM marks")]
    finally:
        store.close()


async def _queued_together(recorder: Recorder, writes: list[Callable[[Store], None]]) -> None:
    """Queue `writes` while the recorder's thread is held busy, so they are ready together."""
    busy = threading.Event()
    held = asyncio.ensure_future(recorder.call(lambda store: busy.wait(10)))
    await asyncio.sleep(0)  # the task submits its call
    for write in writes:
        recorder.record(write)
    busy.set()
    await held


def test_calls_run_off_the_loop_and_outcomes_ready_together_share_a_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"

    async def scenario() -> int:
        recorder = Recorder(lambda: _opener(path))
        await recorder.start()
        await _queued_together(recorder, [_mark(n) for n in range(5)])
        await recorder.recorded()
        thread = await recorder.call(lambda store: threading.get_ident())
        recorder.record(_mark(5))  # alone: no transaction of its own is needed
        await recorder.close()
        return thread

    thread = asyncio.run(scenario())
    assert thread != threading.get_ident()
    assert _marks(path) == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 0)]


def test_the_first_failure_stops_every_later_call_and_its_batch_is_not_half_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"

    def broken(store: Store) -> None:
        store.db.execute("INSERT INTO no_such_table VALUES (1)")

    async def scenario() -> None:
        recorder = Recorder(lambda: _opener(path))
        await recorder.start()
        await _queued_together(recorder, [_mark(1), broken])
        with pytest.raises(Exception, match="no_such_table"):
            await recorder.recorded()
        recorder.record(_mark(2))
        with pytest.raises(Exception, match="no_such_table"):
            await recorder.recorded()
        await recorder.close()
        assert recorder.error is not None

    asyncio.run(scenario())
    assert _marks(path) == []  # the mark batched with the failure rolled back with it


def test_closing_writes_what_is_still_queued(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def scenario() -> None:
        recorder = Recorder(lambda: _opener(path))
        await recorder.start()
        for n in range(3):
            recorder.record(_mark(n))
        await recorder.close()  # nobody waited for them

    asyncio.run(scenario())
    assert [n for n, _ in _marks(path)] == [0, 1, 2]


def test_a_store_that_cannot_be_opened_fails_the_start(tmp_path: Path) -> None:
    def unopenable() -> Store:
        raise RuntimeError("cannot open the state store")

    async def scenario() -> None:
        recorder = Recorder(unopenable)
        with pytest.raises(RuntimeError, match="cannot open"):
            await recorder.start()
        await recorder.close()

    asyncio.run(scenario())
