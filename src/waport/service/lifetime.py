"""Task groups that own background work without changing the errors callers see.

anyio wraps an exception raised in the body of a task group in an
``ExceptionGroup``. A resource owner that runs its helpers in a task group
(``open_sqlite``, ``open_gateway``) would then hand its callers an
``ExceptionGroup`` for their own ``WaportError``. ``task_group`` re-raises a lone
exception as itself; several stay grouped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
            raise group.exceptions[0]  # noqa: B904 - the lone error is what the caller raised or must see
        raise
