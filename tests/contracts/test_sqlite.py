"""The SQLite store against the shared store contract, and the Messenger machine on SQLite."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import BOTH_BACKENDS, backend
from waport.ports import Store
from waport.testing.contracts import StoreContract
from waport.testing.stateful import messenger_machine
from waport_memory import SandboxProvider
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


SqliteMachine = messenger_machine(
    fresh_sqlite, lambda clock: SandboxProvider(clock=clock, max_rps=1000)
)
SqliteMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSqliteMessenger = SqliteMachine.TestCase

SqliteTrioMachine = messenger_machine(
    fresh_sqlite, lambda clock: SandboxProvider(clock=clock, max_rps=1000), backend="trio"
)
SqliteTrioMachine.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSqliteMessengerOnTrio = SqliteTrioMachine.TestCase
