"""Media a contact sent: where the provider keeps it, the id waport keeps it under in
its media store, and whether the bytes that arrived are the ones the provider named."""

from __future__ import annotations

import base64
import binascii
from typing import Final

import attrs

from waport.domain.attachments import STORED_MEDIA_PREFIX
from waport.domain.errors import ErrorCode
from waport.domain.events import InboundMessage
from waport.domain.status import ErrorDetail

MEDIA_KINDS: Final = frozenset({"image", "video", "audio", "document", "sticker"})
MESSAGE_PREFIX: Final = "msg_"
FINAL_FAILURES: Final = frozenset({ErrorCode.MEDIA_FETCH_FAILED, ErrorCode.MEDIA_TOO_LARGE})
"""Failures another try cannot mend: the provider's bytes do not match its digest, or
are more than any WhatsApp media may be."""


@attrs.frozen(kw_only=True)
class ProviderMedia:
    """What an inbound message says of its media."""

    provider_id: str
    """The provider's media id (Meta) or file URL."""
    mime_type: str | None = None
    sha256: str | None = None
    """The provider's digest of the bytes (hex or base64), when it gives one."""
    filename: str | None = None
    caption: str | None = None


def provider_media(message: InboundMessage) -> ProviderMedia | None:
    """The media of an inbound message, if it has any the provider can hand over."""
    if message.kind not in MEDIA_KINDS:
        return None
    payload = message.payload
    found = payload.get("id") or payload.get("url")
    if not isinstance(found, str) or not found:
        return None

    def text(name: str) -> str | None:
        value = payload.get(name)
        return value if isinstance(value, str) and value else None

    return ProviderMedia(
        provider_id=found,
        mime_type=text("mime_type"),
        sha256=text("sha256"),
        filename=text("filename"),
        caption=message.text,
    )


def stored_media_id(message_id: str) -> str:
    """The media-store id of an inbound message's media: ``msg_X`` keeps it as ``med_X``
    (one per message, known before the bytes arrive, and the same on every retry)."""
    return STORED_MEDIA_PREFIX + message_id.removeprefix(MESSAGE_PREFIX)


def message_id_of(media_id: str) -> str | None:
    """The inbound message whose media ``media_id`` would be (``med_X`` -> ``msg_X``)."""
    if not media_id.startswith(STORED_MEDIA_PREFIX):
        return None
    return MESSAGE_PREFIX + media_id.removeprefix(STORED_MEDIA_PREFIX)


def digest_matches(expected: str | None, sha256_hex: str) -> bool:
    """Whether the provider's digest (hex, or base64 of the 32 bytes) names these bytes;
    a digest the provider did not give, or one in neither form, cannot be checked."""
    if not expected:
        return True
    actual = bytes.fromhex(sha256_hex)
    text = expected.strip()
    if len(text) == 64:  # noqa: PLR2004 - hex of 32 bytes
        try:
            return bytes.fromhex(text) == actual
        except ValueError:
            return True
    try:  # standard or URL-safe base64, padded or not
        padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
        decoded = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return True
    return decoded == actual if len(decoded) == 32 else True  # noqa: PLR2004


def worth_another_start(error: ErrorDetail | None) -> bool:
    """Whether a start should fetch media not stored yet: never tried, or given up on for
    a reason that may have passed (the provider was down, or did not have it yet)."""
    return error is None or error.code not in FINAL_FAILURES
