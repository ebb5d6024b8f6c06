"""SqliteStore: every store port on SQLite, the durable embedded default.

The async bridge, chosen deliberately
-------------------------------------
The standard ``sqlite3`` module on three connections:

* the **writer** runs the operations queued during one turn of the event loop in
  one ``BEGIN IMMEDIATE ... COMMIT`` with a ``SAVEPOINT`` per operation, so
  concurrent writers share one fsync (group commit) while each operation still
  succeeds or fails on its own. The statements run on the loop (microseconds: they
  only touch the page cache); the COMMIT, where the fsync is, runs on the writer's
  thread, and a caller is answered only after the COMMIT that holds its rows returns;
* **point reads** (one row by its key) run on the loop on a connection of their own;
* **scans** (lists, counts, the dispatcher's queue) go to the reader's thread, which
  runs everything queued and wakes the loop once per batch (WAL: readers never wait
  for the writer).

Why the loop runs SQL: with every statement on a thread, each one had to win the
interpreter lock back from a busy loop, and the waits added up: at 1,000 sends/s
over HTTP the p99 was about 80 ms with statements and point reads on threads, 41-56 ms
with them on the loop and only the fsync on a thread (``docs/performance.md``). The
loop never waits for a lock or a disk flush: a batch that finds the write lock taken
by another process goes to the writer's thread whole, and a point read that finds
the database busy is retried on the reader's thread.

Why not aiosqlite: it makes one thread hop per call and commits per caller, so
durable throughput is bounded by one fsync per message (measured in
``../shared/reference/reliability.md`` §5: 1,697 acks/s per-commit vs 9,289 with
group commit at ``synchronous=FULL``).

Durability: WAL, ``synchronous=FULL`` by default (``NORMAL`` is an opt-in fast
mode that survives process crashes but may lose the last commits on power loss),
foreign keys on, a busy timeout, and forward-only migrations at open.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import anyio
import attrs

from waport import codec, storekit
from waport.domain import lifecycle
from waport.domain.errors import ConfigError, ErrorCode, WaportError
from waport.service.lifetime import task_group
from waport_sqlite.engine import (
    Conn,
    _Reader,
    _Writer,
    connect,
    from_us,
    migrate,
    us,
)
from waport_sqlite.media import SqliteMediaStore, media_folder, move_inline_media
from waport_sqlite.messages import _Messages
from waport_sqlite.parts import (
    _ApiKeys,
    _Contacts,
    _Idempotency,
    _Outbox,
    _Templates,
    _upsert_contact,
    _Workspaces,
)
from waport_sqlite.rows import (
    _debit,
    _Docs,
    _insert_message,
    fill_modes,
    split_documents,
)
from waport_sqlite.schema import HOT_COLUMNS, MEDIA_MOVED, MODES_FILLED

# ----------------------------------------------------------------------------- transaction

OPEN_HINT: Final = (
    "WAPORT_DATABASE (or --database) is a SQLite file in a folder that exists and this "
    "user may write, memory:, or a postgresql:// URL"
)


@attrs.define
class _Transaction(storekit.PendingWrites):
    _writer: _Writer = attrs.field(kw_only=True)
    _docs: _Docs = attrs.field(kw_only=True)

    def apply(self, c: Conn) -> None:
        if self.debits:
            _debit(c, self.debits, self.debit_totals())
        for claim in self.claims:
            row = c.execute(
                "SELECT expires_us FROM idempotency WHERE scope = ? AND key = ?",
                (claim.scope, claim.key),
            ).fetchone()
            if not lifecycle.may_take_key(from_us(row[0]) if row else None, claim.created_at):
                raise lifecycle.key_in_use()
            c.execute(
                "INSERT OR REPLACE INTO idempotency (scope, key, expires_us, doc) VALUES (?, ?, ?, ?)",
                (claim.scope, claim.key, us(claim.expires_at), codec.dumps(claim)),
            )
        for record in self.messages:
            if not _insert_message(c, self._writer, self._docs, record):
                raise WaportError(ErrorCode.INTERNAL, f"message {record.id} could not be stored")
        for contact in self.contacts:
            _upsert_contact(c, contact)


# ----------------------------------------------------------------------------- the store


@attrs.define
class SqliteStore:
    """All of waport's state in one SQLite file. Open it with ``open_sqlite(path)``."""

    path: str
    writer: _Writer
    reader: _Reader
    folder: Path
    """Where the media files are (``<path>.media``)."""
    messages: _Messages = attrs.field(init=False)
    idempotency: _Idempotency = attrs.field(init=False)
    rate_limits: storekit.LocalRateLimits = attrs.field(init=False)
    api_keys: _ApiKeys = attrs.field(init=False)
    workspaces: _Workspaces = attrs.field(init=False)
    contacts: _Contacts = attrs.field(init=False)
    templates: _Templates = attrs.field(init=False)
    outbox: _Outbox = attrs.field(init=False)
    media: SqliteMediaStore = attrs.field(init=False)

    _docs: _Docs = attrs.field(init=False, factory=_Docs)

    def __attrs_post_init__(self) -> None:
        parts = (self.reader, self.writer, self._docs)
        self.messages = _Messages(*parts)
        self.idempotency = _Idempotency(*parts)
        self.rate_limits = storekit.LocalRateLimits()
        self.api_keys = _ApiKeys(*parts)
        self.workspaces = _Workspaces(*parts)
        self.contacts = _Contacts(*parts)
        self.templates = _Templates(*parts)
        self.outbox = _Outbox(*parts)
        self.media = SqliteMediaStore(self.folder, self.reader, self.writer)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Transaction]:
        tx = _Transaction(writer=self.writer, docs=self._docs)
        yield tx
        await self.writer.call(tx.apply)

    async def integrity_check(self) -> str:
        return await self.reader.call(
            lambda c: str(c.execute("PRAGMA integrity_check").fetchone()[0])
        )


