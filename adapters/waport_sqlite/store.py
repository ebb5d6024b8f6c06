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

import asyncio
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, Generic, TypeVar

import anyio
import attrs
from anyio.abc import TaskStatus

from waport import codec, storekit
from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import PatchAction
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    OutboxState,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.status import StatusChange
from waport.domain.templates import TemplateSpec
from waport.ports import AttemptOutcome, Sent, StatusPatch, StatusResult
from waport.service.lifetime import task_group
from waport_sqlite.known import WINDOW_KINDS, Known
from waport_sqlite.schema import LATEST, MIGRATIONS

T = TypeVar("T")
Conn = sqlite3.Connection
log = logging.getLogger("waport.sqlite")
UNSENT_SQL = "('scheduled', 'pending')"
us = storekit.to_us
from_us = storekit.from_us


# ----------------------------------------------------------------------------- batching


class _Op(Generic[T]):
    __slots__ = ("effects", "error", "fn", "future", "result", "slow")

    def __init__(
        self, fn: Callable[[Conn], T], future: asyncio.Future[None], *, slow: bool = False
    ) -> None:
        self.fn = fn
        self.result: T | None = None
        self.error: BaseException | None = None
        self.effects: list[Callable[[], None]] = []  # run on the loop once committed
        self.future = future
        self.slow = slow

    def run(self, conn: Conn, writer: _Writer) -> bool:
        """Run the operation in the open transaction; False if it raised."""
        self.result, self.error = None, None
        self.effects.clear()
        writer.running = self
        try:
            self.result = self.fn(conn)
        except Exception as exc:
            self.error = exc
            self.effects.clear()
            return False
        finally:
            writer.running = None
        return True

    def answer(self) -> None:
        if not self.future.done():  # its caller may have been cancelled meanwhile
            self.future.set_result(None)

    def outcome(self) -> T:
        if self.error is not None:
            raise _as_store_error(self.error)
        return self.result  # type: ignore[return-value]


@attrs.define
class BatchStats:
    batches: int = 0
    operations: int = 0

    @property
    def mean_batch(self) -> float:
        return self.operations / self.batches if self.batches else 0.0


