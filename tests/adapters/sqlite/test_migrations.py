"""Schema migrations: a database at every earlier version opens with the current code."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from waport import ErrorCode, WaportError, codec
from waport.domain.errors import ConfigError
from waport.testing import builders
from waport_sqlite import open_sqlite
from waport_sqlite.engine import us
from waport_sqlite.schema import LATEST, MIGRATIONS

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_at(path: Path, version: int) -> None:
    """A database as a waport of schema ``version`` left it, with one message in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:version]:
        conn.executescript(migration)
    conn.execute(f"PRAGMA user_version={version}")
    if version >= 1:
        record = builders.outbound("msg_old", at=T0)
        conn.execute(
            "INSERT INTO messages (id, workspace_id, sender_id, contact, direction, status, created_us, due_us, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "msg_old",
                "ws1",
                "s1",
                "255712345678",
                "outbound",
                "pending",
                us(T0),
                us(T0),
                codec.dumps(record),
            ),
        )
    conn.close()


@pytest.mark.parametrize("version", range(LATEST + 1))
async def test_every_earlier_version_opens(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    build_at(path, version)
    async with open_sqlite(str(path)) as store:
        assert await store.integrity_check() == "ok"
        if version >= 1:
            record = await store.messages.get("msg_old")
            assert record is not None
            assert record.id == "msg_old"
        assert [m.id for m in await store.messages.due(T0, limit=10)] == (
            ["msg_old"] if version >= 1 else []
        )
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={LATEST + 1}")
    conn.close()
    with pytest.raises(WaportError) as info:
        async with open_sqlite(str(path)):
            pass
    assert info.value.code == ErrorCode.INTERNAL


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("no/such/folder/w.db", "unable to open database file"),
        ("text.db", "file is not a database"),
        (".", "unable to open database file"),
    ],
)
async def test_a_path_that_is_no_database_is_a_clear_error(
    tmp_path: Path, name: str, said: str
) -> None:
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    path = str(tmp_path / name)
    with pytest.raises(ConfigError) as info:  # the CLI's exit 2, with the hint
        async with open_sqlite(path):
            pass
    assert str(info.value).startswith(f"cannot open the database {path}: {said}; ")
    assert "WAPORT_DATABASE" in str(info.value)
    assert (tmp_path / "text.db").read_text().startswith("not a database")  # left alone


async def test_pragmas(tmp_path: Path) -> None:
    async with open_sqlite(str(tmp_path / "p.db")) as store:
        modes = await store.reader.call(
            lambda c: (
                c.execute("PRAGMA journal_mode").fetchone()[0],
                c.execute("PRAGMA foreign_keys").fetchone()[0],
            )
        )
        assert modes == ("wal", 1)
        sync = await store.writer.call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert sync == 2  # FULL
