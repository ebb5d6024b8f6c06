"""Use cases over the ports (one module each), the Messenger facade over them, billing
adapters, the system clock, and ``tune_gc`` for long-running processes."""

from waport.service.billing import UnlimitedBilling
from waport.service.clock import RandomIds, SystemClock
from waport.service.core import (
    DEFAULT_WORKSPACE,
    BroadcastResult,
    Core,
    DispatchReport,
    IdempotencyClaim,
    IngestReport,
    Policy,
    Scope,
    SendResult,
)
from waport.service.lifetime import tune_gc
from waport.service.messenger import Messenger

__all__ = [
    "DEFAULT_WORKSPACE",
    "BroadcastResult",
    "Core",
    "DispatchReport",
    "IdempotencyClaim",
    "IngestReport",
    "Messenger",
    "Policy",
    "Scope",
    "SendResult",
    "RandomIds",
    "SystemClock",
    "UnlimitedBilling",
    "tune_gc",
]
