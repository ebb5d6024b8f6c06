"""Media in a message: where its bytes are (a URL, inline bytes, a provider's id, or
waport's media store) and the media value that checks its kind, type, size and caption."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import ClassVar, Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import (
    PROVIDER_MESSAGE_ID_MAX,
    TEXT,
    MediaKind,
)
from waport.domain.media import caption_allowed, check_media, check_mime_syntax
from waport.domain.validators import (
    chars,
    http_url,
    is_bool,
    required_chars,
)

# ----------------------------------------------------------------------------- media


@attrs.frozen
class MediaUrl:
    url: str = attrs.field(validator=http_url)


@attrs.frozen
class MediaData:
    """Inline bytes (from a base64 data URI or a multipart upload)."""

    mime: str
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class MediaId:
    """A media id the provider already holds (an upload, or an inbound media id)."""

    id: str = attrs.field(validator=required_chars(PROVIDER_MESSAGE_ID_MAX))


@attrs.frozen(kw_only=True)
class MediaStored:
    """Bytes kept in waport's media store: a record references them by id and digest and
    never holds them. Made by the service from inline bytes; never parsed from a request."""

    media_id: str
    sha256: str
    size: int
    mime: str


@attrs.frozen(kw_only=True)
class MediaStream:
    """Bytes of waport's media store on their way to a provider that streams them
    (``Capabilities.streams_media``): ``open()`` yields them in chunks, read while the
    provider sends, never held whole. Made by the service for one attempt; never
    stored, rendered or parsed."""

    mime: str
    size: int
    sha256: str
    open: Callable[[], AsyncIterator[bytes]] = attrs.field(eq=False, repr=False)

    async def read_all(self) -> bytes:
        """The bytes whole (for a provider with no way to stream them)."""
        return b"".join([chunk async for chunk in self.open()])


MediaSource = MediaUrl | MediaData | MediaId | MediaStored | MediaStream

STORED_MEDIA_PREFIX: Final = "med_"
"""The prefix of waport's media ids (``POST /v1/media``): a ``MediaId`` with it names
bytes in the media store, any other names the provider's media."""


def names_stored_media(source: MediaSource) -> bool:
    """Whether ``source`` is a media id of waport's media store (not the provider's)."""
    return isinstance(source, MediaId) and source.id.startswith(STORED_MEDIA_PREFIX)


@attrs.frozen(kw_only=True)
class Media:
    mode: ClassVar[str] = "media"

    kind: MediaKind = attrs.field(converter=MediaKind)
    source: MediaSource
    caption: str | None = attrs.field(default=None, validator=chars(TEXT.caption))
    filename: str | None = attrs.field(default=None, validator=chars(TEXT.filename, minimum=1))
    mime_type: str | None = None
    voice: bool = attrs.field(default=False, validator=is_bool)
    animated: bool = attrs.field(default=False, validator=is_bool)

    def __attrs_post_init__(self) -> None:
        if self.caption is not None and not caption_allowed(self.kind):
            raise WaportError(
                ErrorCode.CAPTION_NOT_ALLOWED, f"{self.kind} cannot carry a caption", "caption"
            )
        if self.filename is not None and self.kind != MediaKind.DOCUMENT:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "only a document has a filename", "filename"
            )
        if self.voice and self.kind != MediaKind.AUDIO:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "only audio can be a voice note", "voice"
            )
        if self.animated and self.kind != MediaKind.STICKER:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "only a sticker can be animated", "animated"
            )
        if self.mime_type is not None:
            check_mime_syntax(self.mime_type, "mime_type")
        mime = self.mime_type
        size = None
        if isinstance(self.source, MediaData):
            mime = self.source.mime
            size = len(self.source.data)
        elif isinstance(self.source, MediaStored):
            mime, size = self.source.mime, self.source.size
        check_media(self.kind, mime, size, animated=self.animated)

    @property
    def mime(self) -> str | None:
        """The declared MIME type, or the bytes' own."""
        if isinstance(self.source, MediaData | MediaStored):
            return self.source.mime
        return self.mime_type
