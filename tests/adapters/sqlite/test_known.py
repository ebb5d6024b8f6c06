"""What the SQLite store remembers of its own commits (windows, an empty status stash,
the rows it wrote last), and how it forgets: on a failed operation, and when another connection writes."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given

from waport import WaportError
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus, StatusChange
from waport.ports import Sent, StatusPatch
from waport.storekit import to_us
from waport.testing import builders
from waport.testing.contracts.support import (
    MODEL_SETTINGS,
    T0,
    WindowStep,
    window_steps,
    windows_agree_with_a_model,
)
from waport_sqlite import SqliteStore, open_sqlite
from waport_sqlite.known import Known
from waport_sqlite.rows import _update_message

pytestmark = pytest.mark.anyio
PHONE = Recipient("phone", "255712345678")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with open_sqlite(str(tmp_path / "k.db")) as opened:
        yield opened


def count_point_reads(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads = [0]
    real = store.reader.point

    async def point(fn: Any) -> Any:
        reads[0] += 1
        return await real(fn)

    monkeypatch.setattr(store.reader, "point", point)
    return reads


@MODEL_SETTINGS
@given(window_steps())
async def test_windows_agree_with_a_model_when_only_two_are_kept(
    steps: list[WindowStep],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with open_sqlite(str(Path(folder) / "w.db")) as store:
            store.writer.known.limit = 2
            await windows_agree_with_a_model(store, steps)


async def test_a_window_this_process_wrote_is_answered_without_a_read(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = T0.replace(hour=9)
    await store.messages.record_inbound([builders.inbound("in1", at=at, provider_message_id="w1")])
    reads = count_point_reads(store, monkeypatch)
    assert await store.messages.last_inbound("ws1", PHONE, "s1") == at
    assert reads == [0]
    # counting template sends needs the other kind, read once and then known
    assert await store.messages.last_inbound("ws1", PHONE, "s1", include_templates=True) == at
    assert await store.messages.last_inbound("ws1", PHONE, "s1", include_templates=True) == at
    assert reads == [1]


async def test_another_connections_write_is_noticed(store: SqliteStore, tmp_path: Path) -> None:
    """By the next read while the writer is idle, by the next batch otherwise."""
    at = T0.replace(hour=9)
    await store.messages.record_inbound([builders.inbound("in1", at=at, provider_message_id="w1")])
    assert await store.messages.last_inbound("ws1", PHONE, "s1") == at
    later = at.replace(hour=10)
    other = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    other.execute(
        "UPDATE windows SET last_us = ? WHERE contact = ? AND sender_id = 's1'",
        (to_us(later), str(PHONE)),
    )
    assert await store.messages.last_inbound("ws1", PHONE, "s1") == later  # idle: read
    assert store.writer.known.window(("ws1", str(PHONE), "s1"), ("inbound",)) == (
        True,
        to_us(later),
    )
    latest = later.replace(hour=11)
    other.execute(
        "UPDATE windows SET last_us = ? WHERE contact = ? AND sender_id = 's1'",
        (to_us(latest), str(PHONE)),
    )
    other.close()
    # a batch notices before it runs, whatever it writes
    await store.messages.record_inbound(
        [builders.inbound("in2", at=at, provider_message_id="w2", contact="255700000009")]
    )
    assert store.writer.known.window(("ws1", str(PHONE), "s1"), ("inbound",)) == (False, None)
    assert await store.messages.last_inbound("ws1", PHONE, "s1") == latest


async def test_effects_run_after_the_commit_and_only_for_operations_that_succeed(
    store: SqliteStore,
) -> None:
    writer = store.writer
    await writer.call(lambda c: c.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    ran: list[tuple[int, int]] = []

    def insert(value: int) -> Any:
        def write(c: sqlite3.Connection) -> int:
            c.execute("INSERT INTO t (x) VALUES (?)", (value,))
            # the effect sees the row committed: a fresh connection can read it
            writer.after_commit(lambda: ran.append((value, committed(value))))
            return value

        return write

    def committed(value: int) -> int:
        with sqlite3.connect(store.path) as fresh:
            return int(fresh.execute("SELECT COUNT(*) FROM t WHERE x = ?", (value,)).fetchone()[0])

    outcomes: dict[int, object] = {}

    async def run(index: int, value: int) -> None:
        try:
            outcomes[index] = await writer.call(insert(value))
        except WaportError as err:
            outcomes[index] = err

    before = writer.stats.batches
    async with anyio.create_task_group() as tg:
        for index, value in enumerate([1, 1, 2]):  # the second fails: a duplicate key
            tg.start_soon(run, index, value)
    assert writer.stats.batches == before + 1
    assert outcomes[2] == 2
    # the two inserts of 1 (asyncio runs them in order; trio may not): one wins
    (failed,) = [o for o in (outcomes[0], outcomes[1]) if o != 1]
    assert 1 in (outcomes[0], outcomes[1])
    assert isinstance(failed, WaportError)
    assert sorted(ran) == [(1, 1), (2, 1)]  # once each, after the commit, none for the failure

    with pytest.raises(RuntimeError):
        writer.after_commit(lambda: None)  # outside an operation


async def test_the_stash_is_looked_at_only_while_it_may_hold_something(
    store: SqliteStore,
) -> None:
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound(f"m{i}", at=T0) for i in range(2)])
    await store.messages.claim("m0", now=T0)
    await store.messages.finish("m0", Sent(provider="p", provider_message_id="p0", at=T0))
    assert store.writer.known.stash_empty
    early = StatusPatch(
        provider="p",
        provider_message_id="p1",
        change=StatusChange(status=MessageStatus.DELIVERED, at=T0),
    )
    await store.messages.apply_statuses([early])
    assert not store.writer.known.stash_empty
    await store.messages.claim("m1", now=T0)
    record = await store.messages.finish("m1", Sent(provider="p", provider_message_id="p1", at=T0))
    assert record.status == MessageStatus.DELIVERED
    await store.writer.call(lambda c: None)  # the next batch looks again: empty
    assert store.writer.known.stash_empty


def test_a_full_window_memory_drops_its_older_half() -> None:
    known = Known(limit=4)
    for n in range(4):
        known.window_written(("ws", f"c{n}", "s"), "inbound", n)
    known.window_written(("ws", "c4", "s"), "inbound", 4)
    assert [known.window(("ws", f"c{n}", "s"), ("inbound",)) for n in range(5)] == [
        (False, None),
        (False, None),
        (True, 2),
        (True, 3),
        (True, 4),
    ]
    known.windows_read(("ws", "c2", "s"), {"inbound": 1, "template": 7})
    assert known.window(("ws", "c2", "s"), ("inbound", "template")) == (True, 7)
    known.forget()
    assert known.window(("ws", "c4", "s"), ("inbound",)) == (False, None)


async def test_an_effect_that_fails_forgets_everything_and_still_answers(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.messages.record_inbound([builders.inbound("in1", at=T0, provider_message_id="w1")])
    assert store.writer.known.window(("ws1", str(PHONE), "s1"), ("inbound",)) == (
        True,
        to_us(T0),
    )

    def write(c: sqlite3.Connection) -> str:
        store.writer.after_commit(lambda: 1 / 0)  # type: ignore[func-returns-value]
        return "written"

    assert await store.writer.call(write) == "written"
    assert store.writer.known.window(("ws1", str(PHONE), "s1"), ("inbound",)) == (False, None)
    assert "could not note a commit" in caplog.text


async def test_a_contact_without_a_window_is_not_kept(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template to a new number reads its (absent) window; nothing is kept for it, so a
    campaign to many new numbers does not fill the memory."""
    reads = count_point_reads(store, monkeypatch)
    for _ in range(2):
        assert await store.messages.last_inbound("ws1", PHONE, "s1") is None
    assert reads == [2]
    assert store.writer.known.window(("ws1", str(PHONE), "s1"), ("inbound",)) == (False, None)


