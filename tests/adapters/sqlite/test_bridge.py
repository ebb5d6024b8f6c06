"""The SQLite bridge: group commit on the writer, point reads on the loop, and a loop
that never waits for another process's write lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from waport import ErrorCode, WaportError
from waport_sqlite import engine as store_module
from waport_sqlite import open_sqlite

pytestmark = pytest.mark.anyio


def insert(value: int) -> object:
    def write(c: sqlite3.Connection) -> int:
        c.execute("INSERT INTO t (x) VALUES (?)", (value,))
        return value

    return write


def values(c: sqlite3.Connection) -> list[int]:
    return [row[0] for row in c.execute("SELECT x FROM t ORDER BY x")]


async def test_writes_of_one_loop_turn_share_a_commit_and_fail_alone(tmp_path: Path) -> None:
    async with open_sqlite(str(tmp_path / "w.db")) as store:
        await store.writer.call(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        before = store.writer.stats.batches
        results: dict[int, object] = {}

        async def run(index: int, value: int) -> None:
            try:
                results[index] = await store.writer.call(insert(value))  # type: ignore[arg-type]
            except WaportError as err:
                results[index] = err

        async with anyio.create_task_group() as tg:
            for index, value in enumerate([1, 1, 2]):  # the second is a duplicate key
                tg.start_soon(run, index, value)

        assert store.writer.stats.batches == before + 1
        assert results[2] == 2
        # the two inserts of 1 (asyncio runs them in order; trio may not): one wins
        (failed,) = [r for r in (results[0], results[1]) if r != 1]
        assert 1 in (results[0], results[1])
        assert isinstance(failed, WaportError)
        assert failed.code == ErrorCode.INTERNAL
        assert "UNIQUE" in str(failed)
        assert await store.reader.call(values) == [1, 2]


async def test_a_slow_write_runs_alone_on_the_thread_between_fast_batches(
    tmp_path: Path,
) -> None:
    async with open_sqlite(str(tmp_path / "w.db")) as store:
        await store.writer.call(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        loop_thread = threading.get_ident()
        ran_on: dict[str, int] = {}
        order: list[str] = []

        def note(name: str, value: int) -> object:
            def write(c: sqlite3.Connection) -> int:
                ran_on[name] = threading.get_ident()
                order.append(name)
                c.execute("INSERT INTO t (x) VALUES (?)", (value,))
                return value

            return write

        before = store.writer.stats.batches
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.writer.call, note("fast1", 1))
            tg.start_soon(partial(store.writer.call, note("slow", 2), slow=True))
            tg.start_soon(store.writer.call, note("fast2", 3))
        assert ran_on["fast1"] == ran_on["fast2"] == loop_thread
        assert ran_on["slow"] != loop_thread
        # fast, slow alone, fast (asyncio's order); trio may start the three in another
        # order, and two fasts that arrive together share a batch
        between = order.index("slow") == 1
        assert store.writer.stats.batches == before + (3 if between else 2)
        assert await store.reader.call(values) == [1, 2, 3]


async def test_a_write_waits_for_another_process_lock_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    async with open_sqlite(str(path)) as store:
        await store.writer.call(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        released = threading.Event()

        def release_later() -> None:
            time.sleep(0.5)
            other.execute("COMMIT")
            released.set()

        threading.Thread(target=release_later).start()
        gaps: list[float] = []
        written = anyio.Event()

        async def tick() -> None:
            last = time.monotonic()
            while not written.is_set():
                await anyio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        async def write() -> None:
            assert await store.writer.call(insert(7)) == 7  # type: ignore[arg-type]
            assert released.is_set()  # it could only commit once the lock was free
            written.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(tick)
            tg.start_soon(write)
        other.close()
        assert await store.reader.call(values) == [7]
        assert max(gaps) < 0.25  # the loop went on while the write waited
        # and the writer is back on its fast path afterwards
        assert await store.writer.call(insert(8)) == 8  # type: ignore[arg-type]


async def test_a_point_read_that_finds_the_database_busy_is_retried_on_the_thread(
    tmp_path: Path,
) -> None:
    async with open_sqlite(str(tmp_path / "w.db")) as store:
        seen: list[str] = []

        def read(c: sqlite3.Connection) -> str:
            if c is store.reader.point_conn:
                seen.append("loop")
                busy = sqlite3.OperationalError("database is locked")
                busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
                raise busy
            seen.append("thread")
            return str(c.execute("SELECT 'answered'").fetchone()[0])

        assert await store.reader.point(read) == "answered"
        assert seen == ["loop", "thread"]

        def broken(c: sqlite3.Connection) -> None:
            c.execute("SELECT * FROM no_such_table")

        with pytest.raises(WaportError) as caught:  # other errors are not retried
            await store.reader.point(broken)
        assert caught.value.code == ErrorCode.INTERNAL
        assert "no_such_table" in str(caught.value)


@pytest.mark.parametrize("slow", [False, True])
async def test_a_failing_savepoint_fails_its_batch_and_the_next_one_goes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: bool
) -> None:
    async with open_sqlite(str(tmp_path / "w.db")) as store:
        await store.writer.call(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        real_apply = store_module._apply

        def disk_full(conn: sqlite3.Connection, batch: list[Any], writer: Any) -> None:
            conn.execute("INSERT INTO t (x) VALUES (99)")  # undone with the batch
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(store_module, "_apply", disk_full)
        with pytest.raises(WaportError) as caught:
            await store.writer.call(insert(1), slow=slow)  # type: ignore[arg-type]
        assert caught.value.code == ErrorCode.INTERNAL
        assert "disk is full" in str(caught.value)
        monkeypatch.setattr(store_module, "_apply", real_apply)
        assert await store.writer.call(insert(2), slow=slow) == 2  # type: ignore[arg-type]
        assert await store.reader.call(values) == [2]
