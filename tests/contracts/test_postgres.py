"""The PostgreSQL store against the shared store contract, and the Messenger machine on it.

Each store gets a schema of its own in the test server, dropped afterwards."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest
from hypothesis import HealthCheck, settings

from waport.ports import Store
from waport.testing.contracts import StoreContract
from waport.testing.stateful import messenger_machine
from waport_memory import SandboxProvider
from waport_postgres import open_postgres

_schemas = itertools.count()


def fresh_postgres(url: str) -> Callable[[], AbstractAsyncContextManager[Store]]:
    @asynccontextmanager
    async def open_one() -> AsyncIterator[Store]:
        schema = f"t{os.getpid()}_{next(_schemas)}"
        try:
            async with open_postgres(url, schema=schema, min_size=1, max_size=8) as store:
                yield store
        finally:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

    return open_one


class TestPostgresStore(StoreContract):
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
