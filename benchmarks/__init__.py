"""waport's benchmark suite: ``nox -s bench`` (full) or ``python -m benchmarks --smoke``.

Every scenario runs the real thing in separate processes on 127.0.0.1: the gateway
(``waport serve``) on SQLite with the Meta adapter, a fake Graph API that answers at
once (``python -m waport_meta.fake --no-validation``) and a load generator. Results are
medians over repeated runs with their spread; ``docs/performance.md`` explains them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_light(main: Coroutine[Any, Any, T]) -> T:
    """Run a harness process's ``main`` on uvloop where installed: the load generators
    then take less of the machine from the gateway they measure."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
