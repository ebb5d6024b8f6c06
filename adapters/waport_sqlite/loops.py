"""The few event-loop hooks the SQLite engine needs, for asyncio and for trio.

The engine answers callers from callbacks (a batch's commit finishing on the writer's
thread, the reader's thread waking the loop once for many reads), which anyio does not
offer; so this module gives the engine those hooks for both of anyio's backends. asyncio
keeps its direct futures and ``call_soon`` (the hot path of every send); trio gets the
same through its token's ``run_sync_soon``, which is safe from any thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol


class Waiter(Protocol):
    """One caller's wake-up: set once from the loop, awaited by the caller."""

    def set(self) -> None: ...

    async def wait(self) -> None: ...


class Loop(Protocol):
    def waiter(self) -> Waiter: ...

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the loop after the current callback (from the loop only)."""

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the loop from another thread; RuntimeError once it is gone."""

    def in_thread(
        self,
        pool: ThreadPoolExecutor,
        job: Callable[[], None],
        done: Callable[[BaseException | None], None],
    ) -> None:
        """Run ``job`` on ``pool``, then ``done(its exception or None)`` on the loop."""


def current() -> Loop:
    """The running loop's hooks (asyncio or trio)."""
    try:
        return _AsyncioLoop(asyncio.get_running_loop())
    except RuntimeError:  # not asyncio: anyio's other backend
        return _TrioLoop()


class _FutureWaiter:
    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self._future = future

    def set(self) -> None:
        if not self._future.done():  # its caller may have been cancelled meanwhile
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


class _AsyncioLoop:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def waiter(self) -> Waiter:
        return _FutureWaiter(self._loop.create_future())

    def call_soon(self, fn: Callable[[], object]) -> None:
        self._loop.call_soon(fn)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._loop.call_soon_threadsafe(fn)

    def in_thread(
        self,
        pool: ThreadPoolExecutor,
        job: Callable[[], None],
        done: Callable[[BaseException | None], None],
    ) -> None:
        finished = self._loop.run_in_executor(pool, job)
        finished.add_done_callback(lambda future: done(future.exception()))


class _TrioLoop:
    def __init__(self) -> None:
        import trio  # only here: trio is optional

        self._event = trio.Event
        self._token = trio.lowlevel.current_trio_token()

    def waiter(self) -> Waiter:
        return self._event()

    def call_soon(self, fn: Callable[[], object]) -> None:
        self._token.run_sync_soon(fn)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._token.run_sync_soon(fn)  # trio.RunFinishedError is a RuntimeError

    def in_thread(
        self,
        pool: ThreadPoolExecutor,
        job: Callable[[], None],
        done: Callable[[BaseException | None], None],
    ) -> None:
        def finished(future: Future[Any]) -> None:
            self._token.run_sync_soon(done, future.exception())

        pool.submit(job).add_done_callback(finished)
