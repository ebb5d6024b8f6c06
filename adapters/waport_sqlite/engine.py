"""The SQLite engine under the store: connections, group-committing writer, batched reader, migrations.

See ``waport_sqlite.store`` for why it is built this way."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Generic, TypeVar

import anyio
import attrs
from anyio.abc import TaskStatus

from waport import storekit
from waport.domain.errors import ErrorCode, WaportError
from waport_sqlite import loops
from waport_sqlite.known import Known
from waport_sqlite.schema import LATEST, MIGRATIONS

T = TypeVar("T")
Conn = sqlite3.Connection
log = logging.getLogger("waport.sqlite")
us = storekit.to_us
from_us = storekit.from_us


# ----------------------------------------------------------------------------- batching


class _Op(Generic[T]):
    __slots__ = ("effects", "error", "fn", "result", "slow", "waiter")

    def __init__(
        self, fn: Callable[[Conn], T], waiter: loops.Waiter, *, slow: bool = False
    ) -> None:
        self.fn = fn
        self.result: T | None = None
        self.error: BaseException | None = None
        self.effects: list[Callable[[], None]] = []  # run on the loop once committed
        self.waiter = waiter
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
        self.waiter.set()

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
        self._idle: loops.Waiter | None = None  # set when the writer is next idle
        self._loop: loops.Loop | None = None
        self._stop = anyio.Event()
        self._closed = False
        conn.execute("PRAGMA busy_timeout=0")  # the loop never waits for a lock

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or closed; queued operations are finished first."""
        self._loop = loops.current()
        await _serve_until_closed(self._stop, self.close, self._drain, task_status)

    async def _drain(self) -> None:
        if self._busy and self._loop is not None:
            self._idle = self._loop.waiter()
            await self._idle.wait()
        await anyio.to_thread.run_sync(self._pool.shutdown)

    async def call(self, fn: Callable[[Conn], T], *, slow: bool = False) -> T:
        """Run ``fn`` with the connection in the next batch (``slow``: alone, on the
        writer's thread). If the caller is cancelled while waiting, the operation still
        runs (callers that must know shield)."""
        loop = self._loop
        if self._closed or loop is None:
            raise WaportError(ErrorCode.INTERNAL, "the store is closed")
        op: _Op[T] = _Op(fn, loop.waiter(), slow=slow)
        self._queue.append(op)
        if not self._busy:
            self._busy = True
            loop.call_soon(self._flush)
        await op.waiter.wait()
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
            if self._idle is not None:
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
        if self._loop is None:  # cannot be: only a running writer queues a batch
            raise RuntimeError("the SQLite writer is not running")
        self._loop.in_thread(self._pool, job, lambda failure: self._answer(batch, failure))

    def _answer(self, batch: list[_Op[Any]], failure: BaseException | None) -> None:
        self.stats.batches += 1
        self.stats.operations += len(batch)
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
            # but the rows this process wrote are read by operations only, and by this
            # batch's next: forgotten here, where no operation runs beside it
            writer.known.forget_messages()
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
        self._loop: loops.Loop | None = None
        self._done: list[_Op[Any]] = []
        self._waking = False
        point_conn.execute("PRAGMA busy_timeout=0")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or closed; queued operations are finished first."""
        self._loop = loops.current()
        self._thread = threading.Thread(
            target=self._serve, args=(self._loop,), name="waport-sqlite-reader"
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
        loop = self._loop
        if loop is None:
            raise WaportError(ErrorCode.INTERNAL, "the store is closed")
        op: _Op[T] = _Op(fn, loop.waiter())
        with self._ready:
            if self._closed or self._thread is None:
                raise WaportError(ErrorCode.INTERNAL, "the store is closed")
            self._queue.append(op)
            if len(self._queue) == 1:
                self._ready.notify()
        await op.waiter.wait()
        return op.outcome()

    def _serve(self, loop: loops.Loop) -> None:
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


def _private_file(path: str) -> None:
    """Create the database file owner-only (0600) before SQLite does: it holds message
    bodies, numbers and the webhook signing secret, and SQLite gives its WAL and
    shared-memory files the database file's permissions. A file created before by
    another waport is narrowed to 0600 too."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # no such folder, a directory, no permission: SQLite says which
        return
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, 0o600)


def connect(path: str, *, synchronous: str = "FULL", readonly: bool = False) -> Conn:
    if not readonly:
        _private_file(path)
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


def migrate(conn: Conn, steps: Mapping[int, Callable[[Conn], object]] | None = None) -> int:
    """Bring the schema to the latest version; returns the version found. ``steps[v]``
    runs after the SQL of version ``v``, in its transaction (data moved, not only DDL)."""
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
            step = (steps or {}).get(version + 1)
            if step is not None:
                step(conn)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found
