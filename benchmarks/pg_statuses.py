"""Status batches on PostgreSQL, through the store alone (the ``postgres`` scenario).

``messages`` outbound messages are stored and sent (each with its provider id), then
every one of them is marked delivered and then read by batches of 100 patches, 8
batches in flight, as a webhook receiver that parsed Meta's status batches would
call ``Messages.apply_statuses``. Reports the statuses applied a second and the CPU
of this process (the store's side: the decisions, the encoding, asyncpg) per status.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from typing import Any

from waport.domain.status import MessageStatus, StatusChange
from waport.ports import Sent, StatusPatch
from waport.testing import builders
from waport.testing.contracts.support import T0
from waport_postgres import PostgresStore, open_postgres

BATCH = 100
IN_FLIGHT = 8


def _batches(messages: int) -> list[list[StatusPatch]]:
    return [
        [
            StatusPatch(
                provider="p",
                provider_message_id=f"pid{n}",
                change=StatusChange(status=status, at=T0 + timedelta(seconds=second)),
            )
            for n in range(first, min(first + BATCH, messages))
        ]
        for second, status in enumerate((MessageStatus.DELIVERED, MessageStatus.READ), 1)
        for first in range(0, messages, BATCH)
    ]


async def _sent(store: PostgresStore, messages: int) -> None:
    ids = [f"m{n}" for n in range(messages)]
    for first in range(0, messages, 500):
        async with store.transaction() as tx:
            tx.add_messages([builders.outbound(i, at=T0) for i in ids[first : first + 500]])
    room = asyncio.Semaphore(64)

    async def send(n: int) -> None:
        async with room:
            await store.messages.claim(ids[n], now=T0)
            await store.messages.finish(
                ids[n], Sent(provider="p", provider_message_id=f"pid{n}", at=T0)
            )

    await asyncio.gather(*(send(n) for n in range(messages)))


async def status_batches(url: str, messages: int) -> dict[str, Any]:
    async with open_postgres(url, schema=f"statuses_{os.getpid()}", max_size=16) as store:
        await _sent(store, messages)
        queue = iter(_batches(messages))

        async def poster() -> None:
            for batch in queue:
                await store.messages.apply_statuses(batch)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(IN_FLIGHT)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    applied = 2 * messages
    return {
        "status_batches_of_100_per_s": round(applied / wall),
        "status_cpu_us_per_event": round(cpu / applied * 1e6, 1),
    }
