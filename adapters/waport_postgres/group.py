"""Group commit for PostgreSQL: concurrent writers' work in one transaction, so many
sends share one commit (one WAL flush) instead of paying one each.

A writer hands ``run`` a function of a connection and waits. Writers that arrive
while a batch is being written queue up and go together in the next one. A writer
hears its result only after the transaction holding its work has committed:
``synchronous_commit`` stays on, so what a caller is told was stored is durable, as
with a commit of its own.

One writer's error must not fail the others. Errors are rare (an idempotency key
taken by a concurrent request, a deadlock with another process), so a batch is
optimistic: when a function raises, the batch is rolled back and each of its writers
runs again in a transaction of its own, where it gets its own result or its own
error. Two batches lock rows in the order of their writers, so they can deadlock
where lone transactions would not: PostgreSQL breaks it after ``deadlock_timeout``
(1 s by default), and the broken batch's writers run alone like any other failed
batch's. A batch that fails because the database went away is not run again (each
writer alone would wait out the connect deadline in turn): every writer of that batch
hears ``STORE_UNAVAILABLE``, as a caller of a lone transaction would, and whether a
commit that was cut off landed is unknown to them as it would be to that caller.

A writer may name advisory locks it needs held before its work begins (``locks``: a
sent message's provider id, so that the statuses stashed under it are all seen). A
batch takes all its writers' locks first, in one statement and in sorted order, where
each writer took its own lock in a round trip of its own; its writers then find them
held (an advisory lock is held until the transaction ends).

Writers may also share statements (``together``): those of a batch that name the same
work hand it their items, and it runs once for all of them (the sends' outcomes read
their rows in one statement and write them in a few, and the accepted sends' messages
go in one, where each sent its own). Run again alone after a failed batch, the work
gets each writer's item by itself.

Work that locks rows every writer of every process needs (the rate-limit buckets: an
API key's is hit by each of its requests) is ``Contended``: a batch runs it after all
its other work, whatever the order its writers came in. So the batch holds those rows
only from that work's statements to its commit, and it never waits for them while
holding rows another batch may be waiting for: a batch that holds a bucket has nothing
left to lock, so two batches' locks make no cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final, Generic, TypeVar

import attrs

from waport.domain.errors import WaportError
from waport_postgres.coalesce import Batching
from waport_postgres.pool import LOST, GuardedPool

T = TypeVar("T")

BATCH_MAX: Final = 256
"""The most writers one transaction carries."""
WRITERS: Final = 2
"""Batches written at once: while one waits for its commit, the next is being built."""
LOCK_KEYS: Final = (
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k"
)
"""Transaction-level advisory locks on text keys, taken in the order given (sorted:
two transactions never wait for each other's in a cycle)."""


async def lock_keys(c: Any, keys: Collection[str]) -> None:
    """Hold an advisory lock on each of ``keys`` until the transaction of ``c`` ends."""
    if keys:
        await c.execute(LOCK_KEYS, sorted(set(keys)))


Work = Callable[[Any, list[Any]], Awaitable[list[Any]]]
"""``work(connection, items)``: each item's result, in the order of ``items``."""


@attrs.frozen(eq=False)
class Contended:
    """``Work`` that locks rows every writer contends for: run last in a batch (see the
    module's docstring). Compared by identity, as the work it wraps would be."""

    work: Work

    async def __call__(self, c: Any, items: list[Any]) -> list[Any]:
        return await self.work(c, items)


@attrs.frozen(eq=False)
class _Alone:
    """A writer's function as ``Work`` of one item (compared by identity: never with
    another writer's)."""

    fn: Callable[[Any], Awaitable[Any]]

    async def __call__(self, c: Any, items: list[Any]) -> list[Any]:
        return [await self.fn(c) for _ in items]


@attrs.define
class _Job(Generic[T]):
    work: Work
    item: Any
    future: asyncio.Future[T]
    locks: tuple[str, ...]

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        if self.future.done():  # its caller gave up; the work stands
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


@attrs.define
class GroupCommit(Batching[_Job[Any]]):
    pool: GuardedPool
    runners: int = WRITERS
    batch_max: int = BATCH_MAX
    commits: int = 0
    """Transactions committed (a batch or a writer rerun alone): what the benchmark
    divides by the writes it asked for."""
    _queue: list[_Job[Any]] = attrs.Factory(list)
    _running: set[asyncio.Task[None]] = attrs.Factory(set)

    async def run(self, fn: Callable[[Any], Awaitable[T]], *, locks: tuple[str, ...] = ()) -> T:
        """``fn(connection)`` inside a transaction shared with other writers, with the
        advisory ``locks`` held; its result once that transaction has committed."""
        result: T = await self.together(_Alone(fn), None, locks=locks)
        return result

    async def together(self, work: Work, item: Any, *, locks: tuple[str, ...] = ()) -> Any:
        """``item``'s result of ``work``, which a batch runs once for all the items its
        writers gave the same ``work`` (so that they share its statements), with the
        advisory ``locks`` held; once the batch's transaction has committed. Run again
        alone (a batch failed), ``work`` gets the one item."""
        job: _Job[Any] = _Job(work, item, asyncio.get_running_loop().create_future(), locks)
        self._enqueue(job)
        return await job.future

    async def _answer(self, batch: list[_Job[Any]]) -> None:
        try:
            async with self.pool.acquire() as c, c.transaction():
                await lock_keys(c, [key for job in batch for key in job.locks])
                results = await _run(c, batch)
        except Exception as exc:
            if len(batch) == 1 or _lost(exc):  # alone, or no writer can succeed just now
                for job in batch:
                    job.settle(error=exc)
                return
            await self._alone(batch)
            return
        self.commits += 1
        for job, result in zip(batch, results, strict=True):
            job.settle(result)

    async def _alone(self, batch: list[_Job[Any]]) -> None:
        for job in batch:
            try:
                async with self.pool.acquire() as c, c.transaction():
                    await lock_keys(c, job.locks)
                    (result,) = await job.work(c, [job.item])
            except Exception as exc:
                job.settle(error=exc)
            else:
                self.commits += 1
                job.settle(result)


async def _run(c: Any, batch: list[_Job[Any]]) -> list[Any]:
    """Each job's result: each ``work`` run once with its jobs' items, in the order in
    which the batch first names it, ``Contended`` work last."""
    by_work: dict[Work, list[int]] = {}
    for i, job in enumerate(batch):
        by_work.setdefault(job.work, []).append(i)
    results: list[Any] = [None] * len(batch)
    for work, indexes in sorted(by_work.items(), key=lambda pair: isinstance(pair[0], Contended)):
        answers = await work(c, [batch[i].item for i in indexes])
        if len(answers) != len(indexes):
            raise RuntimeError(f"{len(indexes)} items were answered {len(answers)} times")
        for i, answer in zip(indexes, answers, strict=True):
            results[i] = answer
    return results


def _lost(error: Exception) -> bool:
    """The database went away (``GuardedPool`` reports it as ``STORE_UNAVAILABLE``)."""
    return isinstance(error, WaportError) and isinstance(error.__cause__, LOST)
