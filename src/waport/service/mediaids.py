"""The provider's ids for media of waport's media store: uploaded once per sender and
bytes, reused while the provider keeps them (``Capabilities.uploaded_media_ttl``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar

import anyio
import attrs

K = TypeVar("K")
Key = tuple[str, str]
"""(sender id, sha256 of the bytes)."""

MARGIN: Final = 0.9
"""The share of the provider's lifetime an id is reused for (a day short of Meta's 30)."""


@attrs.define
class KeyedLocks(Generic[K]):
    """One lock per key, forgotten when nobody holds or waits for it."""

    _locks: dict[K, anyio.Lock] = attrs.field(factory=dict, init=False)

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)


def _keep_newest(table: dict[Any, Any], capacity: int) -> None:
    while len(table) > capacity:
        del table[next(iter(table))]  # dicts keep insertion order: the oldest first


@attrs.define
class ProviderMediaIds:
    """A bounded cache of provider media ids, with one upload at a time per key: the
    rows of a broadcast that all miss the cache wait for the first one's upload."""

    capacity: int = 10_000
    _ids: dict[Key, tuple[str, datetime]] = attrs.field(factory=dict, init=False)
    _locks: KeyedLocks[Key] = attrs.field(factory=KeyedLocks, init=False)

    def get(self, key: Key, now: datetime) -> str | None:
        found = self._ids.get(key)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def put(self, key: Key, media_id: str, now: datetime, ttl: timedelta) -> None:
        self._ids.pop(key, None)
        self._ids[key] = (media_id, now + ttl * MARGIN)
        _keep_newest(self._ids, self.capacity)

    def forget(self, key: Key, media_id: str) -> None:
        """Drop ``media_id`` (a send that used it failed: it may have expired early)."""
        if self._ids.get(key, ("",))[0] == media_id:
            del self._ids[key]

    def one_upload(self, key: Key) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(key)


@attrs.define
class InboundFetches:
    """Inbound media waiting to be fetched eagerly, in this process: (message id, due
    time, attempts). Bounded; after a restart (or past the bound) the media is fetched
    when it is first asked for (``GET /v1/media/{id}``), so nothing here needs to survive."""

    capacity: int = 10_000
    _due: dict[str, tuple[datetime, int]] = attrs.field(factory=dict, init=False)
    _locks: KeyedLocks[str] = attrs.field(factory=KeyedLocks, init=False)
    background: bool = attrs.field(default=False, init=False)
    """Whether a fetcher task runs beside the dispatcher (else its passes fetch)."""
    wakeup: anyio.Event = attrs.field(factory=anyio.Event, init=False)

    def add(self, message_id: str, now: datetime, attempts: int = 0) -> None:
        if len(self._due) < self.capacity:
            self._due[message_id] = (now, attempts)
            self.wakeup.set()

    def waiting(self) -> bool:
        return bool(self._due)

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        ready = [(m, n) for m, (at, n) in self._due.items() if at <= now][:limit]
        for message_id, _ in ready:
            del self._due[message_id]
        return ready

    def one_fetch(self, message_id: str) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(message_id)
