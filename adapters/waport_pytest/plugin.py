"""The fixtures (loaded by pytest through the ``pytest11`` entry point ``waport``).

==========================  =========  ====================================================
fixture                     scope      what it gives
==========================  =========  ====================================================
``waport_clock``            function   a ``FakeClock`` (2026-01-01 UTC; moves when told)
``waport_ids``              function   ``SequentialIds`` (``msg_000001``, ...)
``waport_sandbox``          function   the sandbox provider on ``waport_clock``
``waport_messenger``        function   a running ``Messenger``: memory store + sandbox
``waport_sqlite_messenger`` function   the same on a fresh SQLite file (durable)
``waport_gateway``          session    a real ``waport serve`` on a free loopback port
==========================  =========  ====================================================

The two messengers are async fixtures: they run under anyio's pytest plugin (asyncio and
trio) and, with ``asyncio_mode = "auto"``, under pytest-asyncio. The gateway fixture is
synchronous and serves any test (its process runs on asyncio, whatever the test uses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider
from waport_pytest.gateway import Gateway, running_gateway
from waport_sqlite import open_sqlite


@pytest.fixture
def waport_clock() -> FakeClock:
    """A clock that moves only when the test says (``advance(seconds)``, ``set(when)``)."""
    return FakeClock()


@pytest.fixture
def waport_ids() -> SequentialIds:
    """Predictable ids for the messengers."""
    return SequentialIds()


@pytest.fixture
def waport_sandbox(waport_clock: FakeClock) -> SandboxProvider:
    """The sandbox provider: it keeps what it sent (``sent``), takes scripted failures
    (``script``) and replies as a customer would (``inbound``)."""
    return SandboxProvider(clock=waport_clock)


@pytest.fixture
async def waport_messenger(
    waport_clock: FakeClock, waport_sandbox: SandboxProvider, waport_ids: SequentialIds
) -> AsyncIterator[Messenger]:
    """A started ``Messenger`` on the memory store and ``waport_sandbox``."""
    async with Messenger(
        store=MemoryStore(), provider=waport_sandbox, clock=waport_clock, ids=waport_ids
    ) as messenger:
        yield messenger


@pytest.fixture
async def waport_sqlite_messenger(
    waport_clock: FakeClock,
    waport_sandbox: SandboxProvider,
    waport_ids: SequentialIds,
    tmp_path: Path,
) -> AsyncIterator[Messenger]:
    """A started ``Messenger`` on a fresh SQLite database in ``tmp_path``."""
    async with (
        open_sqlite(str(tmp_path / "waport.db")) as store,
        Messenger(
            store=store, provider=waport_sandbox, clock=waport_clock, ids=waport_ids
        ) as messenger,
    ):
        yield messenger


@pytest.fixture(scope="session")
def waport_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """``waport serve`` on the sandbox and SQLite, on a free port of 127.0.0.1, for the
    whole session: ``url``, ``admin_key`` (and ``headers``), ``output()``."""
    with running_gateway(tmp_path_factory.mktemp("waport-gateway")) as gateway:
        yield gateway
