"""Test-wide settings: Hypothesis profiles and the anyio backend (asyncio: aiohttp needs it;
the service, memory and SQLite tests run on trio too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from waport.ports import Store
from waport.testing.stateful import messenger_machine
from waport_memory import SandboxProvider

pytest_plugins = ["pytester"]  # the pytest plugin's sample project runs in a pytest of its own

settings.register_profile("dev", deadline=None, max_examples=100)
settings.register_profile(
    "ci",
    deadline=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("fast", deadline=None, max_examples=10)
settings.register_profile(
    "soak", deadline=None, max_examples=2_000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


BOTH_BACKENDS = pytest.fixture(params=["asyncio", "trio"], scope="module", name="anyio_backend")
"""For the service and the adapters that do not need aiohttp (memory, SQLite, sandbox):
``anyio_backend = BOTH_BACKENDS(backend)`` in a conftest runs its folder's tests on trio
too."""


def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def machine_test(
    open_store: Callable[[], AbstractAsyncContextManager[Store]],
    *,
    examples: int,
    steps: int,
    backend: str = "asyncio",
) -> type[Any]:
    """The Messenger machine on ``open_store`` and the sandbox, as a test class."""
    machine = messenger_machine(
        open_store, lambda clock: SandboxProvider(clock=clock, max_rps=1000), backend=backend
    )
    machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    return machine.TestCase


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server's URL: ``WAPORT_TEST_POSTGRES_URL``, or one started here from
    the distribution's binaries. Skips when neither works, unless CI requires it."""
    from waport_postgres import server as pg_server

    given = os.environ.get("WAPORT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    # not under pytest's tmp_path: that is private to root, and the server runs as postgres
    folder = Path(tempfile.mkdtemp(prefix="waport-pg-"))
    try:
        url = pg_server.start(folder)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("WAPORT_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(
            f"no PostgreSQL server could be started here ({exc}); set WAPORT_TEST_POSTGRES_URL"
        )
    try:
        yield url
    finally:
        pg_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
