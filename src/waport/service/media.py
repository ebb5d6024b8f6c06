"""Media bytes live in the media store, never in a record: inline bytes of a message
(a base64 data URI, a multipart file) are stored before the message is, an uploaded
file is referenced by its ``med_`` id, and the bytes are read back when it is sent.
Uploads, downloads and deletes of the media store itself are here too."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, TypeGuard

from waport.domain.attachments import STORED_MEDIA_PREFIX, names_stored_media
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MEDIA_LIMITS, MediaKind
from waport.domain.media import check_media, kind_from_mime
from waport.domain.messages import (
    MediaData,
    MediaId,
    MediaSource,
    MediaStored,
    MediaStream,
    OutboundMessage,
)
from waport.domain.records import MediaObject
from waport.domain.sources import media_of, with_source
from waport.service.core import Core, Scope

log = logging.getLogger("waport.media")

CHUNK: Final = 64 * 1024


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def inline_bytes(message: OutboundMessage) -> bool:
    """Whether the message carries media bytes inline (to be stored first) or names an
    upload of the media store (to be checked and referenced)."""
    found = media_of(message)
    return found is not None and (
        isinstance(found.source, MediaData) or names_stored_media(found.source)
    )


def max_bytes(kind: MediaKind) -> int:
    limit = MEDIA_LIMITS[kind]
    return limit.max_bytes_animated or limit.max_bytes


async def upload(
    core: Core,
    scope: Scope,
    chunks: AsyncIterable[bytes],
    *,
    mime_type: str,
    filename: str | None = None,
    kind: MediaKind | None = None,
) -> MediaObject:
    """Stream ``chunks`` into the media store for the caller's workspace. The type is
    checked against its kind (``kind``, or the one ``mime_type`` implies) before a byte
    is read, the size as the bytes arrive (``MEDIA_TOO_LARGE`` at the first byte over)."""
    kind = kind or kind_from_mime(mime_type)
    check_media(kind, mime_type, None)
    kept = await core.store.media.put(
        chunks,
        media_id=core.ids.new_id("med"),
        workspace_id=core.workspace_of(scope),
        mime_type=mime_type,
        created_at=core.clock.now(),
        max_size=max_bytes(kind),
        filename=filename,
    )
    if kept.size == 0:
        await core.store.media.delete(kept.id)
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the file is empty", "file")
    return kept


async def find(core: Core, scope: Scope, media_id: str, param: str = "media_id") -> MediaObject:
    """The media object ``media_id`` of the caller's workspace; ``MEDIA_NOT_FOUND`` otherwise
    (another workspace's media is not told apart from none)."""
    found = await core.store.media.get(media_id)
    if found is None or found.workspace_id != core.workspace_of(scope):
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "no media with this id", param)
    return found


def read(core: Core, media_id: str, *, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """The bytes of a media object found with :func:`find`, in chunks."""
    return core.store.media.read(media_id, chunk_size=chunk_size)


async def delete(core: Core, scope: Scope, media_id: str) -> None:
    await find(core, scope, media_id)
    await core.store.media.delete(media_id)


async def discard(core: Core, media_ids: Iterable[str]) -> None:
    """Forget uploads no message came to reference (a refused multipart send)."""
    for media_id in media_ids:
        await core.store.media.delete(media_id)


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
    if media is None:
        return message
    if names_stored_media(media.source):
        return await _adopt(core, message, workspace_id)
    if not isinstance(media.source, MediaData):
        return message
    data = media.source
    key = (data.mime, data.data)
    stored = memo.get(key) if memo is not None else None
    if stored is None:
        kept = await core.store.media.put(
            chunks(data.data),
            media_id=core.ids.new_id("med"),
            workspace_id=workspace_id,
            mime_type=data.mime,
            created_at=core.clock.now(),
            max_size=max_bytes(media.kind),
            filename=media.filename,
        )
        stored = MediaStored(
            media_id=kept.id, sha256=kept.sha256, size=kept.size, mime=kept.mime_type
        )
        if memo is not None:
            memo[key] = stored
    found = stored
    return with_source(message, lambda _: found)


async def complete_request(core: Core, request: object, workspace_id: str) -> object:
    """A send request whose media names an upload (``{"id": "med_..."}``) without a
    ``type``, given the kind its stored MIME type implies (the domain's parser cannot
    look it up). Other requests come back as they are."""
    if not isinstance(request, Mapping):
        return request  # the parser refuses it, naming what is wrong
    media = request.get("media")
    template = request.get("template")
    header = template.get("header") if isinstance(template, Mapping) else None
    if _untyped_upload(media):
        kind = await _stored_kind(core, media, workspace_id, "media.id")
        return {**request, "media": {**media, "type": kind}}
    if _untyped_upload(header) and isinstance(template, Mapping):
        kind = await _stored_kind(core, header, workspace_id, "template.header.id")
        return {**request, "template": {**template, "header": {**header, "type": kind}}}
    return request


def _untyped_upload(value: object) -> TypeGuard[Mapping[str, Any]]:
    return (
        isinstance(value, Mapping)
        and value.get("type") is None
        and isinstance(value.get("id"), str)
        and value["id"].startswith(STORED_MEDIA_PREFIX)
    )


async def _stored_kind(core: Core, media: Mapping[str, Any], workspace_id: str, param: str) -> str:
    found = await core.store.media.get(media["id"])
    if found is None or found.workspace_id != workspace_id:
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "no media with this id", param)
    return str(kind_from_mime(found.mime_type))


