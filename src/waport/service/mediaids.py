"""The provider's ids for media of waport's media store: uploaded once per sender and
bytes, reused while the provider keeps them (``Capabilities.uploaded_media_ttl``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Final

import anyio
import attrs

Key = tuple[str, str]
"""(sender id, sha256 of the bytes)."""

MARGIN: Final = 0.9
"""The share of the provider's lifetime an id is reused for (a day short of Meta's 30)."""


@attrs.define
class ProviderMediaIds:
    """A bounded cache of provider media ids, with one upload at a time per key: the
    rows of a broadcast that all miss the cache wait for the first one's upload."""

    capacity: int = 10_000
    _ids: dict[Key, tuple[str, datetime]] = attrs.field(factory=dict, init=False)
    _locks: dict[Key, anyio.Lock] = attrs.field(factory=dict, init=False)

    def get(self, key: Key, now: datetime) -> str | None:
        found = self._ids.get(key)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def put(self, key: Key, media_id: str, now: datetime, ttl: timedelta) -> None:
        self._ids.pop(key, None)
        self._ids[key] = (media_id, now + ttl * MARGIN)
        while len(self._ids) > self.capacity:
            del self._ids[next(iter(self._ids))]  # the oldest first

    def forget(self, key: Key, media_id: str) -> None:
        """Drop ``media_id`` (a send that used it failed: it may have expired early)."""
        if self._ids.get(key, ("",))[0] == media_id:
            del self._ids[key]

    @asynccontextmanager
    async def one_upload(self, key: Key) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)
