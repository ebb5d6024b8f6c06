"""The stateful Messenger machine on the memory store, on asyncio and on trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.conftest import machine_test
from waport.ports import Store
from waport_memory import MemoryStore


@asynccontextmanager
async def _memory() -> AsyncIterator[Store]:
    yield MemoryStore()


TestMemoryMessenger = machine_test(_memory, examples=40, steps=40)
TestMemoryMessengerOnTrio = machine_test(_memory, examples=20, steps=40, backend="trio")
