"""Process-lifetime helpers: task groups that keep callers' errors, and a collector
setting for long-running processes.

anyio wraps an exception raised in the body of a task group in an
``ExceptionGroup``. A resource owner that runs its helpers in a task group
(``open_sqlite``, ``open_gateway``) would then hand its callers an
``ExceptionGroup`` for their own ``WaportError``. ``task_group`` re-raises a lone
exception as itself; several stay grouped.
"""

from __future__ import annotations

import gc
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


def tune_gc(threshold: int) -> None:
    """Make the cyclic garbage collector cheap for a long-running process. Call it once,
    after start-up (``waport serve`` does, with its ``gc_threshold`` setting).

    Under load a gateway allocates hundreds of thousands of short-lived objects a
    second. With Python's defaults the collector runs thousands of times a minute and
    its full collections walk the whole heap, everything imported included, stalling
    every request in flight for tens of milliseconds. Freezing what start-up loaded
    (modules, classes, the configuration: it lives as long as the process) takes it out
    of every later collection, and a larger youngest generation runs the collector far
    less often; the older generations keep Python's ratios, so reference cycles are
    still reclaimed. The measured effect is on the performance page. ``threshold`` 0
    changes nothing.
    """
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(threshold, middle, oldest)
