"""Group commit on PostgreSQL: concurrent writers share a transaction, each hears its
own result only after that transaction committed, and one writer's error fails only
that writer (its work is not kept; the others' is)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from waport.domain.errors import ErrorCode
from waport_postgres import pool as guarded
from waport_postgres.group import Contended, GroupCommit

pytestmark = pytest.mark.anyio


@pytest.fixture
async def group(postgres_url: str) -> AsyncIterator[tuple[GroupCommit, str]]:
    table = f"group_commit_{os.getpid()}"
    pool = await guarded.create(postgres_url, min_size=1, max_size=4, settings=None)
    async with pool.acquire() as c:
        await c.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY)")
    committer = GroupCommit(pool)
    try:
        yield committer, table
    finally:
        await committer.close()
        async with pool.acquire() as c:
            await c.execute(f"DROP TABLE {table}")
        await pool.close()


async def _rows(committer: GroupCommit, table: str) -> list[int]:
    async with committer.pool.acquire() as c:
        return [r["n"] for r in await c.fetch(f"SELECT n FROM {table} ORDER BY n")]  # noqa: S608


async def test_concurrent_writers_share_commits_and_each_gets_its_result(
    group: tuple[GroupCommit, str],
) -> None:
    committer, table = group

    def insert(n: int) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def write(c: asyncpg.Connection) -> int:
            await c.execute(f"INSERT INTO {table} (n) VALUES ($1)", n)  # noqa: S608
            return n * 10

        return write

    results = await asyncio.gather(*(committer.run(insert(n)) for n in range(200)))
    assert results == [n * 10 for n in range(200)]
    assert await _rows(committer, table) == list(range(200))
    assert committer.commits < 20


async def test_one_writers_error_fails_only_that_writer(group: tuple[GroupCommit, str]) -> None:
    committer, table = group

    def insert(n: int) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def write(c: asyncpg.Connection) -> int:
            await c.execute(f"INSERT INTO {table} (n) VALUES ($1)", n)  # noqa: S608
            if n == 7:
                raise ValueError("seven is refused after its insert")
            return n

        return write

    outcomes = await asyncio.gather(
        *(committer.run(insert(n)) for n in range(20)), return_exceptions=True
    )
    assert isinstance(outcomes[7], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 7] == [n for n in range(20) if n != 7]
    assert await _rows(committer, table) == [n for n in range(20) if n != 7]


async def test_a_caller_that_gives_up_leaves_the_others_and_its_work_stands(
    group: tuple[GroupCommit, str],
) -> None:
    committer, table = group
    release = asyncio.Event()

    async def slow(c: asyncpg.Connection) -> None:
        await c.execute(f"INSERT INTO {table} (n) VALUES (1)")  # noqa: S608
        await release.wait()

    async def quick(c: asyncpg.Connection) -> str:
        await c.execute(f"INSERT INTO {table} (n) VALUES (2)")  # noqa: S608
        return "kept"

    impatient = asyncio.ensure_future(committer.run(slow))
    await asyncio.sleep(0.05)
    other = asyncio.ensure_future(committer.run(quick))
    impatient.cancel()
    release.set()
    assert await other == "kept"
    await committer.close()
    assert await _rows(committer, table) == [1, 2]


async def test_one_writer_after_another_each_gets_a_batch(postgres_url: str) -> None:
    """A caller arriving just after a writer ended (its end not yet noted) still gets one."""
    pool = await guarded.create(postgres_url, min_size=1, max_size=2, settings=None)
    committer = GroupCommit(pool, runners=1)

    async def one(c: asyncpg.Connection) -> int:
        return int(await c.fetchval("SELECT 1"))

    results = []
    try:
        for _ in range(5):
            async with asyncio.timeout(5):  # no task in between, unlike wait_for
                results.append(await committer.run(one))
    finally:
        await committer.close()
        await pool.close()
    assert results == [1] * 5
    assert committer.commits == 5


async def test_a_database_gone_mid_batch_answers_every_writer_at_once(
    group: tuple[GroupCommit, str],
) -> None:
    """No writer runs again alone (each would wait out the connect deadline in turn)."""
    committer, table = group
    committer.runners = 1
    calls = {"kept": 0}

    async def kept(c: asyncpg.Connection) -> None:
        calls["kept"] += 1
        await c.execute(f"INSERT INTO {table} (n) VALUES (1)")  # noqa: S608

    async def cut(_: asyncpg.Connection) -> None:
        lost = ConnectionResetError("the link went down")
        raise guarded.unavailable(lost) from lost

    outcomes = await asyncio.gather(committer.run(kept), committer.run(cut), return_exceptions=True)
    assert [getattr(o, "code", None) for o in outcomes] == [ErrorCode.STORE_UNAVAILABLE] * 2
    assert calls == {"kept": 1}
    assert await _rows(committer, table) == []


async def test_two_batches_that_deadlock_both_end_well(group: tuple[GroupCommit, str]) -> None:
    """Batches lock rows in their writers' order; PostgreSQL breaks the deadlock of two
    opposite orders and the broken batch's writers run again alone."""
    committer, table = group
    async with committer.pool.acquire() as c:
        await c.execute(f"INSERT INTO {table} (n) VALUES (1), (2)")  # noqa: S608
    other = GroupCommit(committer.pool, runners=1)
    committer.runners = 1
    holding = {1: asyncio.Event(), 2: asyncio.Event()}

    def lock(row: int, then_wait_for: int | None) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def write(c: asyncpg.Connection) -> int:
            await c.execute(f"UPDATE {table} SET n = n WHERE n = $1", row)  # noqa: S608
            if then_wait_for is not None:
                holding[row].set()
                await holding[then_wait_for].wait()
            return row

        return write

    async with asyncio.timeout(20):
        results = await asyncio.gather(
            committer.run(lock(1, then_wait_for=2)),
            committer.run(lock(2, None)),
            other.run(lock(2, then_wait_for=1)),
            other.run(lock(1, None)),
        )
    await other.close()
    assert results == [1, 2, 2, 1]
    assert sorted([committer.commits, other.commits]) == [1, 2]  # one batch, two alone


