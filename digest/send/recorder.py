"""The store, off the event loop: one thread per worker, with a store connection of its own, does
every store call of a run (claims, leases, outcomes), in the order they were asked for.

Outcomes that are ready together are written in one transaction: while one batch commits, the
next collects. A connection waits (asynchronously) until its outcome is committed before it takes
its next message, so a crash still leaves at most `concurrency` messages sent but not recorded;
the other connections and the relay's replies go on meanwhile. One connection for all of a
worker's calls keeps them in order and keeps two connections of one worker from locking each
other's rows.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from digest.store import Store

if TYPE_CHECKING:
    from digest.project import Project

T = TypeVar("T")


@dataclass
class _Call:
    work: Callable[[Store], Any]
    done: asyncio.Future[Any]
    grouped: bool  # may share a transaction with the calls queued beside it


def open_store_for(project: Project) -> Callable[[], Store]:
    """How the recorder's thread opens its own connection: SQLite connections belong to the
    thread that opened them, and a PostgreSQL connection does one thing at a time."""
    if project.config.store_url:
        url, timeouts = project.config.store_url, project.timeouts
        return lambda: Store.connect(url, timeouts)
    return project.open_store


class Recorder:
    """`call` runs a function of the store on the recorder's thread; `record` queues a write
    without waiting; `recorded` waits until everything queued so far is committed. The first
    failure is kept: every later call fails with it, and nothing more is written."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._open_store = open_store
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._last: asyncio.Future[Any] | None = None
        self.error: BaseException | None = None
        self._held: _Call | None = None  # taken from the queue, not run yet
        self._closing = False  # the close mark was taken from the queue

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="digest-recorder", daemon=True)
        self._thread.start()
        await self.call(lambda store: None)  # the connection opened, or its error raised here

    async def close(self) -> None:
        """Finish what is queued, then close the connection."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def record(self, work: Callable[[Store], Any], *, grouped: bool = True) -> None:
        self._submit(work, grouped)

    async def call(self, work: Callable[[Store], T], *, grouped: bool = False) -> T:
        result: T = await asyncio.shield(self._submit(work, grouped))
        return result

    async def recorded(self) -> None:
        if self._last is not None:
            await asyncio.shield(self._last)

    def _submit(self, work: Callable[[Store], Any], grouped: bool) -> asyncio.Future[Any]:
        assert self._loop is not None and self._thread is not None, "recorder not started"
        done: asyncio.Future[Any] = self._loop.create_future()
        self._last = done
        self._queue.put(_Call(work, done, grouped))
        return done

    def _serve(self) -> None:
        try:
            store = self._open_store()
        except BaseException as exc:
            self.error = exc
            store = None
        try:
            while (calls := self._next_calls()) is not None:
                self._run(store, calls)
        finally:
            if store is not None:
                store.close()

    def _next_calls(self) -> list[_Call] | None:
        """What is queued now: the calls to run together (one, or several grouped), or None
        once the queue is closed and empty."""
        if self._closing:
            return None
        first = self._held if self._held is not None else self._queue.get()
        self._held = None
        if first is None:
            return None
        calls = [first]
        while first.grouped:
            try:
                following = self._queue.get_nowait()
            except queue.Empty:
                break
            if following is None or not following.grouped:
                self._held = following  # the next round starts with it
                self._closing = following is None
                break
            calls.append(following)
        return calls

    def _run(self, store: Store | None, calls: list[_Call]) -> None:
        results: list[Any] = []
        if self.error is None and store is not None:
            try:
                if len(calls) > 1:
                    with store.db.transaction():
                        results = [call.work(store) for call in calls]
                else:
                    results = [calls[0].work(store)]
            except BaseException as exc:
                # raised again on the event loop's thread: without this thread's frames, which
                # CPython 3.11 mishandles there once a transaction's generator is among them
                # (a later ast.parse fails with "AST constructor recursion depth mismatch")
                self.error = exc.with_traceback(None)
        for index, call in enumerate(calls):
            if self.error is not None:
                self._settle(call.done, None, self.error)
            else:
                self._settle(call.done, results[index], None)

    def _settle(self, done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        def settle() -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(settle)
