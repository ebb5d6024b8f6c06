"""PostgresStore: every store port on PostgreSQL, shared by many gateway processes.

The driver, chosen deliberately
-------------------------------
asyncpg: a native asyncio driver with its own connection pool and the binary protocol,
so a round trip costs the event loop little and no thread hop (psycopg 3's async mode
is the other mature choice; asyncpg is faster per query and needs nothing else).

What several processes share, and how it stays correct
-------------------------------------------------------
* **Claims.** A message is claimed by ``SELECT ... FOR UPDATE SKIP LOCKED`` on an
  unsent, unclaimed row and an update that records ``attempting_us`` in the same
  transaction: one process wins, the others skip it. A claim older than the attempt
  lease belongs to a process that died, and the dispatcher recovers it under the same
  rules as on SQLite (re-send only where the provider de-duplicates).
* **Outbound webhooks** are leased the same way (``FOR UPDATE SKIP LOCKED``), still
  in order per message.
* **Rate limits, idempotency records and the outbox** live in tables, so a limit
  holds across processes (GCRA: one timestamp per bucket, updated under a row lock).
* **Status updates** lock the message row; a status that arrives before the send
  that produced its provider id is recorded is stashed under an advisory lock on that
  provider id, which the send's outcome takes too, so the two never miss each other.
* Workers find work by short polling (``dispatch_interval_seconds``); no LISTEN.

Migrations are forward-only and run under an advisory lock at open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import attrs

from waport import codec, storekit
from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport_postgres import pool as guarded
from waport_postgres.coalesce import Coalesced
from waport_postgres.group import GroupCommit
from waport_postgres.media import PostgresMediaStore, move_inline_media
from waport_postgres.messages import WindowAsk, _Messages, read_windows
from waport_postgres.parts import (
    _ApiKeys,
    _Contacts,
    _Idempotency,
    _Outbox,
    _RateLimits,
    _Templates,
    _upsert_contact,
    _Workspaces,
)
from waport_postgres.rows import (
    Conn,
    _as_store_error,
    _debit,
    _Docs,
    _insert_message,
    _insert_messages,
    fill_modes,
    split_documents,
    us,
)
from waport_postgres.schema import (
    HOT_COLUMNS,
    LATEST,
    MEDIA_MOVED,
    MIGRATION_LOCK,
    MIGRATIONS,
    MODES_FILLED,
)

# ----------------------------------------------------------------------------- transaction


@attrs.define
class _Transaction(storekit.PendingWrites):
    async def apply_claims(self, c: Conn) -> None:
        """The debits and the idempotency claims (a taken key fails the transaction)."""
        if self.debits:
            await _debit(c, self.debits, self.debit_totals())
        for claim in self.claims:
            taken = await c.fetchval(
                "INSERT INTO idempotency (scope, key, expires_us, doc) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (scope, key) DO UPDATE SET expires_us = excluded.expires_us,"
                " doc = excluded.doc WHERE idempotency.expires_us <= $5 RETURNING TRUE",
                claim.scope,
                claim.key,
                us(claim.expires_at),
                codec.dumps(claim),
                us(claim.created_at),
            )
            if not taken:  # the statement's WHERE is lifecycle.may_take_key
                raise lifecycle.key_in_use()


# ----------------------------------------------------------------------------- the store


@attrs.define
class PostgresStore:
    """All of waport's state in one PostgreSQL database, shared by any number of
    processes. Open it with ``open_postgres(dsn)``."""

    pool: Any
    messages: _Messages = attrs.field(init=False)
    idempotency: _Idempotency = attrs.field(init=False)
    rate_limits: _RateLimits = attrs.field(init=False)
    api_keys: _ApiKeys = attrs.field(init=False)
    workspaces: _Workspaces = attrs.field(init=False)
    contacts: _Contacts = attrs.field(init=False)
    templates: _Templates = attrs.field(init=False)
    outbox: _Outbox = attrs.field(init=False)
    media: PostgresMediaStore = attrs.field(init=False)
    _docs: _Docs = attrs.field(init=False, factory=_Docs)
    group: GroupCommit = attrs.field(init=False)
    """Writes of messages, idempotency records and the rest, committed together."""
    windows: Coalesced[WindowAsk, int | None] = attrs.field(init=False)
    """Sends' window reads, asked together (``last_inbound``)."""

    def __attrs_post_init__(self) -> None:
        self.group = GroupCommit(self.pool)
        self.windows = Coalesced(self.pool, read_windows)
        parts = (self.pool, self._docs, self.group)
        self.messages = _Messages(*parts, self.windows)
        self.idempotency = _Idempotency(*parts)
        self.rate_limits = _RateLimits(*parts)
        self.api_keys = _ApiKeys(*parts)
        self.workspaces = _Workspaces(*parts)
        self.contacts = _Contacts(*parts)
        self.templates = _Templates(*parts)
        self.outbox = _Outbox(*parts)
        self.media = PostgresMediaStore(self.pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Transaction]:
        tx = _Transaction()
        yield tx
        try:
            await self.group.together(self._apply_all, tx)  # with concurrent writers: one commit
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _apply_all(self, c: Conn, txs: list[_Transaction]) -> list[None]:
        """Transactions of a group-committed batch (``GroupCommit.together``): each
        one's claims, then all their messages in one pipelined round trip, then their
        contacts."""
        for tx in txs:
            await tx.apply_claims(c)
        records = [record for tx in txs for record in tx.messages]
        if len(records) == 1:  # one message: a duplicate is named
            if not await _insert_message(c, self._docs, records[0]):
                raise WaportError(
                    ErrorCode.INTERNAL, f"message {records[0].id} could not be stored"
                )
        elif records:
            await _insert_messages(c, self._docs, records)
        for tx in txs:
            for contact in tx.contacts:
                await _upsert_contact(c, contact)
        return [None] * len(txs)


