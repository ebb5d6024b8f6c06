"""Contract suites every adapter passes. Subclass one and supply its factory fixture."""

from waport.testing.contracts.provider import (
    EXPECTED,
    ProviderContract,
    ProviderHarness,
    RemoteFailure,
)
from waport.testing.contracts.store import StoreContract

__all__ = ["EXPECTED", "ProviderContract", "ProviderHarness", "RemoteFailure", "StoreContract"]
