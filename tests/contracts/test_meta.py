"""The Meta Cloud API provider against the shared provider contract, over a fake Graph API."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from waport.testing.contracts import ProviderContract, ProviderHarness
from waport_meta.fake import meta_harness


class TestMetaCloudProvider(ProviderContract):
    plugin_name = "meta"

    @pytest.fixture(scope="class")
    @classmethod
    def open_harness(cls) -> Callable[[], AbstractAsyncContextManager[ProviderHarness]]:
        return meta_harness
