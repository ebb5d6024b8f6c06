"""``listing``: ``GET /v1/messages`` pages (the service's ``list_messages``: query parsing,
the store's SQL and decoding 50 messages) on N stored messages, SQLite and PostgreSQL.

The database is filled directly with the stores' own insert statement (sending a
million messages through the pipeline would measure sending, not listing): one
workspace, two senders, 1,000 contacts, a quarter of the messages inbound, one a
second. Then, per store: the first page, read again and again as a polling client
does; pages at random depths down to 500 pages (each read once, so mostly not in
the store's decoded-row cache); and the first page of one contact's messages.
Figures are p50 and p99 in milliseconds.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from waport import sqlkit
from waport.domain.events import InboundMessage
from waport.domain.listing import Cursor
from waport.domain.messages import OutboundMessage, Text
from waport.domain.recipients import Recipient
from waport.domain.records import Direction, MessageRecord
from waport.domain.status import MessageStatus, StatusChange
from waport.ports import Store
from waport.service import Messenger
from waport.service.clock import RandomIds, SystemClock
from waport_memory import SandboxProvider

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 50
DEEP_PAGES = 500
READS = 200
BATCH = 10_000
SENDERS = ("s1", "s2")


def _record(n: int) -> MessageRecord:
    at = T0 + timedelta(seconds=n)
    contact = Recipient("phone", f"2557{n % 1000:08d}")
    sender = SENDERS[n % 2]
    if n % 4 == 0:
        return MessageRecord(
            id=f"msg_{n:012d}",
            workspace_id="ws1",
            sender_id=sender,
            contact=contact,
            direction=Direction.INBOUND,
            status=MessageStatus.DELIVERED,
            history=(StatusChange(status=MessageStatus.DELIVERED, at=at),),
            created_at=at,
            inbound=InboundMessage(
                provider="sandbox",
                provider_message_id=f"in.{n}",
                sender_id=sender,
                contact=contact,
                received_at=at,
                kind="text",
                text=f"question {n}",
            ),
            provider="sandbox",
            provider_message_id=f"in.{n}",
        )
    return MessageRecord(
        id=f"msg_{n:012d}",
        workspace_id="ws1",
        sender_id=sender,
        contact=contact,
        direction=Direction.OUTBOUND,
        status=MessageStatus.DELIVERED,
        history=(
            StatusChange(status=MessageStatus.PENDING, at=at),
            StatusChange(status=MessageStatus.SENT, at=at),
            StatusChange(status=MessageStatus.DELIVERED, at=at),
        ),
        created_at=at,
        message=OutboundMessage(to=contact, content=Text(f"answer {n}"), sender_id=sender),
        provider="sandbox",
        provider_message_id=f"out.{n}",
        category="SERVICE",
    )


def rows(count: int) -> Iterator[list[tuple[Any, ...]]]:
    """The messages as rows of ``sqlkit.INSERT_COLUMNS``, a batch at a time."""
    for start in range(0, count, BATCH):
        yield [sqlkit.insert_args(_record(n)) for n in range(start, min(count, start + BATCH))]


def fill_sqlite(path: str, count: int) -> None:
    import sqlite3

    sql = sqlkit.Statements.for_sqlite().insert_message
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        for batch in rows(count):
            conn.executemany(sql, batch)
        conn.execute("ANALYZE")


async def fill_postgres(url: str, schema: str, count: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        for batch in rows(count):
            await conn.copy_records_to_table(
                "messages", records=batch, columns=list(sqlkit.INSERT_COLUMNS)
            )
        await conn.execute("ANALYZE messages")
    finally:
        await conn.close()


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


async def _timed(read: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await read()
        samples.append(time.perf_counter() - started)
    return samples


async def measure(store: Store, count: int, label: str) -> dict[str, Any]:
    """The three figures of one filled store."""
    clock = SystemClock()
    messenger = Messenger(
        store=store, provider=SandboxProvider(clock=clock), clock=clock, ids=RandomIds()
    )
    depth = min(DEEP_PAGES, count // PAGE - 1)

    async def first() -> None:
        page = await messenger.list_messages(workspace_id="ws1", limit=str(PAGE))
        assert len(page.messages) == PAGE

    newest = count - 1
    picks = random.Random(7)  # noqa: S311 - repeatable picks, not secrets

    async def deep() -> None:
        # the cursor a walk would hold after `pages` pages of 50
        pages = picks.randint(1, depth)
        place = _record(newest - pages * PAGE + 1)
        cursor = Cursor.at(place).encode()
        page = await messenger.list_messages(workspace_id="ws1", limit=str(PAGE), cursor=cursor)
        assert len(page.messages) == PAGE

    async def one_contact() -> None:
        who = f"+2557{picks.randint(0, 999):08d}"
        page = await messenger.list_messages(workspace_id="ws1", limit=str(PAGE), contact=who)
        assert page.messages

    await _timed(first, 20)  # warm up: connections, plans
    figures: dict[str, Any] = {}
    for name, read in (("first_page", first), ("deep_page", deep), ("contact_page", one_contact)):
        for key, value in _ms(await _timed(read, READS)).items():
            figures[f"{label}_{name}_{key}"] = value
    return figures


async def on_sqlite(count: int) -> dict[str, Any]:
    from waport_sqlite import open_sqlite

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "listing.db")
        async with open_sqlite(path):
            pass  # creates the schema
        started = time.perf_counter()
        fill_sqlite(path, count)
        filled = time.perf_counter() - started
        async with open_sqlite(path) as store:
            figures = await measure(store, count, "sqlite")
    return {"messages": count, "sqlite_fill_s": round(filled, 1), **figures}


async def on_postgres(url: str, count: int) -> dict[str, Any]:
    from waport_postgres import open_postgres

    schema = "listing_bench"
    async with open_postgres(url, schema=schema):
        pass  # creates the schema
    started = time.perf_counter()
    await fill_postgres(url, schema, count)
    filled = time.perf_counter() - started
    async with open_postgres(url, schema=schema) as store:
        figures = await measure(store, count, "postgres")
    return {"postgres_fill_s": round(filled, 1), **figures}
