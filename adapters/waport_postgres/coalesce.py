"""Coalesced reads for PostgreSQL: concurrent point reads of one kind answered by one
statement, so many sends share one round trip (and one transaction) instead of paying
one each.

Every send reads its customer-service window before it is accepted: one row by its
key, on its own a statement, a round trip and a commit (PostgreSQL counts a read-only
autocommit statement as a transaction). Under load, dozens of sends ask at once; a
``CoalescedRead`` queues their keys and asks for all of them in one statement (an
``unnest`` of the keys joined to the table), then answers each caller its own row.

The read is what a lone statement would have read: committed state at the moment the
statement runs, which is after the caller asked. A batch that fails (the database
went away) answers every caller its error; a read has no effects, so there is nothing
to run again alone. A caller that gives up leaves its key in the batch, unanswered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Generic, TypeVar

import attrs

from waport_postgres.pool import GuardedPool

K = TypeVar("K")
V = TypeVar("V")

BATCH_MAX: Final = 512
"""The most keys one statement asks for."""
READERS: Final = 2
"""Statements under way at once: while one waits for its answer, the next is gathered."""


@attrs.define
class CoalescedRead(Generic[K, V]):
    pool: GuardedPool
    read: Callable[[Any, Sequence[K]], Awaitable[Sequence[V]]]
    """``read(connection, keys)``: each key's answer, in the order of ``keys``."""
    readers: int = READERS
    batch_max: int = BATCH_MAX
    statements: int = 0
    """Batches read: what the benchmark divides by the reads asked for."""
    _queue: list[tuple[K, asyncio.Future[V]]] = attrs.Factory(list)
    _running: set[asyncio.Task[None]] = attrs.Factory(set)

    async def get(self, key: K) -> V:
        """``key``'s answer, read with the other keys asked for meanwhile."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._queue.append((key, future))
        # a reader not done yet checks the queue again before it ends (no await between
        # that check and its end)
        self._running = {t for t in self._running if not t.done()}
        if len(self._running) < self.readers:
            self._running.add(asyncio.get_running_loop().create_task(self._serve()))
        return await future

    async def close(self) -> None:
        """Wait for the readers to answer what is queued."""
        while live := [t for t in self._running if not t.done()]:
            await asyncio.gather(*live, return_exceptions=True)
        self._running.clear()

    async def _serve(self) -> None:
        while self._queue:
            batch = self._queue[: self.batch_max]
            del self._queue[: self.batch_max]
            await self._batch(batch)

    async def _batch(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            async with self.pool.acquire() as c:
                answers = await self.read(c, [key for key, _ in batch])
        except Exception as exc:
            _fail(batch, exc)
            return
        if len(answers) != len(batch):
            _fail(batch, RuntimeError(f"{len(batch)} keys were read as {len(answers)} answers"))
            return
        self.statements += 1
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():  # its caller gave up
                future.set_result(answer)


def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
