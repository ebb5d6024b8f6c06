"""Coalesced reads for PostgreSQL: concurrent reads of one kind answered by one batch,
so many sends share its round trip instead of paying their own.

Every send reads its customer-service window before it is accepted. On its own that
is a statement, a round trip and a transaction (PostgreSQL counts a read-only
autocommit statement as one). Under load, dozens of sends ask at once; a ``Coalesced``
queues their keys while a batch is under way and hands the next batch all of them at
once (an ``unnest`` of the keys in one statement), then answers each caller its own
answer. (Writes go together in the group commit's transactions, ``waport_postgres.group``,
the rate-limit hits among them.)

A batch runs on a connection of its own. What it reads is committed state at the
moment it runs, which is after its callers asked, as a lone statement's would be. A
batch that fails answers every caller its error. A caller that gives up leaves its
key in the batch, unanswered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Generic, TypeVar

import attrs

from waport_postgres.pool import GuardedPool

J = TypeVar("J")
K = TypeVar("K")
V = TypeVar("V")

BATCH_MAX: Final = 512
"""The most keys one batch takes."""
RUNNERS: Final = 2
"""Batches under way at once: while one waits for its answer, the next is gathered."""


class Batching(Generic[J]):
    """What group commit and coalesced calls share: jobs queued while a batch is under
    way go together in the next one, with at most ``runners`` batches under way.
    A subclass declares the fields and answers a batch (``_answer``)."""

    runners: int
    batch_max: int
    _queue: list[J]
    _running: set[asyncio.Task[None]]

    def _enqueue(self, job: J) -> None:
        self._queue.append(job)
        # a runner not done yet checks the queue again before it ends (no await between
        # that check and its end); one that is done is only waiting for its callback
        self._running = {t for t in self._running if not t.done()}
        if len(self._running) < self.runners:
            self._running.add(asyncio.get_running_loop().create_task(self._serve()))

    async def close(self) -> None:
        """Wait for the runners to finish what is queued."""
        while live := [t for t in self._running if not t.done()]:
            await asyncio.gather(*live, return_exceptions=True)
        self._running.clear()

    async def _serve(self) -> None:
        while self._queue:
            batch = self._queue[: self.batch_max]
            del self._queue[: self.batch_max]
            await self._answer(batch)

    async def _answer(self, batch: list[J]) -> None:
        raise NotImplementedError


@attrs.define
class Coalesced(Batching[tuple[K, "asyncio.Future[V]"]], Generic[K, V]):
    pool: GuardedPool
    batch: Callable[[Any, Sequence[K]], Awaitable[Sequence[V]]]
    """``batch(connection, keys)``: each key's answer, in the order of ``keys``."""
    runners: int = RUNNERS
    batch_max: int = BATCH_MAX
    batches: int = 0
    """Batches answered: what the benchmark divides by the calls."""
    _queue: list[tuple[K, asyncio.Future[V]]] = attrs.Factory(list)
    _running: set[asyncio.Task[None]] = attrs.Factory(set)

    async def get(self, key: K) -> V:
        """``key``'s answer, from one batch with the other keys asked for meanwhile."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._enqueue((key, future))
        return await future

    async def _answer(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        keys = [key for key, _ in batch]
        try:
            async with self.pool.acquire() as c:
                answers = await self.batch(c, keys)
        except Exception as exc:
            _fail(batch, exc)
            return
        if len(answers) != len(batch):
            _fail(batch, RuntimeError(f"{len(batch)} keys were answered {len(answers)} times"))
            return
        self.batches += 1
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():  # its caller gave up
                future.set_result(answer)


def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
