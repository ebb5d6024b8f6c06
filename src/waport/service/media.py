"""Media bytes live in the media store, never in a record: inline bytes of a message
(a base64 data URI, a multipart file) are stored before the message is, and read back
when it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from waport.domain.limits import MEDIA_LIMITS
from waport.domain.messages import MediaData, MediaSource, MediaStored, OutboundMessage
from waport.domain.sources import media_of, with_source
from waport.service.core import Core

CHUNK: Final = 64 * 1024


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def inline_bytes(message: OutboundMessage) -> bool:
    """Whether the message carries media bytes inline (to be stored first)."""
    found = media_of(message)
    return found is not None and isinstance(found.source, MediaData)


def stored_bytes(message: OutboundMessage) -> bool:
    """Whether the message's media is in the media store (to be read for the provider)."""
    found = media_of(message)
    return found is not None and isinstance(found.source, MediaStored)


async def externalize(
    core: Core,
    message: OutboundMessage,
    workspace_id: str,
    memo: dict[tuple[str, bytes], MediaStored] | None = None,
) -> OutboundMessage:
    """``message`` with its inline bytes moved to the media store (a broadcast passes one
    ``memo``, so its rows share one stored copy)."""
    media = media_of(message)
    if media is None or not isinstance(media.source, MediaData):
        return message
    data = media.source
    key = (data.mime, data.data)
    stored = memo.get(key) if memo is not None else None
    if stored is None:
        limit = MEDIA_LIMITS[media.kind]
        kept = await core.store.media.put(
            _chunks(data.data),
            media_id=core.ids.new_id("med"),
            workspace_id=workspace_id,
            mime_type=data.mime,
            created_at=core.clock.now(),
            max_size=limit.max_bytes_animated or limit.max_bytes,
            filename=media.filename,
        )
        stored = MediaStored(
            media_id=kept.id, sha256=kept.sha256, size=kept.size, mime=kept.mime_type
        )
        if memo is not None:
            memo[key] = stored
    found = stored
    return with_source(message, lambda _: found)


async def resolve(core: Core, message: OutboundMessage) -> OutboundMessage:
    """``message`` with a media-store reference replaced by its bytes, for the provider."""
    media = media_of(message)
    if media is None or not isinstance(media.source, MediaStored):
        return message
    stored = media.source
    parts = [chunk async for chunk in core.store.media.read(stored.media_id)]
    data = MediaData(stored.mime, b"".join(parts))

    def swap(_: MediaSource) -> MediaSource:
        return data

    return with_source(message, swap)
