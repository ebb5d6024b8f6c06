"""A Messenger on the memory store and the sandbox, with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest

from tests.conftest import BOTH_BACKENDS, backend
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider

anyio_backend = BOTH_BACKENDS(backend)


@attrs.define
class Stack:
    clock: FakeClock
    store: MemoryStore
    sandbox: SandboxProvider
    messenger: Messenger


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    clock = FakeClock()
    store = MemoryStore()
    sandbox = SandboxProvider(clock=clock)
    async with Messenger(
        store=store, provider=sandbox, clock=clock, ids=SequentialIds()
    ) as messenger:
        yield Stack(clock, store, sandbox, messenger)
