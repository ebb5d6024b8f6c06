"""asyncpg's pool, as waport uses it: a database that cannot be reached is
``STORE_UNAVAILABLE`` (503, retryable), never a hang and never a 500.

asyncpg's pool already heals: a connection that broke (the server restarted, a link
went down) is dropped when it is released and a new one is made on the next acquire.
What it does not do is bound the wait or say what happened. So every acquire and every
statement has a deadline, and the errors that mean "the database is not there right
now" (refused or reset connections, a server shutting down or starting up, a deadline
passed) become ``STORE_UNAVAILABLE``; anything else stays what it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg
import attrs

from waport.domain.errors import ErrorCode, WaportError

CONNECT_SECONDS: Final = 5.0
"""How long opening one connection may take."""
ACQUIRE_SECONDS: Final = 10.0
"""How long a caller waits for a connection (the pool may be busy, or reconnecting)."""
STATEMENT_SECONDS: Final = 30.0
"""How long one statement may run before the caller hears the store is unavailable."""

LOST: Final = (
    OSError,  # refused, reset, unreachable
    TimeoutError,
    asyncpg.InterfaceError,  # the connection is closed
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
)
"""The errors that mean the database cannot be reached just now."""


def unavailable(error: BaseException) -> WaportError:
    return WaportError(
        ErrorCode.STORE_UNAVAILABLE,
        f"the database cannot be reached ({type(error).__name__}); retry shortly",
        retry_after=1.0,
    )


@attrs.define
class GuardedPool:
    """An asyncpg pool whose ``acquire`` is bounded and whose lost connections are
    ``STORE_UNAVAILABLE``: an error raised while a connection is held passes through
    here, so a statement that finds the server gone is reported the same way."""

    inner: Any

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        try:
            async with self.inner.acquire(timeout=ACQUIRE_SECONDS) as c:
                yield c
        except LOST as exc:
            raise unavailable(exc) from exc

    async def close(self) -> None:
        await self.inner.close()


async def _session_kept(_: Any) -> None:
    """What a released connection needs beyond asyncpg's own rollback: nothing.

    asyncpg's default reset sends ``pg_advisory_unlock_all()``, ``CLOSE ALL``,
    ``UNLISTEN *`` and ``RESET ALL`` on every release: a round trip, and a transaction
    PostgreSQL counts, for each statement waport runs outside a group commit. waport
    never changes a session: its settings are fixed when the connection is made, its
    advisory locks are transaction locks (but the migration's, which ``migrate``
    releases itself), its cursors live inside transactions, and it listens to nothing. An open transaction is still rolled back (asyncpg does that
    before calling this)."""


async def create(dsn: str, *, min_size: int, max_size: int, settings: Any) -> GuardedPool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings=settings,
        timeout=CONNECT_SECONDS,
        command_timeout=STATEMENT_SECONDS,
        reset=_session_kept,
    )
    return GuardedPool(pool)
