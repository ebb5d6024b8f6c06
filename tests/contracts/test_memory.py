"""The memory adapters against the shared contracts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from tests.conftest import BOTH_BACKENDS, backend
from waport.ports import Store
from waport.testing.contracts import ProviderContract, ProviderHarness, StoreContract
from waport_memory import MemoryStore
from waport_memory.harness import sandbox_harness

anyio_backend = BOTH_BACKENDS(backend)  # no aiohttp here: asyncio and trio


@asynccontextmanager
async def _memory() -> AsyncIterator[Store]:
    yield MemoryStore()


class TestMemoryStore(StoreContract):
    plugin_name = "memory"

    @pytest.fixture(scope="class")
    @classmethod
    def open_store(cls) -> Callable[[], AbstractAsyncContextManager[Store]]:
        return _memory


class TestSandboxProvider(ProviderContract):
    plugin_name = "sandbox"

    @pytest.fixture(scope="class")
    @classmethod
    def open_harness(cls) -> Callable[[], AbstractAsyncContextManager[ProviderHarness]]:
        return sandbox_harness