async def test_a_batch_holds_its_writers_locks_before_any_of_them_runs(
    group: tuple[GroupCommit, str],
) -> None:
    """Each writer's advisory locks are held when it begins (taken for the whole batch,
    in one statement), and released when the batch's transaction ends."""
    committer, _ = group
    committer.runners = 1
    keys = [f"p:lock{n}" for n in range(5)]
    probe = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
    release = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"

    async def others_can_take(ks: list[str]) -> list[bool]:
        async with committer.pool.acquire() as other:
            taken = [bool(await other.fetchval(probe, k)) for k in ks]
            for k, ok in zip(ks, taken, strict=True):
                if ok:
                    await other.fetchval(release, k)
        return taken

    def write(n: int) -> Callable[[asyncpg.Connection], Awaitable[list[bool]]]:
        async def check(_: asyncpg.Connection) -> list[bool]:
            return await others_can_take(keys)  # every writer's lock, its own and later ones'

        return check

    results = await asyncio.gather(*(committer.run(write(n), locks=(keys[n],)) for n in range(5)))
    assert committer.commits == 1  # all queued before the runner began
    assert results == [[False] * 5] * 5
    assert await others_can_take(keys) == [True] * 5


async def test_contended_work_runs_last_whatever_order_its_writers_came_in(
    group: tuple[GroupCommit, str],
) -> None:
    """A batch runs ``Contended`` work (rows every writer locks: rate-limit buckets)
    after its other work, so it holds those rows only from there to its commit."""
    committer, table = group
    ran: list[str] = []

    async def contended(c: asyncpg.Connection, items: list[int]) -> list[int]:
        ran.append("contended")
        return list(items)

    async def plain(c: asyncpg.Connection, items: list[int]) -> list[int]:
        ran.append("plain")
        await c.executemany(f"INSERT INTO {table} (n) VALUES ($1)", [(n,) for n in items])  # noqa: S608
        return [n * 10 for n in items]

    last = Contended(contended)
    results = await asyncio.gather(
        committer.together(last, 1),
        committer.together(plain, 2),
        committer.together(last, 3),
        committer.together(plain, 4),
    )
    assert results == [1, 20, 3, 40]
    assert ran == ["plain", "contended"]  # each work once, the contended one last
    assert committer.commits == 1
    assert await _rows(committer, table) == [2, 4]
