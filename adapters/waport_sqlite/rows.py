"""Row helpers shared by the sub-stores: messages, windows, outbox events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Final

import attrs

from waport import codec, ledgersql, sqlkit, storekit
from waport.domain import ledger
from waport.domain.ledger import LedgerEntry
from waport.domain.records import (
    MessageRecord,
    OutboxEvent,
    OutboxState,
)
from waport.domain.status import StatusChange
from waport_sqlite.engine import (
    Conn,
    _Writer,
    from_us,
    us,
)

# ----------------------------------------------------------------------------- row helpers


_Docs = sqlkit.RowCache
SQL: Final = sqlkit.Statements.for_sqlite()
LEDGER: Final = ledgersql.LedgerStatements.for_sqlite()


def _insert_message(conn: Conn, w: _Writer, docs: _Docs, r: MessageRecord) -> bool:
    """Insert a new message; False when its row exists already (a duplicate)."""
    args = sqlkit.insert_args(r)
    if conn.execute(SQL.insert_message, args).rowcount != 1:
        return False
    conn.execute(SQL.note_conversation, sqlkit.conversation_args(r))
    docs.inserted(args, r)
    _written(w, r)
    return True


def _update_message(
    conn: Conn, w: _Writer, docs: _Docs, before: MessageRecord, r: MessageRecord
) -> None:
    """Write ``r``, a change of ``before`` as read: hot columns and appended history."""
    args = sqlkit.update_args(before, r)
    conn.execute(SQL.update_message, args)
    docs.updated(args, r)
    _written(w, r)


def _written(w: _Writer, r: MessageRecord) -> None:
    """``r`` is its row once this operation's transaction commits (``Known.message``)."""
    w.known.message_writing(r.id)
    w.after_commit(partial(w.known.message_written, r))


def _get_message(conn: Conn, docs: _Docs, message_id: str) -> MessageRecord | None:
    row = conn.execute(SQL.get_message, (message_id,)).fetchone()
    return docs.load(row) if row else None


def _written_or_read(conn: Conn, w: _Writer, docs: _Docs, message_id: str) -> MessageRecord | None:
    """``message_id``'s row in a write operation: as this process committed it last
    (``Known.message``), or read."""
    known = w.known.message(message_id)
    return known if known is not None else _get_message(conn, docs, message_id)


def _by_provider(
    conn: Conn, docs: _Docs, provider: str, pid: str, direction: str | None = None
) -> MessageRecord | None:
    if direction is None:
        row = conn.execute(SQL.by_provider_any, (provider, pid)).fetchone()
    else:
        row = conn.execute(SQL.by_provider, (provider, pid, direction)).fetchone()
    return docs.load(row) if row else None


def split_documents(conn: Conn) -> int:
    """Migration to ``HOT_COLUMNS``: each message written whole gets its hot fields
    and history into their columns and its document without them. Returns how many."""
    done, last = 0, ""
    while batch := conn.execute(SQL.split_batch, (last,)).fetchall():
        for message_id, doc in batch:
            conn.execute(SQL.split_row, (*sqlkit.split_document(doc), message_id))
        done += len(batch)
        last = batch[-1][0]
    return done


def fill_modes(conn: Conn) -> int:
    """Migration to ``MODES_FILLED``: each message's mode from its document."""
    done, last = 0, ""
    while batch := conn.execute(SQL.split_batch, (last,)).fetchall():
        conn.executemany(SQL.fill_mode, [(sqlkit.mode_of_document(d), i) for i, d in batch])
        done += len(batch)
        last = batch[-1][0]
    return done


def _note_window(conn: Conn, w: _Writer, r: MessageRecord, at: datetime, kind: str) -> None:
    key = (r.workspace_id, str(r.contact), r.sender_id)
    (last,) = conn.execute(SQL.note_window, (*key, kind, us(at))).fetchone()
    w.after_commit(partial(w.known.window_written, key, kind, last))


def _enqueue(conn: Conn, event: OutboxEvent | None) -> None:
    if event is None:
        return
    conn.execute(SQL.enqueue, sqlkit.event_args(event))


def _save(
    conn: Conn,
    w: _Writer,
    docs: _Docs,
    *,
    before: MessageRecord,
    after: MessageRecord,
    changes: Sequence[StatusChange],
) -> MessageRecord:
    r = after
    _update_message(conn, w, docs, before, r)
    for change in changes:
        if storekit.opens_template_window(r, change):
            _note_window(conn, w, r, change.at, "template")
    for event in storekit.events_for(r, changes):
        _enqueue(conn, event)
    _refund(conn, r, changes)
    return r


def _refund(conn: Conn, r: MessageRecord, changes: Sequence[StatusChange]) -> None:
    """The refunds ``changes`` owe (``ledger.refund_owed``), once per message."""
    for debit_id, change in ledgersql.owed_refunds(r, changes):
        row = conn.execute(LEDGER.entry, (debit_id,)).fetchone()
        if row is None:  # never debited: free, or an unlimited workspace
            continue
        entry = ledgersql.refund_of(row[0], change)
        if conn.execute(LEDGER.insert, ledgersql.insert_args(entry)).rowcount == 1:
            conn.execute(LEDGER.move, ledgersql.move_args(entry.workspace_id, entry.amount))


def _debit(conn: Conn, entries: Sequence[LedgerEntry], totals: dict[str, int]) -> None:
    """``Transaction.debit``: each workspace's total, or ``INSUFFICIENT_BALANCE``."""
    for workspace_id, total in totals.items():
        if conn.execute(LEDGER.move, ledgersql.move_args(workspace_id, total)).fetchone() is None:
            found = conn.execute(LEDGER.balance, (workspace_id,)).fetchone()
            if found is None or found[0] is None:  # unlimited: nothing to debit
                continue
            raise ledger.insufficient(total)
        conn.executemany(
            LEDGER.insert,
            [ledgersql.insert_args(e) for e in entries if e.workspace_id == workspace_id],
        )


def _load_event(row: tuple[Any, ...]) -> OutboxEvent:
    doc, state, due, leased, attempts, last_error = row
    event = codec.loads(doc, OutboxEvent)
    return attrs.evolve(
        event,
        state=OutboxState(state),
        due_at=from_us(due),
        leased_until=from_us(leased) if leased is not None else None,
        attempts=attempts,
        last_error=last_error,
    )


_EVENT_COLUMNS = "doc, state, due_us, leased_us, attempts, last_error"
