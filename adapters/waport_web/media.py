"""Downloading media a contact sent: WAHA's ``message`` event names a file URL under
``/api/files/`` that WAHA serves with the API key. Only that path is taken from the
event; the file is fetched from the configured WAHA URL, so an event can never point
the gateway (and its key) at another host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from waport.domain.errors import ErrorCode, WaportError
from waport.httpkit import open_download
from waport.ports import MediaDownload

if TYPE_CHECKING:
    from waport_web.provider import WahaProvider

FILES_PATH: Final = "/api/files/"


def file_url(base_url: str, event_url: str) -> str | None:
    """Where on the configured WAHA the event's file is; ``None`` for a URL that does
    not name a WAHA file."""
    parts = urlsplit(event_url)
    if parts.scheme not in ("http", "https") or not parts.path.startswith(FILES_PATH):
        return None
    if ".." in parts.path.split("/"):
        return None
    return base_url.rstrip("/") + parts.path


@asynccontextmanager
async def download(provider: WahaProvider, url: str) -> AsyncIterator[MediaDownload]:
    target = file_url(provider.url, url)
    if target is None:
        raise WaportError(ErrorCode.MEDIA_NOT_FOUND, "not a WAHA file URL", provider="web")
    headers = {"X-Api-Key": provider.api_key} if provider.api_key else {}
    async with open_download(
        provider.http, target, headers=headers, read_timeout=provider.timeout, provider="web"
    ) as (content_type, chunks):
        yield MediaDownload(mime_type=content_type or "application/octet-stream", chunks=chunks)
