"""Row helpers shared by the sub-stores: messages, windows, outbox events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Final

import attrs

from waport import codec, storekit
from waport.domain import lifecycle
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


_Docs = storekit.DocCache
_PURGEABLE: Final = lifecycle.PURGEABLE_SQL.format(before="?")


_INSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({', '.join(storekit.MESSAGE_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in storekit.MESSAGE_COLUMNS)})"
)
_UPDATE_MESSAGE: Final = (
    f"UPDATE messages SET {', '.join(f'{c} = ?' for c in storekit.MESSAGE_CHANGES)} WHERE id = ?"
)


def _write_message(conn: Conn, docs: _Docs, r: MessageRecord, *, insert: bool = False) -> None:
    doc = codec.dumps(r)
    docs.remember(doc, r)
    if insert:
        conn.execute(_INSERT_MESSAGE, storekit.message_row(r, doc))
    else:
        conn.execute(_UPDATE_MESSAGE, storekit.message_changes(r, doc))


def _get_message(conn: Conn, docs: _Docs, message_id: str) -> MessageRecord | None:
    row = conn.execute("SELECT doc FROM messages WHERE id = ?", (message_id,)).fetchone()
    return docs.load(row[0]) if row else None


def _by_provider(
    conn: Conn, docs: _Docs, provider: str, pid: str, direction: str | None = None
) -> MessageRecord | None:
    if direction is None:
        row = conn.execute(
            "SELECT doc FROM messages WHERE provider = ? AND provider_message_id = ? ORDER BY direction DESC LIMIT 1",
            (provider, pid),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT doc FROM messages WHERE provider = ? AND provider_message_id = ? AND direction = ?",
            (provider, pid, direction),
        ).fetchone()
    return docs.load(row[0]) if row else None


def _note_window(conn: Conn, w: _Writer, r: MessageRecord, at: datetime, kind: str) -> None:
    key = (r.workspace_id, str(r.contact), r.sender_id)
    (last,) = conn.execute(
        "INSERT INTO windows (workspace_id, contact, sender_id, kind, last_us) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (workspace_id, contact, sender_id, kind) DO UPDATE SET last_us = MAX(last_us, excluded.last_us)"
        " RETURNING last_us",
        (*key, kind, us(at)),
    ).fetchone()
    w.after_commit(partial(w.known.window_written, key, kind, last))


def _enqueue(conn: Conn, event: OutboxEvent | None) -> None:
    if event is None:
        return
    conn.execute(
        "INSERT OR IGNORE INTO outbox (id, message_id, seq, state, due_us, leased_us, attempts, last_error, url,"
        " created_us, doc) VALUES (?, ?, ?, ?, ?, NULL, 0, NULL, ?, ?, ?)",
        (
            event.id,
            event.message_id,
            event.seq,
            event.state.value,
            us(event.due_at),
            event.url,
            us(event.created_at),
            codec.dumps(event),
        ),
    )


def _save(
    conn: Conn, w: _Writer, docs: _Docs, r: MessageRecord, changes: Sequence[StatusChange]
) -> MessageRecord:
    _write_message(conn, docs, r)
    for change in changes:
        if storekit.opens_template_window(r, change):
            _note_window(conn, w, r, change.at, "template")
    for event in storekit.events_for(r, changes):
        _enqueue(conn, event)
    return r


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