@asynccontextmanager
async def open_sqlite(
    path: str, *, synchronous: str = "FULL", max_batch: int = 512
) -> AsyncIterator[SqliteStore]:
    """Open (creating and migrating if needed) the database at ``path``; its media live
    in the folder ``<path>.media`` (a temporary one for an in-memory database)."""
    scratch = None if media_folder(path) else tempfile.TemporaryDirectory(prefix="waport-media-")
    folder = media_folder(path) or Path(scratch.name if scratch else "")

    def setup() -> tuple[Conn, Conn, Conn]:
        writer = connect(path, synchronous=synchronous)
        readers: list[Conn] = []
        try:
            steps = {
                MEDIA_MOVED: lambda c: move_inline_media(c, folder),
                HOT_COLUMNS: split_documents,
                MODES_FILLED: fill_modes,
            }
            migrate(writer, steps)
            readers.extend(connect(path, synchronous=synchronous, readonly=True) for _ in range(2))
        except BaseException:
            for conn in (writer, *readers):
                conn.close()
            raise
        return writer, readers[0], readers[1]

    try:
        write_conn, read_conn, point_conn = await anyio.to_thread.run_sync(setup)
    except sqlite3.Error as exc:  # no such folder, not a database, no permission
        raise ConfigError(f"cannot open the database {path}: {exc}; {OPEN_HINT}") from exc
    writer = _Writer(write_conn, max_batch=max_batch)
    reader = _Reader(read_conn, point_conn, max_batch=max_batch)
    try:
        async with task_group() as tg:
            await tg.start(writer.run)
            await tg.start(reader.run)
            try:
                yield SqliteStore(path=path, writer=writer, reader=reader, folder=folder)
            finally:
                writer.close()
                reader.close()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, write_conn, read_conn, point_conn)
        if scratch is not None:
            scratch.cleanup()


def _close(write_conn: Conn, *readers: Conn) -> None:
    for conn in readers:
        conn.close()
    try:
        write_conn.execute("PRAGMA busy_timeout=5000")
        write_conn.execute("PRAGMA optimize")
        write_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass
    write_conn.close()
