"""Contract suites every adapter passes. Subclass one and supply its factory fixture."""

from waport.testing.contracts.provider import EXPECTED, ProviderContract, ProviderHarness
from waport.testing.contracts.store import StoreContract
from waport.testing.failures import RemoteFailure

__all__ = ["EXPECTED", "ProviderContract", "ProviderHarness", "RemoteFailure", "StoreContract"]