async def _adopt(core: Core, message: OutboundMessage, workspace_id: str) -> OutboundMessage:
    """``message`` with its ``med_`` id replaced by the media store's reference (its
    kind's type and size limits are checked again against the stored bytes)."""
    media = media_of(message)
    assert media is not None  # noqa: S101 - the caller checked
    media_id = getattr(media.source, "id", "")
    found = await core.store.media.get(media_id)
    if found is None or found.workspace_id != workspace_id:
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "no media with this id", "media.id")
    stored = MediaStored(
        media_id=found.id, sha256=found.sha256, size=found.size, mime=found.mime_type
    )
    return with_source(message, lambda _: stored)


async def for_provider(
    core: Core, message: OutboundMessage, sender: str
) -> tuple[OutboundMessage, tuple[str, str] | None]:
    """``message`` ready for the provider: a media-store reference becomes the
    provider's media id (uploaded once per sender and bytes, reused while it lasts) or,
    for a provider that takes bytes with each send, the bytes. Also the cache key of a
    reused id, so a failed send can forget it."""
    found = media_of(message)
    ttl = core.provider.capabilities.uploaded_media_ttl
    if found is None or not isinstance(found.source, MediaStored) or ttl is None:
        return await resolve(core, message), None
    stored = found.source
    key = (sender, stored.sha256)
    cache = core.provider_media
    async with cache.one_upload(key):
        provider_id = cache.get(key, core.clock.now())
        if provider_id is None:
            data = await _bytes_for_provider(core, stored)
            provider_id = await core.provider.upload_media(data, sender=sender, kind=found.kind)
            cache.put(key, provider_id, core.clock.now(), ttl)
    known = MediaId(provider_id)
    return with_source(message, lambda _: known), key


async def _bytes_for_provider(core: Core, stored: MediaStored) -> MediaData | MediaStream:
    """Stored media as the provider takes it: a stream read while it sends, or whole."""
    stream = MediaStream(
        mime=stored.mime,
        size=stored.size,
        sha256=stored.sha256,
        open=lambda: core.store.media.read(stored.media_id),
    )
    if core.provider.capabilities.streams_media:
        return stream
    return MediaData(stored.mime, await stream.read_all())


async def resolve(core: Core, message: OutboundMessage) -> OutboundMessage:
    """``message`` with a media-store reference replaced by its bytes, for the provider."""
    media = media_of(message)
    if media is None or not isinstance(media.source, MediaStored):
        return message
    data = await _bytes_for_provider(core, media.source)

    def swap(_: MediaSource) -> MediaSource:
        return data

    return with_source(message, swap)


async def purge(core: Core, now: datetime) -> int:
    """Retention: delete media stored longer than ``Policy.media_retention`` ago, but
    never what a message not sent yet refers to (a scheduled send keeps its upload).
    How many went."""
    keep_for = core.policy.media_retention
    if keep_for is None:
        return 0
    store, batch = core.store, core.policy.retention_batch
    gone, after = 0, ""
    while page := await store.media.created_before(now - keep_for, after=after, limit=batch):
        in_use = await store.messages.media_in_use([m.id for m in page])
        for old in page:
            if old.id not in in_use and await store.media.delete(old.id):
                gone += 1
        after = page[-1].id
        if len(page) < batch:
            break
    if gone:
        log.info("retention deleted %d stored media", gone)
    return gone
