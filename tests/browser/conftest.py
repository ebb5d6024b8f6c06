"""A headless Chromium from the distribution's packages, driven by Playwright.

``WAPORT_CHROMIUM`` names the browser; otherwise ``chromium`` (Debian) or
``chromium-browser`` on the PATH. Without a browser or Playwright the browser tests
skip, unless ``WAPORT_REQUIRE_BROWSER=1`` (CI sets it: ``.ci/run`` installs Chromium).
``WAPORT_SCREENSHOTS=<folder>`` makes the tests save the documentation's screenshots
(``docs/screenshots.sh``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _chromium() -> str | None:
    named = os.environ.get("WAPORT_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser's executable, once Playwright and it are known to be here."""
    required = os.environ.get("WAPORT_REQUIRE_BROWSER") == "1"
    try:
        import playwright  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    if executable is None:
        if required:
            raise AssertionError("no Chromium found: install the distribution's chromium")
        pytest.skip("no Chromium here: install the distribution's chromium")
    return executable


# root in a container has no user namespace for Chromium's sandbox
LAUNCH_ARGS = ["--no-sandbox"] if os.geteuid() == 0 else []


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    """A headless Chromium for a synchronous test (one per test: Playwright's sync API
    runs an event loop of its own while open, and the anyio tests need theirs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots() -> Path | None:
    """Where to save screenshots for the docs, when asked to."""
    folder = os.environ.get("WAPORT_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path
