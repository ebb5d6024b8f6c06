"""Media and WAHA. Downloading media a contact sent: WAHA's ``message`` event names a
file URL under ``/api/files/`` that WAHA serves with the API key. Only that path is
taken from the event; the file is fetched from the configured WAHA URL, so an event
can never point the gateway (and its key) at another host. Sending media of the media
store: WAHA takes it as base64 inside the JSON body, encoded while the body is sent."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.messages import MediaStream
from waport.httpkit import open_download
from waport.ports import MediaDownload
from waport_web import wire

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


@attrs.frozen
class StreamedBody:
    """A JSON request body whose media is base64 read from a stream while it is sent:
    the parts around the placeholder, the encoded bytes between, and the whole length
    (known beforehand, so the request says its ``Content-Length``)."""

    before: bytes
    stream: MediaStream
    after: bytes

    @classmethod
    def around(cls, body: bytes, stream: MediaStream) -> StreamedBody:
        before, found, after = body.partition(json.dumps(wire.STREAMED).encode())
        if not found:
            raise WaportError(ErrorCode.INTERNAL, "the request body has no place for the media")
        return cls(before + b'"', stream, b'"' + after)

    @property
    def length(self) -> int:
        return len(self.before) + 4 * -(-self.stream.size // 3) + len(self.after)

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.before
        rest = b""
        async for chunk in self.stream.open():
            data = rest + chunk
            cut = len(data) - len(data) % 3  # whole 3-byte groups: no padding mid-stream
            rest = data[cut:]
            if cut:
                yield base64.b64encode(data[:cut])
        if rest:
            yield base64.b64encode(rest)
        yield self.after