def test_a_template_window_updates_an_entry_but_starts_none() -> None:
    known = Known()
    known.window_written(("ws", "new", "s"), "template", 5)
    assert known.window(("ws", "new", "s"), ("inbound", "template")) == (False, None)
    known.window_written(("ws", "c", "s"), "inbound", 3)
    known.window_written(("ws", "c", "s"), "template", 5)
    assert known.window(("ws", "c", "s"), ("inbound",)) == (True, 3)
    assert known.window(("ws", "c", "s"), ("inbound", "template")) == (True, 5)


def trace(store: SqliteStore) -> list[str]:
    """The statements the writer's connection runs from now on."""
    ran: list[str] = []
    store.writer.conn.set_trace_callback(ran.append)
    return ran


async def test_an_outcome_is_written_without_reading_back_the_row_this_process_wrote(
    store: SqliteStore,
) -> None:
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound("m0", at=T0)])
    claimed = await store.messages.claim("m0", now=T0)
    assert claimed is not None
    assert store.writer.known.message("m0") == claimed
    ran = trace(store)
    record = await store.messages.finish("m0", Sent(provider="p", provider_message_id="p0", at=T0))
    assert not [sql for sql in ran if sql.startswith("SELECT")]
    assert record.status == MessageStatus.SENT
    assert record.history[: len(claimed.history)] == claimed.history  # appended to
    assert record.history[-1].status == MessageStatus.SENT
    assert await store.messages.get("m0") == record == store.writer.known.message("m0")


async def test_a_row_another_connection_changed_is_read_again(
    store: SqliteStore, tmp_path: Path
) -> None:
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound("m0", at=T0)])
    claimed = await store.messages.claim("m0", now=T0)
    assert claimed is not None
    assert claimed.attempts != 7
    other = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    other.execute("UPDATE messages SET attempts = 7 WHERE id = 'm0'")
    other.close()
    ran = trace(store)
    record = await store.messages.finish("m0", Sent(provider="p", provider_message_id="p0", at=T0))
    assert [sql for sql in ran if sql.startswith("SELECT status")]  # read, not remembered
    assert record.attempts == 7
    stored = await store.messages.get("m0")
    assert stored is not None
    assert stored.attempts == 7


async def test_a_failed_write_leaves_no_entry_for_the_row_it_changed(store: SqliteStore) -> None:
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound("m0", at=T0)])
    before = store.writer.known.message("m0")
    assert before is not None
    changed = attrs.evolve(before, attempts=5)

    def write(c: sqlite3.Connection) -> None:
        _update_message(c, store.writer, store._docs, before, changed)
        raise ValueError("after the update")

    with pytest.raises(WaportError):
        await store.writer.call(write)
    assert store.writer.known.message("m0") is None  # taken out, never put back
    assert await store.messages.get("m0") == before  # the update was rolled back


def test_the_messages_kept_are_bounded_and_forgotten_with_the_rest() -> None:
    known = Known(messages_limit=2)
    records = [builders.outbound(f"m{n}", at=T0) for n in range(3)]
    for record in records:
        known.message_written(record)
    assert [known.message(f"m{n}") for n in range(3)] == [None, records[1], records[2]]
    known.message_writing("m1")
    assert known.message("m1") is None
    known.forget()
    assert known.message("m2") is None
