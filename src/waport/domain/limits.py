"""Content and media limits, as data.

Code reads these tables, tests restate the numbers independently, and
``docs/reference/limits.md`` is generated from them. Sizes use binary units
(1 KB = 1024 bytes, 1 MB = 1024 KB), as Meta's upload limits do (5120 KB images).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import attrs

KB: Final = 1024
MB: Final = 1024 * KB


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"


@attrs.frozen
class MediaLimit:
    """What one media kind accepts. ``mimes`` empty means any well-formed MIME type."""

    max_bytes: int
    mimes: frozenset[str]
    caption: bool
    max_bytes_animated: int | None = None


MEDIA_LIMITS: Final[Mapping[MediaKind, MediaLimit]] = {
    MediaKind.IMAGE: MediaLimit(5 * MB, frozenset({"image/jpeg", "image/png"}), caption=True),
    MediaKind.VIDEO: MediaLimit(16 * MB, frozenset({"video/mp4", "video/3gpp"}), caption=True),
    MediaKind.AUDIO: MediaLimit(
        16 * MB,
        frozenset({"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg"}),
        caption=False,
    ),
    MediaKind.DOCUMENT: MediaLimit(100 * MB, frozenset(), caption=True),
    MediaKind.STICKER: MediaLimit(
        100 * KB, frozenset({"image/webp"}), caption=False, max_bytes_animated=500 * KB
    ),
}

# File extensions used to infer a kind (and a MIME type) from a URL or a file name.
EXTENSION_MIMES: Final[Mapping[str, str]] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "3gp": "video/3gpp",
    "aac": "audio/aac",
    "amr": "audio/amr",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "zip": "application/zip",
}


@attrs.frozen(kw_only=True)
class TextLimits:
    body: int = 4096
    caption: int = 1024
    filename: int = 255
    preview_url_body: int = 4096


@attrs.frozen(kw_only=True)
class InteractiveLimits:
    body_buttons: int = 1024
    body_list: int = 4096
    header_text: int = 60
    footer: int = 60
    buttons_max: int = 3
    button_title: int = 20
    button_id: int = 256
    list_button: int = 20
    sections_max: int = 10
    rows_total_max: int = 10
    row_id: int = 200
    row_title: int = 24
    row_description: int = 72
    section_title: int = 24
    cta_display_text: int = 20
    product_sections_max: int = 10
    product_items_max: int = 30


@attrs.frozen(kw_only=True)
class TemplateLimits:
    name: int = 512
    language: int = 15
    body_param: int = 1024
    header_text_param: int = 60
    button_param: int = 2000
    button_index_max: int = 9
    otp: int = 100


@attrs.frozen(kw_only=True)
class BroadcastLimits:
    recipients_max: int = 256


TEXT: Final = TextLimits()
INTERACTIVE: Final = InteractiveLimits()
TEMPLATE: Final = TemplateLimits()
BROADCAST: Final = BroadcastLimits()

# The customer-service window opened by a contact's inbound message.
CUSTOMER_SERVICE_WINDOW: Final = timedelta(hours=24)

# Meta's messaging-limit tiers: unique contacts reached outside a window in a moving 24 h.
MESSAGING_TIERS: Final[tuple[int | None, ...]] = (250, 2_000, 10_000, 100_000, None)
MESSAGING_LIMIT_PERIOD: Final = timedelta(hours=24)

# Misc request limits.
METADATA_MAX_KEYS: Final = 50
METADATA_KEY_MAX: Final = 64
METADATA_VALUE_MAX: Final = 1024
SENDER_ID_MAX: Final = 128
PROVIDER_MESSAGE_ID_MAX: Final = 256
LABELS_MAX: Final = 50
LABEL_MAX: Final = 64
CONTACT_NAME_MAX: Final = 256
URL_MAX: Final = 2048
