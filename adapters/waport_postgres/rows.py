"""Row helpers and the sub-store base shared by the PostgreSQL sub-stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final, TypeVar

import asyncpg
import attrs

from waport import codec, storekit
from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import (
    MessageRecord,
    OutboxEvent,
    OutboxState,
)
from waport.domain.status import StatusChange

_PURGEABLE: Final = lifecycle.PURGEABLE_SQL.format(before="$1")
us = storekit.to_us
from_us = storekit.from_us
Conn = Any  # an asyncpg connection (asyncpg ships no type stubs)
UNSENT = ("scheduled", "pending")
T = TypeVar("T")
RETRIES = 5
"""How often a transaction that lost a deadlock or a serialisation race is retried."""


# ----------------------------------------------------------------------------- rows


_INSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({', '.join(storekit.MESSAGE_COLUMNS)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(storekit.MESSAGE_COLUMNS) + 1))})"
    " ON CONFLICT DO NOTHING RETURNING TRUE"
)
_UPDATE_MESSAGE: Final = (
    "UPDATE messages SET "
    + ", ".join(f"{c} = ${n}" for n, c in enumerate(storekit.MESSAGE_CHANGES, 1))
    + f" WHERE id = ${len(storekit.MESSAGE_CHANGES) + 1}"
)


async def _write_message(
    c: Conn, docs: storekit.DocCache, r: MessageRecord, *, insert: bool = False
) -> bool:
    """Insert (False when the row exists: a duplicate) or update one message."""
    doc = codec.dumps(r)
    docs.remember(doc, r)
    if insert:
        return bool(await c.fetchval(_INSERT_MESSAGE, *storekit.message_row(r, doc)))
    await c.execute(_UPDATE_MESSAGE, *storekit.message_changes(r, doc))
    return True


async def _get_message(
    c: Conn, docs: storekit.DocCache, message_id: str, *, lock: bool = False
) -> MessageRecord | None:
    doc = await c.fetchval(
        "SELECT doc FROM messages WHERE id = $1" + (" FOR UPDATE" if lock else ""), message_id
    )
    return docs.load(doc) if doc is not None else None


async def _by_provider(
    c: Conn,
    docs: storekit.DocCache,
    provider: str,
    pid: str,
    direction: str | None = None,
    *,
    lock: bool = False,
) -> MessageRecord | None:
    if direction is None:
        doc = await c.fetchval(
            "SELECT doc FROM messages WHERE provider = $1 AND provider_message_id = $2"
            " ORDER BY direction DESC LIMIT 1",
            provider,
            pid,
        )
    else:
        doc = await c.fetchval(
            "SELECT doc FROM messages WHERE provider = $1 AND provider_message_id = $2"
            " AND direction = $3" + (" FOR UPDATE" if lock else ""),
            provider,
            pid,
            direction,
        )
    return docs.load(doc) if doc is not None else None


async def _note_window(c: Conn, r: MessageRecord, at: datetime, kind: str) -> None:
    await c.execute(
        "INSERT INTO windows (workspace_id, contact, sender_id, kind, last_us)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, contact, sender_id, kind)"
        " DO UPDATE SET last_us = GREATEST(windows.last_us, excluded.last_us)",
        r.workspace_id,
        str(r.contact),
        r.sender_id,
        kind,
        us(at),
    )


async def _enqueue(c: Conn, event: OutboxEvent | None) -> None:
    if event is None:
        return
    await c.execute(
        "INSERT INTO outbox (id, message_id, seq, state, due_us, leased_us, attempts,"
        " last_error, url, created_us, doc) VALUES ($1, $2, $3, $4, $5, NULL, 0, NULL, $6, $7, $8)"
        " ON CONFLICT (id) DO NOTHING",
        event.id,
        event.message_id,
        event.seq,
        event.state.value,
        us(event.due_at),
        event.url,
        us(event.created_at),
        codec.dumps(event),
    )


async def _save(
    c: Conn, docs: storekit.DocCache, r: MessageRecord, changes: Sequence[StatusChange]
) -> MessageRecord:
    await _write_message(c, docs, r)
    for change in changes:
        if storekit.opens_template_window(r, change):
            await _note_window(c, r, change.at, "template")
    for event in storekit.events_for(r, changes):
        await _enqueue(c, event)
    return r


async def _provider_lock(c: Conn, provider: str, pid: str) -> None:
    """Serialises stashing a status with recording the send that owns its provider id."""
    await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{provider}:{pid}")


_EVENT_COLUMNS = "doc, state, due_us, leased_us, attempts, last_error"


def _load_event(row: Any) -> OutboxEvent:
    event = codec.loads(row["doc"], OutboxEvent)
    leased = row["leased_us"]
    return attrs.evolve(
        event,
        state=OutboxState(row["state"]),
        due_at=from_us(row["due_us"]),
        leased_until=from_us(leased) if leased is not None else None,
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


def _unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.UniqueViolationError)


# ----------------------------------------------------------------------------- sub-stores


@attrs.define
class _Part:
    _pool: Any
    _docs: storekit.DocCache

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        try:
            async with self._pool.acquire() as c, c.transaction():
                yield c
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn`` in a transaction, retried when PostgreSQL aborts it to break a deadlock
        between processes (webhook batches locking the same rows in another order)."""
        for attempt in range(RETRIES):
            try:
                async with self._pool.acquire() as c, c.transaction():
                    return await fn(c)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES - 1:
                    raise
            except (asyncpg.PostgresError, OSError) as exc:
                raise _as_store_error(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exec(self, sql: str, *args: Any) -> str:
        """One statement on its own (autocommit: atomic, and one round trip instead of
        BEGIN, the statement and COMMIT); returns the command status (``DELETE 3``)."""
        try:
            async with self._pool.acquire() as c:
                return str(await c.execute(sql, *args))
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _one(self, sql: str, *args: Any) -> Any:
        """One statement on its own, answering one value (``RETURNING x``), or None."""
        try:
            async with self._pool.acquire() as c:
                return await c.fetchval(sql, *args)
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        """One statement on its own, answering its rows."""
        try:
            async with self._pool.acquire() as c:
                return list(await c.fetch(sql, *args))
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc


def _as_store_error(error: BaseException) -> WaportError:
    if isinstance(error, WaportError):
        return error
    return WaportError(ErrorCode.INTERNAL, f"the store failed: {type(error).__name__}: {error}")
