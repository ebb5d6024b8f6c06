"""The SQLite store against the shared store contract, and the Messenger machine on SQLite."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import BOTH_BACKENDS, backend, machine_test
from waport.ports import Store
from waport.testing.contracts import StoreContract
from waport_sqlite import open_sqlite

anyio_backend = BOTH_BACKENDS(backend)  # no aiohttp here: asyncio and trio


@asynccontextmanager
async def fresh_sqlite() -> AsyncIterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        async with open_sqlite(str(Path(folder) / "waport.db")) as store:
            yield store


class TestSqliteStore(StoreContract):
    plugin_name = "sqlite"

    @pytest.fixture(scope="class")
    @classmethod
    def open_store(cls) -> Callable[[], AbstractAsyncContextManager[Store]]:
        return fresh_sqlite


TestSqliteMessenger = machine_test(fresh_sqlite, examples=15, steps=30)
TestSqliteMessengerOnTrio = machine_test(fresh_sqlite, examples=8, steps=30, backend="trio")