class _Writer:
    """The write connection: statements on the event loop, each COMMIT on a thread.

    Operations queued during one turn of the loop run together (up to ``max_batch``)
    in one ``BEGIN IMMEDIATE`` transaction, and one failure does not undo its
    neighbours (see ``_apply``); the COMMIT, whose fsync is the slow part, runs on
    the writer's thread while the loop goes on, and whatever is queued meanwhile
    forms the next batch (group commit). A caller is answered only after the COMMIT
    that holds its rows returns. If another process holds the write lock, the whole
    batch waits for it on the thread instead (busy timeout 5 s), never on the loop;
    so does a ``slow`` operation (retention and expiry purges, which may touch
    thousands of rows), in a batch of its own.

    What an operation learns of committed state for later (``Known``) it hands to
    ``after_commit``; and before each batch the writer checks whether another
    connection has written to the file since its last one, and if so forgets it all.
    """

    def __init__(self, conn: Conn, *, max_batch: int = 512) -> None:
        self.conn = conn
        self.max_batch = max_batch
        self.stats = BatchStats()
        self.known = Known()
        self.running: _Op[Any] | None = None  # the operation running now, if any
        self._data_version: int | None = None
        self._foreign = False  # seen on the thread: another connection wrote
        self._queue: deque[_Op[Any]] = deque()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="waport-sqlite-writer")
        self._busy = False  # a batch is scheduled or committing
        self._idle = asyncio.Event()
        self._stop = anyio.Event()
        self._closed = False
        conn.execute("PRAGMA busy_timeout=0")  # the loop never waits for a lock

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or closed; queued operations are finished first."""
        self._idle.set()
        await _serve_until_closed(self._stop, self.close, self._drain, task_status)

    async def _drain(self) -> None:
        await self._idle.wait()
        await anyio.to_thread.run_sync(self._pool.shutdown)

    async def call(self, fn: Callable[[Conn], T], *, slow: bool = False) -> T:
        """Run ``fn`` with the connection in the next batch (``slow``: alone, on the
        writer's thread). If the caller is cancelled while waiting, the operation still
        runs (callers that must know shield)."""
        if self._closed:
            raise WaportError(ErrorCode.INTERNAL, "the store is closed")
        op: _Op[T] = _Op(fn, asyncio.get_running_loop().create_future(), slow=slow)
        self._queue.append(op)
        if not self._busy:
            self._busy = True
            self._idle.clear()
            asyncio.get_running_loop().call_soon(self._flush)
        await op.future
        return op.outcome()

    def after_commit(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` on the loop once the running operation's transaction has
        committed; never if the operation fails or its batch is rolled back."""
        if self.running is None:
            raise RuntimeError("after_commit is for a write operation while it runs")
        self.running.effects.append(effect)

    def known_now(self) -> Known:
        """``known``, checked first against the file when no batch is under way (the
        next batch checks it anyway, so under load this costs nothing): what another
        process wrote while the writer was idle is never answered from memory."""
        if not self._busy:
            try:
                changed = self.foreign_writes(self.conn)
            except sqlite3.Error:
                changed = True
            if changed:
                self.known.forget()
        return self.known

    def foreign_writes(self, conn: Conn) -> bool:
        """In a write transaction: whether another connection has committed since this
        one's last transaction (SQLite's ``data_version``; our readers never write)."""
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        seen, self._data_version = self._data_version, version
        return seen is not None and version != seen

    def _flush(self) -> None:
        if self._foreign:
            self._foreign = False
            self.known.forget()
        if not self._queue:
            self._busy = False
            self._idle.set()
            return
        queue = self._queue
        batch = [queue.popleft()]
        job: Callable[[], None]
        if batch[0].slow:  # alone, on the thread
            job = partial(_batch_on_thread, self.conn, batch, self)
        else:
            while len(batch) < self.max_batch and len(queue) > 0 and not queue[0].slow:
                batch.append(queue.popleft())
            job = _on_loop(self.conn, batch, self)
        done = asyncio.get_running_loop().run_in_executor(self._pool, job)
        done.add_done_callback(lambda finished: self._answer(batch, finished))

    def _answer(self, batch: list[_Op[Any]], finished: asyncio.Future[None]) -> None:
        self.stats.batches += 1
        self.stats.operations += len(batch)
        failure = finished.exception()
        if failure is not None:  # the savepoints or the rollback themselves failed
            _fail(batch, f"the database failed: {failure}")
        for op in batch:
            if op.error is None:
                self._remember(op.effects)
            op.answer()
        self._flush()

    def _remember(self, effects: list[Callable[[], None]]) -> None:
        try:
            for effect in effects:
                effect()
        except Exception:  # a bug here must not leave callers unanswered
            log.exception("the SQLite store could not note a commit; it forgets instead")
            self.known.forget()

    def close(self) -> None:
        self._closed = True
        self._stop.set()


async def _serve_until_closed(
    stop: anyio.Event,
    close: Callable[[], None],
    drain: Callable[[], Awaitable[None]],
    task_status: TaskStatus[None],
) -> None:
    """A connection's service task: started, then waiting until ``stop`` is set or the
    task is cancelled; either way it closes and drains (shielded) before it ends."""
    task_status.started()
    try:
        await stop.wait()
    finally:
        close()
        with anyio.CancelScope(shield=True):
            await drain()


def _on_loop(conn: Conn, batch: list[_Op[Any]], writer: _Writer) -> Callable[[], None]:
    """Run a batch's statements now; returns what is left for the thread (the commit)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error:  # locked by another process (or worse): the thread waits
        return partial(_batch_on_thread, conn, batch, writer)
    try:
        known = writer.known
        if writer.foreign_writes(conn):
            known.forget()
        if not known.stash_empty:  # cheap while it is empty, which it nearly always is
            known.stash_empty = (
                conn.execute("SELECT 1 FROM status_stash LIMIT 1").fetchone() is None
            )
        _apply(conn, batch, writer)
    except sqlite3.Error as exc:  # the savepoints themselves failed (disk full, I/O error)
        _fail(batch, f"the database failed: {exc}")
        return partial(_rollback, conn)
    return partial(_commit, conn, batch)


def _fail(batch: list[_Op[Any]], message: str) -> None:
    for op in batch:
        op.result = None
        op.error = WaportError(ErrorCode.INTERNAL, message)
        op.effects.clear()


def _rollback(conn: Conn) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _apply(conn: Conn, batch: list[_Op[Any]], writer: _Writer) -> None:
    """Run a batch's operations in the open transaction, each succeeding or failing on
    its own. They run straight through first; only if one fails is the batch rolled
    back to its start and run again with a savepoint per operation, so that the failure
    undoes its own statements alone. (A savepoint per operation in every batch cost two
    statements per operation, about 15 µs per send under load, for the rare batch that
    needs them.)"""
    conn.execute("SAVEPOINT batch")
    if not all(op.run(conn, writer) for op in batch):
        conn.execute("ROLLBACK TO batch")
        for op in batch:
            conn.execute("SAVEPOINT op")
            if not op.run(conn, writer):
                conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
    conn.execute("RELEASE batch")


def _commit(conn: Conn, batch: list[_Op[Any]]) -> None:
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        _fail(batch, f"commit failed: {exc}")


def _batch_on_thread(conn: Conn, batch: list[_Op[Any]], writer: _Writer) -> None:
    """A whole batch on the writer's thread (another process held the write lock, or
    the operation is slow), waiting up to 5 s for the lock."""
    conn.execute("PRAGMA busy_timeout=5000")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        _fail(batch, f"the database is unavailable: {exc}")
        return
    finally:
        conn.execute("PRAGMA busy_timeout=0")
    try:
        if writer.foreign_writes(conn):
            writer._foreign = True  # forgotten on the loop, before the next batch
        writer.known.stash_empty = False  # this batch's operations look; the next one checks
        _apply(conn, batch, writer)
    except sqlite3.Error:
        _rollback(conn)
        raise  # the loop marks the batch failed
    _commit(conn, batch)


class _Reader:
    """The read connections: point reads on the event loop, scans on a thread.

    A point read (one row by its key: the hot path of every send) runs at once on a
    connection of the loop's own: it takes microseconds, where handing it to a thread
    cost a wake-up each way and, under load, waits for the interpreter lock. Scans
    (lists, counts, the dispatcher's queue) go to the reader's thread, which takes
    everything queued, runs it, and wakes the loop once per batch. If a point read
    finds the database busy it is retried on the thread (WAL readers rarely wait).
    """

    def __init__(self, conn: Conn, point_conn: Conn, *, max_batch: int = 512) -> None:
        self.conn = conn
        self.point_conn = point_conn
        self.max_batch = max_batch
        self._queue: deque[_Op[Any]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stop = anyio.Event()
        self._done: list[_Op[Any]] = []
        self._waking = False
        point_conn.execute("PRAGMA busy_timeout=0")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or closed; queued operations are finished first."""
        self._thread = threading.Thread(
            target=self._serve, args=(asyncio.get_running_loop(),), name="waport-sqlite-reader"
        )
        self._thread.start()
        thread = self._thread
        await _serve_until_closed(
            self._stop, self.close, lambda: anyio.to_thread.run_sync(thread.join), task_status
        )

    async def point(self, fn: Callable[[Conn], T]) -> T:
        """A point read, run now on the loop's connection."""
        if self._closed:
            raise WaportError(ErrorCode.INTERNAL, "the store is closed")
        try:
            return fn(self.point_conn)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _as_store_error(exc) from None
            return await self.call(fn)  # busy: the thread waits for it
        except Exception as exc:
            raise _as_store_error(exc) from None

    async def call(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` with the connection on the reader's thread."""
        op: _Op[T] = _Op(fn, asyncio.get_running_loop().create_future())
        with self._ready:
            if self._closed or self._thread is None:
                raise WaportError(ErrorCode.INTERNAL, "the store is closed")
            self._queue.append(op)
            if len(self._queue) == 1:
                self._ready.notify()
        await op.future
        return op.outcome()

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                ]
            for op in batch:
                try:
                    op.result = op.fn(self.conn)
                except Exception as exc:
                    op.error = exc
            with self._ready:
                self._done.extend(batch)
                wake, self._waking = not self._waking, True
            if wake:  # one wake-up of a busy loop answers every batch finished meanwhile
                try:
                    loop.call_soon_threadsafe(self._answer)
                except RuntimeError:  # the loop is gone: nobody is waiting any more
                    return

    def _answer(self) -> None:
        with self._ready:
            done, self._done = self._done, []
            self._waking = False
        for op in done:
            op.answer()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._stop.set()


def _as_store_error(error: BaseException) -> WaportError:
    """Ports raise only ``WaportError``; the database's own exception stays the cause."""
    if isinstance(error, WaportError):
        return error
    wrapped = WaportError(ErrorCode.INTERNAL, f"the store failed: {type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


def connect(path: str, *, synchronous: str = "FULL", readonly: bool = False) -> Conn:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'NORMAL' if synchronous.upper() == 'NORMAL' else 'FULL'}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_size_limit=67108864")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    else:
        # deleted rows (retention, expired idempotency records) are overwritten, not
        # left readable in free pages
        conn.execute("PRAGMA secure_delete=ON")
    return conn


def migrate(conn: Conn) -> int:
    """Bring the schema to the latest version; returns the version found."""
    found: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > LATEST:
        raise WaportError(
            ErrorCode.INTERNAL,
            f"the database is at schema {found}, newer than this waport ({LATEST})",
        )
    for version in range(found, LATEST):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


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


# ----------------------------------------------------------------------------- sub-stores


@attrs.define
class _Part:
    _r: _Reader
    _w: _Writer
    _docs: _Docs


class _Messages(_Part):
    async def get(self, message_id: str) -> MessageRecord | None:
        return await self._r.point(lambda c: _get_message(c, self._docs, message_id))

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None:
        return await self._r.point(
            lambda c: _by_provider(c, self._docs, provider, provider_message_id)
        )

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(
                "SELECT doc FROM messages WHERE broadcast_id = ? ORDER BY created_us, id",
                (broadcast_id,),
            )
            return [self._docs.load(doc) for (doc,) in rows]

        return await self._r.call(read)

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        kinds = WINDOW_KINDS if include_templates else WINDOW_KINDS[:1]
        if sender_id is None:  # any sender's: not kept in ``Known``

            def read_any(c: Conn) -> int | None:
                marks = ", ".join("?" * len(kinds))
                row = c.execute(
                    f"SELECT MAX(last_us) FROM windows WHERE workspace_id = ? AND contact = ? AND kind IN ({marks})",
                    (workspace_id, str(contact), *kinds),
                ).fetchone()
                return row[0] if row else None

            last = await self._r.point(read_any)
            return None if last is None else from_us(last)
        known = self._w.known_now()
        key = (workspace_id, str(contact), sender_id)
        hit, last = known.window(key, kinds)
        if not hit:

            def read(c: Conn) -> dict[str, int]:
                rows = c.execute(
                    "SELECT kind, last_us FROM windows WHERE workspace_id = ? AND contact = ? AND sender_id = ?",
                    key,
                )
                return dict(rows.fetchall())

            found = await self._r.point(read)
            known.windows_read(key, found)
            last = max((found[kind] for kind in kinds if kind in found), default=None)
        return None if last is None else from_us(last)

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        def read(c: Conn) -> int:
            row = c.execute(
                "SELECT COUNT(DISTINCT contact) FROM messages WHERE initiated = 1 AND workspace_id = ? AND created_us > ?",
                (workspace_id, us(since)),
            ).fetchone()
            return int(row[0])

        return await self._r.call(read)

    async def initiated_contacts(
        self, workspace_id: str, since: datetime, contacts: Collection[Recipient]
    ) -> set[Recipient]:
        wanted = [str(c) for c in contacts]

        def read(c: Conn) -> set[Recipient]:
            found: set[Recipient] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = c.execute(
                    f"SELECT DISTINCT contact FROM messages WHERE initiated = 1 AND workspace_id = ? AND created_us > ? AND contact IN ({marks})",
                    (workspace_id, us(since), *chunk),
                )
                found.update(parse_recipient(value) for (value,) in rows)
            return found

        return await self._r.call(read)

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        def write(c: Conn) -> list[bool]:
            results = []
            for r in records:
                if r.inbound is None:
                    raise WaportError(ErrorCode.INTERNAL, "record_inbound takes inbound messages")
                try:
                    _write_message(c, self._docs, r, insert=True)
                except sqlite3.IntegrityError:
                    results.append(False)
                    continue
                _note_window(c, self._w, r, r.created_at, "inbound")
                _enqueue(c, storekit.inbound_event(r))
                results.append(True)
            return results

        return await self._w.call(write)

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        def write(c: Conn) -> list[StatusResult]:
            results = []
            for patch in patches:
                record = _get_message(c, self._docs, patch.message_id) if patch.message_id else None
                key = patch.provider_key
                if record is None and key is not None:
                    record = _by_provider(c, self._docs, *key, "outbound")
                decision = storekit.decide_patch(record, patch)
                if decision.action is PatchAction.STASH and key is not None:
                    self._w.known.stash_empty = False  # at once: for this batch too
                    c.execute(
                        "INSERT OR IGNORE INTO status_stash (provider, provider_message_id, status, doc) VALUES (?, ?, ?, ?)",
                        (*key, patch.change.status.value, codec.dumps(patch.change)),
                    )
                elif decision.action is PatchAction.WRITE and decision.record is not None:
                    _save(c, self._w, self._docs, decision.record, decision.changes)
                results.append(decision.result)
            return results

        return await self._w.call(write)

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        def write(c: Conn) -> MessageRecord | None:
            row = c.execute(
                f"SELECT doc FROM messages WHERE id = ? AND status IN {UNSENT_SQL} AND attempting_us IS NULL",
                (message_id,),
            ).fetchone()
            if row is None:
                return None
            claimed = storekit.claim(self._docs.load(row[0]), now)
            if claimed is not None:
                _write_message(c, self._docs, claimed)
            return claimed

        return await self._w.call(write)

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        def write(c: Conn) -> MessageRecord:
            record = _get_message(c, self._docs, message_id)
            if record is None:
                raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {message_id}")
            stashed: list[StatusChange] = []
            if isinstance(outcome, Sent) and not self._w.known.stash_empty:
                rows = c.execute(
                    "DELETE FROM status_stash WHERE provider = ? AND provider_message_id = ? RETURNING doc",
                    (outcome.provider, outcome.provider_message_id),
                ).fetchall()
                stashed = [codec.loads(doc, StatusChange) for (doc,) in rows]
            record, changes = storekit.finish(record, outcome, stashed)
            return _save(c, self._w, self._docs, record, changes)

        return await self._w.call(write)

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(
                "SELECT doc FROM ("
                f" SELECT id, due_us, doc FROM messages WHERE status IN {UNSENT_SQL} AND attempting_us IS NULL"
                "  AND direction = 'outbound' AND due_us <= ?"
                " UNION"
                f" SELECT id, due_us, doc FROM messages WHERE status IN {UNSENT_SQL} AND attempting_us IS NULL"
                "  AND expires_us IS NOT NULL AND expires_us <= ?"
                ") ORDER BY due_us, id LIMIT ?",
                (us(now), us(now), limit),
            )
            return [self._docs.load(doc) for (doc,) in rows]

        return await self._r.call(read)

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(
                "SELECT doc FROM messages WHERE attempting_us IS NOT NULL AND attempting_us < ? ORDER BY attempting_us, id LIMIT ?",
                (us(started_before), limit),
            )
            return [self._docs.load(doc) for (doc,) in rows]

        return await self._r.call(read)

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        cutoff = us(before)

        def write(c: Conn) -> int:
            gone = c.execute(
                f"SELECT id, workspace_id, contact FROM messages m WHERE {_PURGEABLE}"
                " AND NOT EXISTS (SELECT 1 FROM outbox o"
                "  WHERE o.message_id = m.id AND o.state = 'pending')"
                " ORDER BY created_us LIMIT ?",
                (cutoff, limit),
            ).fetchall()
            ids = [(row[0],) for row in gone]
            c.executemany("DELETE FROM outbox WHERE message_id = ?", ids)
            c.executemany("DELETE FROM messages WHERE id = ?", ids)
            c.execute("DELETE FROM windows WHERE last_us < ?", (cutoff,))
            self._w.after_commit(self._w.known.forget)
            for contact in {row[2] for row in gone}:
                c.execute(
                    """DELETE FROM contacts WHERE recipient = ? AND NOT EXISTS
                       (SELECT 1 FROM messages m WHERE m.contact = contacts.recipient
                        AND m.workspace_id = contacts.workspace_id)""",
                    (contact,),
                )
                if (
                    c.execute("SELECT 1 FROM messages WHERE contact = ?", (contact,)).fetchone()
                    is None
                ):
                    c.execute("DELETE FROM aliases WHERE recipient = ?", (contact,))
            return len(gone)

        return await self._w.call(write, slow=True)

    async def counts(self) -> Mapping[str, int]:
        return await self._r.call(
            lambda c: dict(
                c.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall()
            )
        )


class _Idempotency(_Part):
    async def get(self, scope: str, key: str, *, now: datetime) -> IdempotencyRecord | None:
        def read(c: Conn) -> IdempotencyRecord | None:
            row = c.execute(
                "SELECT doc FROM idempotency WHERE scope = ? AND key = ? AND expires_us > ?",
                (scope, key, us(now)),
            ).fetchone()
            return codec.loads(row[0], IdempotencyRecord) if row else None

        return await self._r.point(read)

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        def write(c: Conn) -> None:
            row = c.execute(
                "SELECT doc FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is not None:
                record = attrs.evolve(codec.loads(row[0], IdempotencyRecord), response=response)
                c.execute(
                    "UPDATE idempotency SET doc = ? WHERE scope = ? AND key = ?",
                    (codec.dumps(record), scope, key),
                )

        await self._w.call(write)

    async def purge(self, now: datetime) -> int:
        return await self._w.call(
            lambda c: (
                c.execute("DELETE FROM idempotency WHERE expires_us <= ?", (us(now),)).rowcount
            ),
            slow=True,  # a day's worth of keys at once
        )


class _ApiKeys(_Part):
    async def add(self, key: ApiKey) -> None:
        def write(c: Conn) -> None:
            try:
                c.execute(
                    "INSERT INTO api_keys (id, workspace_id, created_us, doc) VALUES (?, ?, ?, ?)",
                    (key.id, key.workspace_id, us(key.created_at), codec.dumps(key)),
                )
            except sqlite3.IntegrityError:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, "an API key with this id exists", "id"
                ) from None

        await self._w.call(write)

    async def get(self, key_id: str) -> ApiKey | None:
        def read(c: Conn) -> ApiKey | None:
            row = c.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            return codec.loads(row[0], ApiKey) if row else None

        return await self._r.point(read)

    async def list(self, workspace_id: str | None = None) -> Sequence[ApiKey]:
        def read(c: Conn) -> list[ApiKey]:
            if workspace_id is None:
                rows = c.execute("SELECT doc FROM api_keys ORDER BY created_us, id")
            else:
                rows = c.execute(
                    "SELECT doc FROM api_keys WHERE workspace_id = ? ORDER BY created_us, id",
                    (workspace_id,),
                )
            return [codec.loads(doc, ApiKey) for (doc,) in rows]

        return await self._r.call(read)

    async def revoke(self, key_id: str, *, at: datetime) -> bool:
        def write(c: Conn) -> bool:
            row = c.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            if row is None:
                return False
            key = codec.loads(row[0], ApiKey)
            if key.revoked_at is not None:
                return False
            c.execute(
                "UPDATE api_keys SET doc = ? WHERE id = ?",
                (codec.dumps(attrs.evolve(key, revoked_at=at)), key_id),
            )
            return True

        return await self._w.call(write)


class _Workspaces(_Part):
    async def put(self, workspace: Workspace) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO workspaces (id, balance, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET balance = excluded.balance, doc = excluded.doc",
                (workspace.id, workspace.balance, codec.dumps(workspace)),
            )
        )

    async def get(self, workspace_id: str) -> Workspace | None:
        def read(c: Conn) -> Workspace | None:
            row = c.execute(
                "SELECT doc, balance FROM workspaces WHERE id = ?", (workspace_id,)
            ).fetchone()
            return attrs.evolve(codec.loads(row[0], Workspace), balance=row[1]) if row else None

        return await self._r.point(read)

    async def list(self) -> Sequence[Workspace]:
        def read(c: Conn) -> list[Workspace]:
            rows = c.execute("SELECT doc, balance FROM workspaces ORDER BY id")
            return [
                attrs.evolve(codec.loads(doc, Workspace), balance=balance) for doc, balance in rows
            ]

        return await self._r.call(read)

    async def put_sender(self, sender: Sender) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO senders (id, workspace_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, doc = excluded.doc",
                (sender.id, sender.workspace_id, codec.dumps(sender)),
            )
        )

    async def get_sender(self, sender_id: str) -> Sender | None:
        def read(c: Conn) -> Sender | None:
            row = c.execute("SELECT doc FROM senders WHERE id = ?", (sender_id,)).fetchone()
            return codec.loads(row[0], Sender) if row else None

        return await self._r.point(read)

    async def senders(self, workspace_id: str) -> Sequence[Sender]:
        def read(c: Conn) -> list[Sender]:
            rows = c.execute(
                "SELECT doc FROM senders WHERE workspace_id = ? ORDER BY id", (workspace_id,)
            )
            return [codec.loads(doc, Sender) for (doc,) in rows]

        return await self._r.call(read)

    async def adjust_balance(self, workspace_id: str, delta: int) -> int | None:
        def write(c: Conn) -> int | None:
            row = c.execute(
                "UPDATE workspaces SET balance = balance + ? WHERE id = ? AND balance IS NOT NULL AND balance + ? >= 0 RETURNING balance",
                (delta, workspace_id, delta),
            ).fetchone()
            return int(row[0]) if row else None

        return await self._w.call(write)


class _Contacts(_Part):
    async def upsert(self, contact: Contact) -> Contact:
        return await self._w.call(lambda c: _upsert_contact(c, contact))

    async def get(self, workspace_id: str, recipient: Recipient) -> Contact | None:
        def read(c: Conn) -> Contact | None:
            row = c.execute(
                "SELECT doc FROM contacts WHERE workspace_id = ? AND recipient = ?",
                (workspace_id, str(recipient)),
            ).fetchone()
            return codec.loads(row[0], Contact) if row else None

        return await self._r.point(read)

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO aliases (alias, recipient) VALUES (?, ?) ON CONFLICT (alias) DO UPDATE SET recipient = excluded.recipient",
                (alias, str(recipient)),
            )
        )

    async def resolve_alias(self, alias: str) -> Recipient | None:
        def read(c: Conn) -> Recipient | None:
            row = c.execute("SELECT recipient FROM aliases WHERE alias = ?", (alias,)).fetchone()
            return parse_recipient(row[0]) if row else None

        return await self._r.point(read)


def _upsert_contact(c: Conn, contact: Contact) -> Contact:
    row = c.execute(
        "SELECT doc FROM contacts WHERE workspace_id = ? AND recipient = ?",
        (contact.workspace_id, str(contact.recipient)),
    ).fetchone()
    merged = storekit.merge_contact(codec.loads(row[0], Contact) if row else None, contact)
    c.execute(
        "INSERT INTO contacts (workspace_id, recipient, doc) VALUES (?, ?, ?)"
        " ON CONFLICT (workspace_id, recipient) DO UPDATE SET doc = excluded.doc",
        (merged.workspace_id, str(merged.recipient), codec.dumps(merged)),
    )
    return merged


class _Templates(_Part):
    async def replace(self, sender_id: str, specs: Sequence[TemplateSpec]) -> None:
        def write(c: Conn) -> None:
            c.execute("DELETE FROM templates WHERE sender_id = ?", (sender_id,))
            for spec in specs:
                owned = attrs.evolve(spec, sender_id=sender_id)
                c.execute(
                    "INSERT OR REPLACE INTO templates (sender_id, name, language, doc) VALUES (?, ?, ?, ?)",
                    (sender_id, owned.name, owned.language, codec.dumps(owned)),
                )

        await self._w.call(write)

    async def put(self, spec: TemplateSpec) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO templates (sender_id, name, language, doc) VALUES (?, ?, ?, ?)",
                (spec.sender_id, spec.name, spec.language, codec.dumps(spec)),
            )
        )

    async def get(self, sender_id: str, name: str, language: str) -> TemplateSpec | None:
        def read(c: Conn) -> TemplateSpec | None:
            row = c.execute(
                "SELECT doc FROM templates WHERE sender_id = ? AND name = ? AND language = ?",
                (sender_id, name, language),
            ).fetchone()
            return codec.loads(row[0], TemplateSpec) if row else None

        return await self._r.point(read)

    async def list(self, sender_ids: Collection[str]) -> Sequence[TemplateSpec]:
        wanted = sorted(set(sender_ids))

        def read(c: Conn) -> list[TemplateSpec]:
            if not wanted:
                return []
            marks = ",".join("?" * len(wanted))
            rows = c.execute(
                f"SELECT doc FROM templates WHERE sender_id IN ({marks}) ORDER BY sender_id, name, language",
                wanted,
            )
            return [codec.loads(doc, TemplateSpec) for (doc,) in rows]

        return await self._r.call(read)


class _Outbox(_Part):
    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> Sequence[OutboxEvent]:
        def write(c: Conn) -> list[OutboxEvent]:
            rows = c.execute(
                f"SELECT o.id, {', '.join('o.' + col for col in _EVENT_COLUMNS.split(', '))} FROM outbox o"
                " WHERE o.state = 'pending' AND o.due_us <= ? AND (o.leased_us IS NULL OR o.leased_us <= ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.message_id = o.message_id AND p.state = 'pending'"
                "  AND (p.seq, p.created_us, p.id) < (o.seq, o.created_us, o.id))"
                " ORDER BY o.due_us, o.id LIMIT ?",
                (us(now), us(now), limit),
            ).fetchall()
            leased_until = now + lease
            events = []
            for row in rows:
                c.execute(
                    "UPDATE outbox SET leased_us = ? WHERE id = ?", (us(leased_until), row[0])
                )
                events.append(attrs.evolve(_load_event(row[1:]), leased_until=leased_until))
            return events

        return await self._w.call(write)

    async def delivered(self, event_id: str, *, at: datetime) -> None:
        await self._w.call(
            lambda c: c.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, leased_us = NULL WHERE id = ?",
                (event_id,),
            )
        )

    async def failed(
        self, event_id: str, *, at: datetime, due_at: datetime | None, error: str
    ) -> None:
        params: tuple[object, ...]
        if due_at is None:
            sql, params = (
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, leased_us = NULL, last_error = ? WHERE id = ?",
                (error, event_id),
            )
        else:
            sql, params = (
                "UPDATE outbox SET attempts = attempts + 1, leased_us = NULL, last_error = ?, due_us = ? WHERE id = ?",
                (error, us(due_at), event_id),
            )
        await self._w.call(lambda c: c.execute(sql, params))

    async def kill_url(self, url: str, *, error: str) -> int:
        return await self._w.call(
            lambda c: (
                c.execute(
                    "UPDATE outbox SET state = 'dead', last_error = ?, leased_us = NULL WHERE url = ? AND state = 'pending'",
                    (error, url),
                ).rowcount
            )
        )

    async def get(self, event_id: str) -> OutboxEvent | None:
        def read(c: Conn) -> OutboxEvent | None:
            row = c.execute(
                f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE id = ?", (event_id,)
            ).fetchone()
            return _load_event(row) if row else None

        return await self._r.point(read)

    async def for_message(self, message_id: str) -> Sequence[OutboxEvent]:
        def read(c: Conn) -> list[OutboxEvent]:
            rows = c.execute(
                f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE message_id = ? ORDER BY seq, id",
                (message_id,),
            )
            return [_load_event(row) for row in rows]

        return await self._r.call(read)

    async def pending_count(self) -> int:
        return await self._r.call(
            lambda c: int(
                c.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
            )
        )


# ----------------------------------------------------------------------------- transaction


@attrs.define
class _Transaction(storekit.PendingWrites):
    _docs: _Docs = attrs.field(kw_only=True)

    def apply(self, c: Conn) -> None:
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
            try:
                _write_message(c, self._docs, record, insert=True)
            except sqlite3.IntegrityError as exc:
                raise WaportError(
                    ErrorCode.INTERNAL, f"a message could not be stored: {exc}"
                ) from None
        for contact in self.contacts:
            _upsert_contact(c, contact)


# ----------------------------------------------------------------------------- the store


@attrs.define
class SqliteStore:
    """All of waport's state in one SQLite file. Open it with ``open_sqlite(path)``."""

    path: str
    writer: _Writer
    reader: _Reader
    messages: _Messages = attrs.field(init=False)
    idempotency: _Idempotency = attrs.field(init=False)
    rate_limits: storekit.LocalRateLimits = attrs.field(init=False)
    api_keys: _ApiKeys = attrs.field(init=False)
    workspaces: _Workspaces = attrs.field(init=False)
    contacts: _Contacts = attrs.field(init=False)
    templates: _Templates = attrs.field(init=False)
    outbox: _Outbox = attrs.field(init=False)

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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Transaction]:
        tx = _Transaction(docs=self._docs)
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
    """Open (creating and migrating if needed) the database at ``path``."""

    def setup() -> tuple[Conn, Conn, Conn]:
        writer = connect(path, synchronous=synchronous)
        readers: list[Conn] = []
        try:
            migrate(writer)
            readers.extend(connect(path, synchronous=synchronous, readonly=True) for _ in range(2))
        except BaseException:
            for conn in (writer, *readers):
                conn.close()
            raise
        return writer, readers[0], readers[1]

    try:
        write_conn, read_conn, point_conn = await anyio.to_thread.run_sync(setup)
    except sqlite3.Error as exc:  # no such folder, not a database, no permission
        raise WaportError(ErrorCode.INTERNAL, f"cannot open the database {path}: {exc}") from exc
    writer = _Writer(write_conn, max_batch=max_batch)
    reader = _Reader(read_conn, point_conn, max_batch=max_batch)
    try:
        async with task_group() as tg:
            await tg.start(writer.run)
            await tg.start(reader.run)
            try:
                yield SqliteStore(path=path, writer=writer, reader=reader)
            finally:
                writer.close()
                reader.close()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, write_conn, read_conn, point_conn)


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
