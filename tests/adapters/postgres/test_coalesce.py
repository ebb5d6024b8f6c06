"""Coalesced reads on PostgreSQL (``waport_postgres.coalesce``): concurrent sends' window
reads share one statement, each caller hears its own answer, and a failed or abandoned
call fails or abandons nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from waport.domain.recipients import parse_recipient
from waport.testing.contracts.support import T0
from waport_postgres import PostgresStore
from waport_postgres.coalesce import Coalesced
from waport_postgres.rows import from_us, us

pytestmark = pytest.mark.anyio


def _contact(n: int) -> str:
    return str(parse_recipient(f"+2557{n:08d}"))  # as stored


async def test_concurrent_window_reads_share_a_statement_and_each_hears_its_own(
    store: PostgresStore,
) -> None:
    # contact n: an inbound window with sender s1 unless n % 3 == 0, one with s2 when
    # n % 4 == 0, a template window with s1 when n is even
    rows: list[tuple[str, str, str, int]] = []
    for n in range(60):
        if n % 3:
            rows.append((_contact(n), "s1", "inbound", us(T0 + timedelta(seconds=n))))
        if n % 4 == 0:
            rows.append((_contact(n), "s2", "inbound", us(T0 + timedelta(seconds=200 + n))))
        if n % 2 == 0:
            rows.append((_contact(n), "s1", "template", us(T0 + timedelta(seconds=100 + n))))
    async with store.pool.acquire() as c:
        await c.executemany(
            "INSERT INTO windows (workspace_id, contact, sender_id, kind, last_us)"
            " VALUES ('default', $1, $2, $3, $4)",
            rows,
        )

    def expected(n: int, sender: str | None, templates: bool) -> int | None:
        kinds = ("inbound", "template") if templates else ("inbound",)
        return max(
            (
                at
                for contact, who, kind, at in rows
                if contact == _contact(n) and kind in kinds and sender in (None, who)
            ),
            default=None,
        )

    asks = [
        (n, sender, templates)
        for n in range(60)
        for sender in ("s1", None)
        for templates in (False, True)
    ]
    before = store.windows.batches
    answers = await asyncio.gather(
        *(
            store.messages.last_inbound(
                "default", parse_recipient(_contact(n)), sender, include_templates=templates
            )
            for n, sender, templates in asks
        )
    )
    wanted = [expected(*ask) for ask in asks]
    assert answers == [None if at is None else from_us(at) for at in wanted]
    assert any(at is None for at in wanted)
    assert any(at is not None for at in wanted)
    # 240 reads, at most one statement per reader under way
    assert 1 <= store.windows.batches - before <= 2
    # another workspace's windows are not this one's
    assert await store.messages.last_inbound("other", parse_recipient(_contact(1)), None) is None


async def _doubled(c: Any, keys: Sequence[int]) -> list[int]:
    return [row[0] for row in await c.fetch("SELECT k * 2 FROM unnest($1::int[]) AS k", list(keys))]


async def test_a_failed_batch_answers_every_caller_its_error_and_the_next_one_reads(
    store: PostgresStore,
) -> None:
    calls = 0

    async def read(c: Any, keys: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await c.fetch("SELECT 1 / 0")  # the database refuses: division by zero
        return await _doubled(c, keys)

    reads: Coalesced[int, int] = Coalesced(store.pool, read)
    failed = await asyncio.gather(*(reads.get(n) for n in range(10)), return_exceptions=True)
    assert all(type(error).__name__ == "DivisionByZeroError" for error in failed)
    assert await asyncio.gather(*(reads.get(n) for n in range(10))) == [n * 2 for n in range(10)]
    assert reads.batches == 1
    await reads.close()


async def test_a_read_answering_the_wrong_number_of_rows_fails_its_callers(
    store: PostgresStore,
) -> None:
    async def short(c: Any, keys: Sequence[int]) -> list[int]:
        return (await _doubled(c, keys))[1:]

    reads: Coalesced[int, int] = Coalesced(store.pool, short)
    failed = await asyncio.gather(*(reads.get(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(error, RuntimeError) for error in failed)
    assert "3 keys were answered 2 times" in str(failed[0])
    await reads.close()


async def test_a_caller_that_gives_up_leaves_the_others_answered(store: PostgresStore) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(c: Any, keys: Sequence[int]) -> list[int]:
        started.set()
        await release.wait()
        return await _doubled(c, keys)

    reads: Coalesced[int, int] = Coalesced(store.pool, slow, runners=1)
    tasks = [asyncio.create_task(reads.get(n)) for n in range(5)]
    await started.wait()
    tasks[2].cancel()
    release.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [done[n] for n in (0, 1, 3, 4)] == [0, 2, 6, 8]
    await reads.close()
