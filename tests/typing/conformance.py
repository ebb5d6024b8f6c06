"""Static checks (mypy, not pytest): every bundled adapter satisfies its port."""

from __future__ import annotations

from waport.ports import Billing, Clock, IdSource, Provider, Store
from waport.service import RandomIds, SystemClock, UnlimitedBilling
from waport.testing import FakeClock, SequentialIds
from waport.testing.stateful import SimulatedProvider
from waport_memory import MemoryStore, SandboxProvider
from waport_meta import MetaCloudProvider
from waport_postgres.store import PostgresStore
from waport_sqlite import SqliteStore
from waport_web import WahaProvider


def memory_store(s: MemoryStore) -> Store:
    return s


def sqlite_store(s: SqliteStore) -> Store:
    return s


def sandbox(p: SandboxProvider) -> Provider:
    return p


def simulated(p: SandboxProvider) -> SimulatedProvider:
    return p


def clocks(a: SystemClock, b: FakeClock) -> tuple[Clock, Clock]:
    return a, b


def ids(a: RandomIds, b: SequentialIds) -> tuple[IdSource, IdSource]:
    return a, b


def billing(a: UnlimitedBilling) -> Billing:
    return a


def postgres_store(s: PostgresStore) -> Store:
    return s


def meta(p: MetaCloudProvider) -> Provider:
    return p


def web(p: WahaProvider) -> Provider:
    return p
