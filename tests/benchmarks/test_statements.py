"""``benchmarks.library --statements``: the SQLite store's statements timed by kind."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from benchmarks.statements import Statements

from waport.domain.recipients import parse_recipient
from waport_sqlite import open_sqlite


def test_each_kind_of_statement_is_counted_and_timed_per_message() -> None:
    statements = Statements()

    store = SimpleNamespace(  # the two loop-side connections of a SQLite store
        writer=SimpleNamespace(conn=sqlite3.connect(":memory:")),
        reader=SimpleNamespace(point_conn=sqlite3.connect(":memory:")),
    )
    statements.watch(store)
    store.writer.conn.execute("CREATE TABLE t (x INTEGER)")
    for n in range(4):
        store.writer.conn.execute("INSERT INTO t (x) VALUES (?)", (n,))
    assert store.reader.point_conn.execute("SELECT 1").fetchone() == (1,)
    assert store.writer.conn.total_changes == 4  # everything else passes through

    figures = statements.per_message(2)
    assert figures["INSERT INTO t (x)"]["per_message"] == 2.0
    assert figures["SELECT 1"]["per_message"] == 0.5
    assert set(figures) == {"CREATE TABLE t (x", "INSERT INTO t (x)", "SELECT 1"}
    assert all(kind["us"] >= 0 and kind["cpu_us"] >= 0 for kind in figures.values())
    assert statements.spent["INSERT INTO t (x)"] > 0
    assert statements.cpu["INSERT INTO t (x)"] > 0  # the thread's CPU, beside the wall time


async def test_a_real_store_is_watched_on_both_of_its_loop_connections(tmp_path: Path) -> None:
    statements = Statements()
    async with open_sqlite(str(tmp_path / "w.db")) as store:
        statements.watch(store)
        assert await store.contacts.get("ws1", parse_recipient("+255700000001")) is None
        assert await store.idempotency.purge(datetime.now(UTC)) == 0  # through the writer
    kinds = set(statements.per_message(1))
    assert "SELECT doc FROM contacts" in kinds  # the point read, on the loop's reader
    assert any(kind.startswith("DELETE FROM idempotency") for kind in kinds)
    assert "COMMIT" in kinds  # timed on the writer's thread too
