"""The stateful Messenger machine on the memory store, on asyncio and on trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypothesis import HealthCheck, settings

from waport.ports import Store
from waport.testing.stateful import messenger_machine
from waport_memory import MemoryStore, SandboxProvider


@asynccontextmanager
async def _memory() -> AsyncIterator[Store]:
    yield MemoryStore()


MemoryMachine = messenger_machine(_memory, lambda clock: SandboxProvider(clock=clock, max_rps=1000))
MemoryMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMemoryMessenger = MemoryMachine.TestCase

MemoryTrioMachine = messenger_machine(
    _memory, lambda clock: SandboxProvider(clock=clock, max_rps=1000), backend="trio"
)
MemoryTrioMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMemoryMessengerOnTrio = MemoryTrioMachine.TestCase
