"""The WhatsApp-Web (WAHA) provider against the shared provider contract, over a fake WAHA."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from waport.testing.contracts import ProviderContract, ProviderHarness
from waport_web.fake import web_harness


class TestWahaProvider(ProviderContract):
    plugin_name = "web"

    @pytest.fixture(scope="class")
    @classmethod
    def open_harness(cls) -> Callable[[], AbstractAsyncContextManager[ProviderHarness]]:
        return web_harness
