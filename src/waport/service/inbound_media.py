"""Media contacts send: fetched from the provider into the media store under the
message's own media id (``msg_X`` -> ``med_X``), checked against the provider's digest
and a size bound on the way in: eagerly after ingest, by a fetcher task beside the
dispatcher (or by ``dispatch_once`` where none runs) and retried with backoff, or when
first asked for (``Policy.inbound_media``: eager, lazy or off)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final

import anyio

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.inbound_media import (
    ProviderMedia,
    digest_matches,
    message_id_of,
    provider_media,
    stored_media_id,
    worth_another_start,
)
from waport.domain.lifecycle import MediaFetched, detail_of
from waport.domain.limits import MEDIA_LIMITS, MediaKind
from waport.domain.records import Direction, MediaObject, MessageRecord, media_event
from waport.service.core import Core, Scope

log = logging.getLogger("waport.media")

MAX_INBOUND_BYTES: Final = MEDIA_LIMITS[MediaKind.DOCUMENT].max_bytes
"""The most a contact's media may be (the Cloud API refuses more: error 131052)."""
BATCH: Final = 8
RESUME_WINDOW: Final = timedelta(days=7)
"""How far back a start looks for media to fetch (Meta keeps inbound media 7 days)."""
RESUME_LIMIT: Final = 1_000


def wanted(core: Core, record: MessageRecord) -> ProviderMedia | None:
    """The provider media of an inbound record, when this gateway fetches media."""
    if core.policy.inbound_media == "off" or record.inbound is None:
        return None
    return provider_media(record.inbound)


def queue(core: Core, records: list[MessageRecord]) -> None:
    """After ingest: new inbound messages with media wait for the dispatcher (eager)."""
    if core.policy.inbound_media != "eager":
        return
    now = core.clock.now()
    for record in records:
        if wanted(core, record) is not None:
            core.inbound_fetches.add(record.id, now)


async def fetch(core: Core, record: MessageRecord) -> MediaObject:
    """The media of an inbound record in the media store, fetched now if it is not
    there yet (one fetch at a time per message)."""
    found = wanted(core, record)
    if found is None:
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "this message has no media to fetch")
    media_id = stored_media_id(record.id)
    async with core.inbound_fetches.one_fetch(record.id):
        kept = await core.store.media.get(media_id)
        if kept is not None:
            return kept
        downloader = core.provider.downloads
        if downloader is None:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED, "this provider cannot hand over media"
            )
        async with downloader.download_media(found.provider_id, sender=record.sender_id) as got:
            kept = await core.store.media.put(
                got.chunks,
                media_id=media_id,
                workspace_id=record.workspace_id,
                mime_type=found.mime_type or got.mime_type,
                created_at=core.clock.now(),
                max_size=MAX_INBOUND_BYTES,
                filename=found.filename,
            )
            expected = found.sha256 or got.sha256
        if not digest_matches(expected, kept.sha256):
            await core.store.media.delete(media_id)
            raise WaportError(
                ErrorCode.MEDIA_FETCH_FAILED,
                "the bytes the provider handed over do not match its digest",
                provider=core.provider.name,
            )
    if record.error is not None:  # failed before, fetched now (asked for again)
        record = await core.store.messages.finish(record.id, MediaFetched())
    await announce(core, record)
    return kept


async def announce(core: Core, record: MessageRecord) -> None:
    """Queue ``media.ready`` or ``media.failed`` for the record's webhook URL (read
    again: its contact may have been erased while the media was fetched)."""
    record = await core.store.messages.get(record.id) or record
    if record.erased_at is not None:
        return
    if core.changes is not None:  # the message's media changed, not its record: say so
        core.changes.publish([record])
    media = await view(core, record)
    event = media_event(record, media, core.clock.now()) if media is not None else None
    if event is not None:
        await core.store.outbox.add([event])


async def fetch_due(core: Core) -> int:
    """The dispatcher's part: fetch queued media; a failure that may pass is retried
    with the policy's backoff, up to ``media_fetch_attempts``; the rest are failed."""
    now = core.clock.now()
    done = 0
    for message_id, attempts in core.inbound_fetches.due(now, BATCH):
        record = await core.store.messages.get(message_id)
        if record is None:
            continue
        try:
            await fetch(core, record)
            done += 1
        except WaportError as err:
            tries = attempts + 1
            wait = core.policy.backoff.delay(tries, core.rand.random())
            if err.retryable and wait is not None and tries < core.policy.media_fetch_attempts:
                core.inbound_fetches.add(message_id, now + wait, tries)
            else:
                log.warning("media of %s not fetched: %s", message_id, err)
                record = await core.store.messages.finish(
                    message_id, MediaFetched(error=detail_of(err))
                )
                await announce(core, record)
    return done


async def resume(core: Core) -> int:
    """At start: queue the recent inbound media not in the media store (the queue of
    the process before did not survive it). How many were queued."""
    if core.policy.inbound_media != "eager":
        return 0
    now = core.clock.now()
    queued = 0
    recent = await core.store.messages.inbound_since(now - RESUME_WINDOW, limit=RESUME_LIMIT)
    for record in recent:
        if wanted(core, record) is None or not worth_another_start(record.error):
            continue
        if await core.store.media.get(stored_media_id(record.id)) is None:
            core.inbound_fetches.add(record.id, now)
            queued += 1
    if queued:
        log.info("%d contacts' media not fetched before this start: queued again", queued)
    return queued


async def run_fetcher(core: Core) -> None:
    """Fetch queued media until cancelled, woken when some is queued (or every
    ``dispatch_interval``, for retries that came due); first, what the process before
    left unfetched."""
    fetches = core.inbound_fetches
    fetches.background = True
    try:
        try:
            await resume(core)
        except WaportError as err:
            log.warning("could not look for unfetched media: %s", err)
        while True:
            try:
                done = await fetch_due(core)
            except Exception:
                log.exception("media fetch pass failed")
                done = 0
            if done >= BATCH:
                continue
            with anyio.move_on_after(core.policy.dispatch_interval):
                await fetches.wakeup.wait()
            fetches.wakeup = anyio.Event()
    finally:
        fetches.background = False


async def for_download(core: Core, scope: Scope, media_id: str) -> MediaObject:
    """A media id nobody has stored yet may name an inbound message's media: fetch it
    now (lazy), for the caller's workspace only."""
    message_id = message_id_of(media_id)
    record = await core.store.messages.get(message_id) if message_id else None
    if (
        record is None
        or record.direction != Direction.INBOUND
        or record.workspace_id != core.workspace_of(scope)
        or wanted(core, record) is None
    ):
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "no media with this id", "media_id")
    return await fetch(core, record)


async def view(core: Core, record: MessageRecord) -> dict[str, Any] | None:
    """An inbound message's media as the API shows it, with its status: ``ready``
    (stored), ``failed`` (given up on: the error is kept on the message) or ``pending``."""
    found = wanted(core, record)
    if found is None:
        return None
    media_id = stored_media_id(record.id)
    kept = await core.store.media.get(media_id)
    out: dict[str, Any] = {
        "id": media_id,
        "mime_type": kept.mime_type if kept else found.mime_type,
        "filename": found.filename,
        "caption": found.caption,
        "status": "ready" if kept else "pending",
    }
    if kept is not None:
        out["size"], out["sha256"] = kept.size, kept.sha256
    elif record.error is not None:
        out["status"] = "failed"
        out["error"] = f"{record.error.code}: {record.error.message}"
    return out
