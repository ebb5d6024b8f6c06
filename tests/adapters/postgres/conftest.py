"""Fixtures of the PostgreSQL adapter's own tests: asyncpg runs on asyncio, and a store
opened as the contract suite opens one (a schema of its own, dropped after)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contracts.test_postgres import fresh_postgres
from waport_postgres import PostgresStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # asyncpg


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    async with fresh_postgres(postgres_url)() as opened:
        assert isinstance(opened, PostgresStore)
        yield opened
