"""The media store's contract: part of ``StoreContract`` (a store bundle has a media
store), kept in its own room so a plugin author can read it alone."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from waport.domain.errors import ErrorCode, WaportError
from waport.ports import Store

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BYTES = bytes(range(256)) * 1000  # 256,000 bytes: several chunks every way


async def _chunks(data: bytes, size: int = 40_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(store: Store, media_id: str, chunk_size: int = 65_536) -> bytes:
    return b"".join([c async for c in store.media.read(media_id, chunk_size=chunk_size)])


class MediaContract:
    """Streamed in, streamed out, kept once, refused past its size."""

    async def _put(self, store: Store, media_id: str, data: bytes = BYTES, **kw: object) -> object:
        options: dict[str, object] = {
            "media_id": media_id,
            "workspace_id": "ws1",
            "mime_type": "application/pdf",
            "created_at": AT,
            "max_size": 1_000_000,
            "filename": "invoice.pdf",
        } | kw
        return await store.media.put(_chunks(data), **options)  # type: ignore[arg-type]

    async def test_media_round_trips_in_chunks(self, store: Store) -> None:
        media = await self._put(store, "med_1")
        found = await store.media.get("med_1")
        assert found == media
        assert found is not None
        assert (found.size, found.sha256) == (len(BYTES), hashlib.sha256(BYTES).hexdigest())
        assert (found.mime_type, found.filename, found.workspace_id) == (
            "application/pdf",
            "invoice.pdf",
            "ws1",
        )
        chunks = [c async for c in store.media.read("med_1", chunk_size=10_000)]
        assert max(len(c) for c in chunks) <= 10_000
        assert b"".join(chunks) == BYTES

    async def test_identical_bytes_are_kept_once_and_outlive_one_id(self, store: Store) -> None:
        await self._put(store, "med_a")
        await self._put(store, "med_b", filename=None)
        assert await store.media.delete("med_a")
        assert not await store.media.delete("med_a")
        assert await store.media.get("med_a") is None
        assert await _read(store, "med_b") == BYTES
        assert await store.media.delete("med_b")
        with pytest.raises(WaportError) as info:
            await _read(store, "med_b")
        assert info.value.code == ErrorCode.NOT_FOUND

    async def test_media_past_its_limit_is_refused_and_nothing_kept(self, store: Store) -> None:
        with pytest.raises(WaportError) as info:
            await self._put(store, "med_big", max_size=len(BYTES) - 1)
        assert info.value.code == ErrorCode.MEDIA_TOO_LARGE
        assert await store.media.get("med_big") is None
        await self._put(store, "med_ok", data=b"", max_size=0)  # empty bytes are bytes too
        assert await _read(store, "med_ok") == b""

    async def test_an_unknown_media_id_is_not_found(self, store: Store) -> None:
        assert await store.media.get("med_nope") is None
        with pytest.raises(WaportError) as info:
            await _read(store, "med_nope")
        assert info.value.code == ErrorCode.NOT_FOUND
