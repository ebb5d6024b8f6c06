"""Use cases over the ports: the Messenger, billing adapters, the system clock, and
``tune_gc`` for long-running processes."""

from waport.service.billing import PrepaidBilling, UnlimitedBilling
from waport.service.clock import RandomIds, SystemClock
from waport.service.lifetime import tune_gc
from waport.service.messenger import (
    DEFAULT_WORKSPACE,
    BroadcastResult,
    DispatchReport,
    IdempotencyClaim,
    IngestReport,
    Messenger,
    Policy,
    SendResult,
)

__all__ = [
    "DEFAULT_WORKSPACE",
    "BroadcastResult",
    "DispatchReport",
    "IdempotencyClaim",
    "IngestReport",
    "Messenger",
    "Policy",
    "PrepaidBilling",
    "RandomIds",
    "SendResult",
    "SystemClock",
    "UnlimitedBilling",
    "tune_gc",
]
