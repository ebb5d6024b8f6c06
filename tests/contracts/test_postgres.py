"""The PostgreSQL store against the shared store contract, and the Messenger machine on it.

Each store gets a schema of its own in the test server, dropped afterwards."""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import drop_schema
from waport import WaportError
from waport.domain.messages import Media, MediaStored
from waport.domain.records import Workspace
from waport.ports import Store
from waport.testing.contracts import StoreContract
from waport.testing.stateful import messenger_machine
from waport_memory import SandboxProvider
from waport_postgres import open_postgres
from waport_postgres.schema import LATEST, MIGRATIONS

_schemas = itertools.count()


def fresh_postgres(url: str) -> Callable[[], AbstractAsyncContextManager[Store]]:
    @asynccontextmanager
    async def open_one() -> AsyncIterator[Store]:
        schema = f"t{os.getpid()}_{next(_schemas)}"
        try:
            async with open_postgres(url, schema=schema, min_size=1, max_size=8) as store:
                yield store
        finally:
            await drop_schema(url, schema)

    return open_one


class TestPostgresStore(StoreContract):
    plugin_name = "postgres"

    @pytest.fixture(scope="class")
    @classmethod
    def open_store(cls, postgres_url: str) -> Callable[[], AbstractAsyncContextManager[Store]]:
        return fresh_postgres(postgres_url)


@pytest.fixture(scope="module")
def machine_url(postgres_url: str) -> str:
    return postgres_url


def test_the_messenger_machine_runs_on_postgres(machine_url: str) -> None:
    machine = messenger_machine(
        fresh_postgres(machine_url), lambda clock: SandboxProvider(clock=clock, max_rps=1000)
    )
    machine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine.TestCase().runTest()


@pytest.mark.anyio
@pytest.mark.parametrize("version", range(LATEST + 1))
async def test_a_database_at_any_earlier_version_opens_and_migrates(
    postgres_url: str, version: int
) -> None:
    schema = f"mig{os.getpid()}_{version}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute("CREATE TABLE waport_schema (version INTEGER NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[:version], 1):
            await conn.execute(migration)
            await conn.execute("INSERT INTO waport_schema (version) VALUES ($1)", number)
        async with open_postgres(postgres_url, schema=schema, min_size=1, max_size=2) as store:
            await store.workspaces.put(Workspace(id="ws"))
            assert await store.workspaces.get("ws") is not None
        assert await conn.fetchval("SELECT MAX(version) FROM waport_schema") == LATEST
        persistence = await conn.fetchval(
            "SELECT relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relname = 'rate_limits'",
            schema,
        )
        assert persistence == b"u"  # V2: buckets stay out of the WAL ("char" comes as bytes)
        await conn.execute("INSERT INTO waport_schema (version) VALUES ($1)", LATEST + 1)
        with pytest.raises(WaportError, match="newer than this waport"):
            async with open_postgres(postgres_url, schema=schema, min_size=1, max_size=1):
                pass
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def test_without_asyncpg_other_stores_work_and_postgres_says_what_to_install() -> None:
    """``pip install waport`` without the extra: the registry still loads (SQLite is the
    default), and choosing PostgreSQL names the extra to install."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "import anyio\n"
        "from waport.domain.errors import ConfigError\n"
        "from waport.plugins import PluginContext, Registry\n"
        "registry = Registry.from_entry_points()\n"
        "plugin = registry.store_for('postgresql://h/d')\n"
        "assert registry.store_for('./w.db').name == 'sqlite'\n"
        "async def main():\n"
        "    try:\n"
        "        async with plugin.open(plugin.config_type(url='postgresql://h/d'), None):\n"
        "            pass\n"
        "    except ConfigError as exc:\n"
        "        print(exc)\n"
        "anyio.run(main)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert 'pip install "waport[postgres]"' in result.stdout


@pytest.mark.anyio
async def test_messages_stored_with_inline_media_get_a_reference_when_migrated(
    postgres_url: str,
) -> None:
    """Schema 2 kept a message's media bytes in its document (the rows below are the
    SQLite fixture's, written by the previous waport: the columns are the same)."""
    fixture = Path(__file__).parents[1] / "adapters/sqlite/fixtures/v2_with_inline_media.db"
    with sqlite3.connect(fixture) as old:
        columns = [c[1] for c in old.execute("PRAGMA table_info(messages)")]
        names = ", ".join(columns)  # the fixture's own column names, not input
        rows = old.execute(f"SELECT {names} FROM messages").fetchall()  # noqa: S608
    schema = f"media{os.getpid()}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute("CREATE TABLE waport_schema (version INTEGER NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[:2], 1):
            await conn.execute(migration)
            await conn.execute("INSERT INTO waport_schema (version) VALUES ($1)", number)
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        for row in rows:
            values = [
                bool(v) if name == "initiated" else v for name, v in zip(columns, row, strict=True)
            ]
            await conn.execute(
                f"INSERT INTO messages ({names}) VALUES ({marks})",  # noqa: S608
                *values,
            )
        async with open_postgres(postgres_url, schema=schema, min_size=1, max_size=2) as store:
            record = await store.messages.get("msg_000003")
            assert record is not None
            assert record.message is not None
            media = record.message.content
            assert isinstance(media, Media)
            assert isinstance(media.source, MediaStored)
            data = b"".join([c async for c in store.media.read(media.source.media_id)])
            assert data == b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400
            sent = await store.messages.get("msg_000002")
            assert sent is not None
            assert sent.status.value == "sent"
            assert [c.status.value for c in sent.history] == ["pending", "sent"]
        rows = await conn.fetch("SELECT doc, history FROM messages")
        assert all("base64" not in r["doc"] for r in rows)
        # schema 4 split the documents: the history is a column, the document the rest
        assert all('"history"' not in r["doc"] and r["history"] for r in rows)
        assert await conn.fetchval("SELECT COUNT(DISTINCT blob) FROM media_chunks") == 1
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
