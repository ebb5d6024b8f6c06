"""Row helpers and the sub-store base shared by the PostgreSQL sub-stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final, TypeVar

import asyncpg
import attrs

from waport import codec, ledgersql, sqlkit, storekit
from waport.domain import ledger
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.records import (
    MessageRecord,
    OutboxEvent,
    OutboxState,
)
from waport.domain.status import StatusChange
from waport_postgres.group import GroupCommit, Work

us = storekit.to_us
from_us = storekit.from_us
Conn = Any  # an asyncpg connection (asyncpg ships no type stubs)
T = TypeVar("T")
RETRIES = 5
"""How often a transaction that lost a deadlock or a serialisation race is retried."""
DEADLOCKED: Final = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
"""What PostgreSQL aborts a transaction with to break a deadlock between processes: the
work is run again (``RETRIES`` times in all)."""


# ----------------------------------------------------------------------------- rows


SQL: Final = sqlkit.Statements.for_postgres()
LEDGER: Final = ledgersql.LedgerStatements.for_postgres()
_Docs = sqlkit.RowCache


def _noted(insert: str) -> str:
    return (
        f"WITH m AS ({insert} RETURNING workspace_id, contact, sender_id, created_us, id),"
        f" c AS ({sqlkit.CONVERSATION_INTO} SELECT * FROM m{sqlkit.CONVERSATION_LATEST})"
        " SELECT count(*) FROM m"
    )


INSERT_NOTED: Final = _noted(SQL.insert_message)
"""``insert_message`` and ``note_conversation`` in one statement (one round trip): the
conversation is noted only when the message was new."""
INSERT_NOTED_STRICT: Final = _noted(SQL.insert_message.removesuffix(" ON CONFLICT DO NOTHING"))
"""``INSERT_NOTED`` that raises on a duplicate instead of inserting nothing: for
``executemany``, which answers nothing (a batch with a duplicate fails, and its writers
run again alone, where ``_insert_message`` tells which one it was)."""


_BOTH: Final = sqlkit.Statements()
"""The statements as written for both stores, to compose PostgreSQL-only ones from."""
SENT_TAKING_STASH: Final = (
    "WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
    " AS k(provider, pid, id, i)),"
    " s AS (DELETE FROM status_stash t USING k"
    " WHERE t.provider = k.provider AND t.provider_message_id = k.pid"
    " RETURNING t.provider, t.provider_message_id, t.doc)"
    f" SELECT {', '.join('m.' + column for column in sqlkit.LOAD_COLUMNS)},"
    " ARRAY(SELECT s.doc FROM s WHERE s.provider = k.provider AND s.provider_message_id = k.pid)"
    " AS stashed, k.i FROM k CROSS JOIN LATERAL"
    f" (SELECT {', '.join(sqlkit.LOAD_COLUMNS)} FROM messages WHERE id = k.id FOR UPDATE) AS m"
    " ORDER BY k.i"
)
"""Sent messages' rows (by id, one index lookup each), locked in the order given, each
with the statuses stashed for its provider id taken (``take_stash``): a batch of
outcomes in one round trip. Run with the provider ids' locks held (``_lock_key``),
taken by an earlier statement: this one starts once they are held, so it sees every
stash committed under them. A message that is not there has no row."""


UPDATE_NOTING_WINDOW: Final = sqlkit.postgres(
    f"WITH u AS ({_BOTH.update_message}) {_BOTH.note_window}"
)
"""``update_message`` and ``note_window`` in one round trip (a template's outcome)."""


async def _insert_message(c: Conn, docs: _Docs, r: MessageRecord) -> bool:
    """Insert a new message; False when its row exists already (a duplicate)."""
    args = sqlkit.insert_args(r)
    if not await c.fetchval(INSERT_NOTED, *args):
        return False
    docs.inserted(args, r)
    return True


async def _insert_messages(c: Conn, docs: _Docs, records: Sequence[MessageRecord]) -> None:
    """Insert new messages, one pipelined round trip for them all; raises if one exists
    (``INSERT_NOTED_STRICT``)."""
    args = [sqlkit.insert_args(r) for r in records]
    await c.executemany(INSERT_NOTED_STRICT, args)
    for row, r in zip(args, records, strict=True):
        docs.inserted(row, r)


async def _update_message(c: Conn, docs: _Docs, before: MessageRecord, r: MessageRecord) -> None:
    """Write ``r``, a change of ``before`` as read: hot columns and appended history."""
    args = sqlkit.update_args(before, r)
    await c.execute(SQL.update_message, *args)
    docs.updated(args, r)


async def _get_message(
    c: Conn, docs: _Docs, message_id: str, *, lock: bool = False
) -> MessageRecord | None:
    row = await c.fetchrow(SQL.get_message + (" FOR UPDATE" if lock else ""), message_id)
    return docs.load(row) if row is not None else None


async def _by_provider(c: Conn, docs: _Docs, provider: str, pid: str) -> MessageRecord | None:
    """The message with a provider id, outbound first (``find_by_provider_id``)."""
    row = await c.fetchrow(SQL.by_provider_any, provider, pid)
    return docs.load(row) if row is not None else None


def _window_args(r: MessageRecord, at: datetime, kind: str) -> tuple[Any, ...]:
    return (r.workspace_id, str(r.contact), r.sender_id, kind, us(at))


async def _note_window(c: Conn, r: MessageRecord, at: datetime, kind: str) -> None:
    await c.execute(SQL.note_window, *_window_args(r, at, kind))


async def _enqueue(c: Conn, event: OutboxEvent | None) -> None:
    if event is not None:
        await c.execute(SQL.enqueue, *sqlkit.event_args(event))


@attrs.define
class Writes:
    """What a batch decided to write to its messages (outcomes, statuses), gathered to
    be written with one pipelined ``executemany`` a statement: the rows (several
    changes of one message become one update of it), the template windows the changes
    open (a message's first in its update's statement) and the outbox events; then
    the refunds, rare, one at a time. A batch costs the same few round trips however
    many messages it holds."""

    first: dict[str, MessageRecord] = attrs.Factory(dict)
    """Each changed message as it was read, to append its history from."""
    last: dict[str, MessageRecord] = attrs.Factory(dict)
    windows: dict[str, list[tuple[Any, ...]]] = attrs.Factory(dict)
    events: list[tuple[Any, ...]] = attrs.Factory(list)
    refunds: list[tuple[MessageRecord, Sequence[StatusChange]]] = attrs.Factory(list)

    def write(
        self, before: MessageRecord, after: MessageRecord, changes: Sequence[StatusChange]
    ) -> None:
        """``after``, a change of ``before`` by ``changes``, is to be written."""
        self.first.setdefault(after.id, before)
        self.last[after.id] = after
        self.windows.setdefault(after.id, []).extend(
            _window_args(after, change.at, "template")
            for change in changes
            if storekit.opens_template_window(after, change)
        )
        self.events += [sqlkit.event_args(e) for e in storekit.events_for(after, changes)]
        if changes:
            self.refunds.append((after, changes))

    async def run(self, c: Conn, docs: _Docs) -> None:
        plain: list[tuple[Any, ...]] = []
        noting: list[tuple[Any, ...]] = []  # the update and its first window together
        windows: list[tuple[Any, ...]] = []
        updates = [(sqlkit.update_args(self.first[i], r), r) for i, r in self.last.items()]
        for args, record in updates:
            opened = self.windows[record.id]
            if opened:
                noting.append((*args, *opened[0]))
                windows += opened[1:]
            else:
                plain.append(args)
        for sql, rows in (
            (SQL.update_message, plain),
            (UPDATE_NOTING_WINDOW, noting),
            (SQL.note_window, windows),
            (SQL.enqueue, self.events),
        ):
            if rows:
                await c.executemany(sql, rows)
        for args, record in updates:
            docs.updated(args, record)
        for record, changes in self.refunds:
            await _refund(c, record, changes)


async def _refund(c: Conn, r: MessageRecord, changes: Sequence[StatusChange]) -> None:
    """The refunds ``changes`` owe (``ledger.refund_owed``), once per message."""
    for debit_id, change in ledgersql.owed_refunds(r, changes):
        doc = await c.fetchval(LEDGER.entry, debit_id)
        if doc is None:  # never debited: free, or an unlimited workspace
            continue
        entry = ledgersql.refund_of(doc, change)
        if await c.fetchval(LEDGER.insert + " RETURNING TRUE", *ledgersql.insert_args(entry)):
            await c.execute(LEDGER.move, *ledgersql.move_args(entry.workspace_id, entry.amount))


async def _debit(c: Conn, entries: Sequence[LedgerEntry], totals: dict[str, int]) -> None:
    """``Transaction.debit``: each workspace's total, or ``INSUFFICIENT_BALANCE``."""
    for workspace_id, total in sorted(totals.items()):
        moved = await c.fetchval(LEDGER.move, *ledgersql.move_args(workspace_id, total))
        if moved is None:
            if await c.fetchval(LEDGER.balance, workspace_id) is None:  # unlimited
                continue
            raise ledger.insufficient(total)
        await c.executemany(
            LEDGER.insert,
            [ledgersql.insert_args(e) for e in entries if e.workspace_id == workspace_id],
        )


async def split_documents(c: Conn) -> int:
    """Migration to ``HOT_COLUMNS``: each message written whole gets its hot fields
    and history into their columns and its document without them. Returns how many."""
    done, last = 0, ""
    while batch := await c.fetch(SQL.split_batch, last):
        await c.executemany(
            SQL.split_row,
            [(*sqlkit.split_document(row["doc"]), row["id"]) for row in batch],
        )
        done += len(batch)
        last = batch[-1]["id"]
    return done


async def fill_modes(c: Conn) -> int:
    """Migration to ``MODES_FILLED``: each message's mode from its document."""
    done, last = 0, ""
    while batch := await c.fetch(SQL.split_batch, last):
        await c.executemany(
            SQL.fill_mode, [(sqlkit.mode_of_document(row["doc"]), row["id"]) for row in batch]
        )
        done += len(batch)
        last = batch[-1]["id"]
    return done


def _lock_key(provider: str, pid: str) -> str:
    """What a provider id's advisory lock is taken on (``group.lock_keys``): it
    serialises stashing a status (``waport_postgres.statuses``) with recording the send
    that owns the provider id (``finish``)."""
    return f"{provider}:{pid}"


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
    _docs: _Docs
    _group: GroupCommit

    async def _write(self, fn: Callable[[Conn], Awaitable[T]], *, locks: tuple[str, ...] = ()) -> T:
        """``fn`` in a transaction shared with concurrent writers (group commit), with the
        advisory ``locks`` held, retried when PostgreSQL aborts it to break a deadlock
        between processes."""
        return await self._retried(lambda: self._group.run(fn, locks=locks))

    async def _write_together(self, work: Work, item: Any, *, locks: tuple[str, ...] = ()) -> Any:
        """``item``'s result of ``work``, run once for all the items of a group-committed
        batch (``GroupCommit.together``); retried as ``_write`` is."""
        return await self._retried(lambda: self._group.together(work, item, locks=locks))

    async def _retried(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for n in range(RETRIES):
            try:
                return await attempt()
            except DEADLOCKED:
                if n == RETRIES - 1:
                    raise
            except (asyncpg.PostgresError, OSError) as exc:
                raise _as_store_error(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        try:
            async with self._pool.acquire() as c, c.transaction():
                yield c
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

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
