"""Downloading media a contact sent: the Graph API's media object gives a URL (valid
for minutes), fetched with the same bearer token. The URL is followed only on an
allowed host (Meta's media host, and the configured Graph host so the fake works), and
redirects are not followed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from waport.domain.errors import ErrorCode, WaportError
from waport.httpkit import open_download
from waport.ports import MediaDownload

if TYPE_CHECKING:
    from waport_meta.provider import MetaCloudProvider

MEDIA_HOSTS: Final = ("lookaside.fbsbx.com",)
"""Where the Cloud API's media URLs point."""


def _unavailable(message: str) -> WaportError:
    return WaportError(ErrorCode.PROVIDER_UNAVAILABLE, message, provider="meta")


def allowed_host(url: str, graph_url: str, hosts: Collection[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and parts.hostname in {
        *hosts,
        urlsplit(graph_url).hostname,
    }


@asynccontextmanager
async def download(
    provider: MetaCloudProvider, media_id: str, *, sender: str
) -> AsyncIterator[MediaDownload]:
    info = await provider.media_object(media_id, sender=sender)
    url, mime = info.get("url"), info.get("mime_type")
    if not isinstance(url, str) or not isinstance(mime, str):
        raise _unavailable("Meta's media object has no url or mime_type")
    if not allowed_host(url, provider.graph_url, provider.media_hosts):
        raise _unavailable(
            f"Meta's media URL is on {urlsplit(url).hostname!r}, not an allowed host"
        )
    size_text = str(info.get("file_size", ""))
    sha256 = info.get("sha256")
    headers = {"Authorization": f"Bearer {provider.token}"}
    provider.remote_calls += 1
    async with open_download(
        provider.http, url, headers=headers, read_timeout=provider.timeout, provider="meta"
    ) as (_, chunks):
        yield MediaDownload(
            mime_type=mime,
            size=int(size_text) if size_text.isdigit() else None,
            sha256=sha256 if isinstance(sha256, str) else None,
            chunks=chunks,
        )