async def migrate(c: Conn) -> int:
    """Bring the schema to the latest version under an advisory lock; returns the
    version found."""
    await c.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await c.execute("CREATE TABLE IF NOT EXISTS waport_schema (version INTEGER NOT NULL)")
        found = await c.fetchval("SELECT MAX(version) FROM waport_schema") or 0
        if found > LATEST:
            raise WaportError(
                ErrorCode.INTERNAL,
                f"the database schema is version {found}, newer than this waport ({LATEST})",
            )
        for version in range(found, LATEST):
            async with c.transaction():
                await c.execute(MIGRATIONS[version])
                if version + 1 == MEDIA_MOVED:
                    await move_inline_media(c)
                if version + 1 == HOT_COLUMNS:
                    await split_documents(c)
                if version + 1 == MODES_FILLED:
                    await fill_modes(c)
                await c.execute("INSERT INTO waport_schema (version) VALUES ($1)", version + 1)
        return int(found)
    finally:
        await c.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


@asynccontextmanager
async def open_postgres(
    dsn: str, *, min_size: int = 2, max_size: int = 20, schema: str | None = None
) -> AsyncIterator[PostgresStore]:
    """Open a pool on ``dsn`` (a ``postgresql://`` URL), migrate, and yield the store.
    ``schema`` puts waport's tables in that schema (created if needed)."""
    settings = {"search_path": schema} if schema else None
    if schema:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()
    try:
        pool = await guarded.create(dsn, min_size=min_size, max_size=max_size, settings=settings)
    except (asyncpg.PostgresError, OSError) as exc:
        raise WaportError(ErrorCode.INTERNAL, f"cannot open the database: {exc}") from exc
    try:
        async with pool.acquire() as c:
            await migrate(c)
        store = PostgresStore(pool=pool)
        try:
            yield store
        finally:
            await store.group.close()
            await store.windows.close()
    finally:
        await pool.close()
