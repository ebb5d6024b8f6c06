"""The media store's contract: part of ``StoreContract`` (a store bundle has a media
store), kept in its own room so a plugin author can read it alone."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import MediaFetched
from waport.domain.limits import MediaKind
from waport.domain.messages import Media, MediaStored
from waport.domain.records import MessageRecord
from waport.domain.status import ErrorDetail, MessageStatus
from waport.ports import Store
from waport.testing import builders
from waport.testing.contracts.support import add_messages

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

    async def test_old_media_is_listed_a_page_at_a_time(self, store: Store) -> None:
        for n, age in enumerate((40, 31, 1, 35)):
            await self._put(store, f"med_{n}", created_at=AT - timedelta(days=age))
        cutoff = AT - timedelta(days=30)
        first = await store.media.created_before(cutoff, limit=2)
        assert [m.id for m in first] == ["med_0", "med_1"]
        rest = await store.media.created_before(cutoff, after=first[-1].id, limit=2)
        assert [m.id for m in rest] == ["med_3"]

    async def test_media_a_message_not_sent_yet_refers_to_is_in_use(self, store: Store) -> None:
        def with_media(message_id: str, media_id: str, status: MessageStatus) -> MessageRecord:
            record = builders.outbound(message_id, at=AT, status=status)
            assert record.message is not None
            stored = MediaStored(media_id=media_id, sha256="0" * 64, size=1, mime="image/png")
            content = Media(kind=MediaKind.IMAGE, source=stored)
            return attrs.evolve(record, message=attrs.evolve(record.message, content=content))

        await add_messages(
            store,
            with_media("m_scheduled", "med_later", MessageStatus.SCHEDULED),
            with_media("m_pending", "med_now", MessageStatus.PENDING),
            with_media("m_sent", "med_done", MessageStatus.SENT),
            builders.outbound("m_text", at=AT),
        )
        asked = ["med_later", "med_now", "med_done", "med_none"]
        assert await store.messages.media_in_use(asked) == {"med_later", "med_now"}
        assert await store.messages.media_in_use([]) == set()

    async def test_a_media_failure_is_kept_on_the_inbound_message(self, store: Store) -> None:
        record = builders.inbound("in1", at=AT, provider_message_id="wamid.M1")
        await store.messages.record_inbound([record])
        error = ErrorDetail(code=ErrorCode.MEDIA_FETCH_FAILED, message="digest")
        await store.messages.finish("in1", MediaFetched(error=error))
        failed = await store.messages.get("in1")
        assert failed is not None
        assert (failed.error, failed.status) == (error, record.status)
        await store.messages.finish("in1", MediaFetched())
        mended = await store.messages.get("in1")
        assert mended is not None
        assert mended.error is None
