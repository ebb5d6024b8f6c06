"""Rate-limit hits on PostgreSQL (``waport_postgres.buckets``): concurrent hits are
decided together, as the domain's ``gcra`` would decide them one by one, in the group
commit's transactions and after their other writes; two processes never over-admit."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import drop_schema
from waport.domain.ratelimit import RateLimit, gcra
from waport.testing import builders
from waport.testing.contracts.support import T0
from waport_postgres import PostgresStore, buckets, open_postgres
from waport_postgres.rows import us

pytestmark = pytest.mark.anyio


async def test_concurrent_hits_are_decided_together_as_gcra_one_by_one(
    store: PostgresStore,
) -> None:
    rate = RateLimit(10, timedelta(minutes=1))
    first = await store.rate_limits.hit("warm", rate, now=T0)  # a bucket there before
    assert first.allowed
    keys = [("warm", "cold", "cost")[n % 3] for n in range(45)]
    costs = [3 if key == "cost" else 1 for key in keys]
    before = store.group.commits
    decisions = await asyncio.gather(
        *(
            store.rate_limits.hit(key, rate, now=T0 + timedelta(seconds=1), cost=cost)
            for key, cost in zip(keys, costs, strict=True)
        )
    )
    # the same hits one by one, in the order they were asked
    tats: dict[str, datetime | None] = {"warm": first.tat, "cold": None, "cost": None}
    wanted = []
    for key, cost in zip(keys, costs, strict=True):
        decision = gcra(tats[key], T0 + timedelta(seconds=1), rate, cost=cost)
        if decision.allowed:
            tats[key] = decision.tat
        wanted.append(decision)
    assert decisions == wanted
    assert [d.allowed for d in decisions].count(True) == 9 + 10 + 3  # warm had one already
    assert 1 <= store.group.commits - before <= 2
    async with store.pool.acquire() as c:
        stored = dict(await c.fetch("SELECT key, tat_us FROM rate_limits"))
    assert stored == {key: us(tat) for key, tat in tats.items() if tat is not None}


async def test_a_batch_of_hits_looks_its_buckets_up_by_key_on_a_young_table(
    store: PostgresStore,
) -> None:
    """The table grows by a bucket for every new recipient, faster than its statistics
    follow: a batch's statements must find each bucket by its key, never by reading the
    whole table (a join with the keys was planned as one, milliseconds a batch)."""
    async with store.pool.acquire() as c:
        await c.execute(
            "INSERT INTO rate_limits (key, tat_us) SELECT 'pair:s:' || n, n"
            " FROM generate_series(1, 3000) AS n"
        )
        keys = sorted(f"pair:s:{n}" for n in range(1, 3000, 150))
        async with c.transaction():
            plans = [
                "\n".join(row[0] for row in await c.fetch(f"EXPLAIN {statement}", *args))
                for statement, args in (
                    (buckets.LOCK, (keys,)),
                    (buckets.LOCK_FOUND, (keys,)),
                    (buckets.WRITE, (keys[0], 1)),
                )
            ]
    for plan in plans:
        assert "Index Scan using rate_limits_pkey" in plan, plan
        assert "Seq Scan on rate_limits" not in plan, plan
    decisions = await asyncio.gather(
        *(store.rate_limits.hit(key, RateLimit(10), now=T0) for key in keys)
    )
    assert all(d.allowed for d in decisions)


async def test_hits_from_two_processes_never_over_admit(postgres_url: str) -> None:
    schema = f"hits_{os.getpid()}"
    rate = RateLimit(7, timedelta(minutes=1))
    try:
        async with (
            open_postgres(postgres_url, schema=schema, min_size=1, max_size=4) as one,
            open_postgres(postgres_url, schema=schema, min_size=1, max_size=4) as other,
        ):
            decisions = await asyncio.gather(
                *((one, other)[n % 2].rate_limits.hit(f"k{n % 3}", rate, now=T0) for n in range(90))
            )
    finally:
        await drop_schema(postgres_url, schema)
    for key in range(3):
        allowed = [d.allowed for n, d in enumerate(decisions) if n % 3 == key]
        assert allowed.count(True) == 7


async def test_hits_ride_in_the_accepting_writes_transaction(store: PostgresStore) -> None:
    """A send's hits cost no transaction of their own: hits asked while a message is
    being accepted are decided in its batch's transaction (the rows share its xmin)."""
    record = builders.outbound("msg_hits", at=T0)

    async def accept() -> None:
        async with store.transaction() as tx:
            tx.add_messages([record])

    rate = RateLimit(10, timedelta(minutes=1))
    before = store.group.commits
    _, *decisions = await asyncio.gather(
        accept(), *(store.rate_limits.hit(f"pair:s1:{n}", rate, now=T0) for n in range(3))
    )
    assert all(d.allowed for d in decisions)
    assert store.group.commits - before == 1
    async with store.pool.acquire() as c:
        message = await c.fetchval("SELECT xmin::text FROM messages WHERE id = 'msg_hits'")
        buckets_ = {row[0] for row in await c.fetch("SELECT xmin::text FROM rate_limits")}
    assert buckets_ == {message}
