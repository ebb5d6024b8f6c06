"""Erasing a contact on SQLite (``MessageStore.erase_contact``): the rows rewritten in one
transaction (``waport.erasesql``), then the write-ahead log copied into the file and
truncated, so no earlier page image of those rows is left in it. Freed space in the
file itself is overwritten (``secure_delete``, set at connect)."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Final

from waport import erasesql
from waport.domain import lifecycle
from waport.domain.erasure import Erasure
from waport.domain.records import MessageRecord
from waport_sqlite.engine import Conn
from waport_sqlite.rows import _Docs, _refund

SQL: Final = erasesql.EraseStatements.for_sqlite()
CHECKPOINT_TRIES: Final = 20


def erase(conn: Conn, docs: _Docs, workspace_id: str, erasure: Erasure) -> list[MessageRecord]:
    """Rewrite everything kept of the contact; returns its messages as erased."""
    number = str(erasure.recipient)
    found = [docs.load(row) for row in conn.execute(SQL.messages, (number, workspace_id))]
    erased = [lifecycle.erase(record, erasure) for record in found]
    conn.executemany(SQL.rewrite_message, [erasesql.message_args(r) for r in erased])
    for before, record in zip(found, erased, strict=True):
        docs.rewritten(record)
        _refund(conn, record, record.history[len(before.history) :])  # failed unsent
    alias = str(erasure.alias)
    events = conn.execute(SQL.events, (alias, workspace_id)).fetchall()
    conn.executemany(
        SQL.rewrite_event, [erasesql.event_args(doc, state, erasure) for doc, state in events]
    )
    conn.execute(SQL.forget_windows, (workspace_id, number))
    conn.execute(SQL.rename_conversations, (alias, workspace_id, number))
    conn.execute(SQL.forget_contact, (workspace_id, number))
    conn.execute(SQL.forget_aliases, (number,))
    ids = {r.id for r in erased}
    for scope, key, doc in conn.execute(SQL.idempotency).fetchall():
        scrubbed = erasesql.idempotency_doc(doc, ids, erasure)
        if scrubbed is not None:
            conn.execute(SQL.rewrite_idempotency, (scrubbed, scope, key))
    return erased


def checkpoint(path: str) -> bool:
    """Copy the write-ahead log into the database file and truncate it (blocking: run it
    on a thread). True when it was truncated; the writer may take it back meanwhile,
    so this tries again a few times."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return True
    with contextlib.closing(sqlite3.connect(path, timeout=5.0, isolation_level=None)) as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        for _ in range(CHECKPOINT_TRIES):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy == 0:
                return True
    return False


def database_path(conn: Conn) -> str:
    """The file the connection has open (``""`` for an in-memory database)."""
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file or "")
    return ""
