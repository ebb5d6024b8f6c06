"""Media rules: size and MIME limits per kind, kind inference, data URIs."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final
from urllib.parse import urlsplit

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import EXTENSION_MIMES, MEDIA_LIMITS, MediaKind

_MIME_MAX: Final = 255
_MIME: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


MIME_PATTERN: Final = (
    "^ *[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]* *(?:;[ -~]*)?$"
)
"""What ``check_mime_syntax`` takes (at most 255 characters), as JSON Schema states it."""


def _data_uri_pattern() -> str:
    """A data URI waport takes for media whose kind is inferred from its type (as
    JSON Schema states it): a MIME type its kind accepts (any but image, video and
    audio is a document) and strict base64."""
    named = sorted(m for limit in MEDIA_LIMITS.values() for m in limit.mimes)
    subtype = "[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"  # a MIME type is at most 255 long
    mimes = "|".join(re.escape(m) for m in named)
    b64 = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
    return f"^data:(?:{mimes}|(?:application|text|font|model)/{subtype});base64,{b64}$"


DATA_URI_PATTERN: Final = _data_uri_pattern()


def _split_mime(mime: str) -> tuple[str, dict[str, str]]:
    base, *params = (part.strip() for part in mime.split(";"))
    parsed: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"').lower()
    return base.lower(), parsed


def _well_formed(mime: str) -> bool:
    """``type/subtype[; params]`` in printable ASCII (a CR/LF in a parameter would reach
    a provider's request headers)."""
    return (
        len(mime) <= _MIME_MAX
        and mime.isascii()
        and mime.isprintable()
        and _MIME.fullmatch(_split_mime(mime)[0]) is not None
    )


def normalise_mime(mime: str) -> str:
    """The base MIME type, lower-cased, without parameters (``audio/ogg``)."""
    return _split_mime(mime)[0]


def check_media(
    kind: MediaKind | str,
    mime: str | None,
    size: int | None,
    *,
    animated: bool = False,
) -> None:
    """Raise ``MEDIA_TYPE_UNSUPPORTED`` or ``MEDIA_TOO_LARGE`` if the media breaks its kind's limits.

    ``mime`` or ``size`` may be ``None`` when unknown (a URL not fetched yet); the
    known parts are checked. ``param`` on the error is relative to the media
    object: ``type``, ``mime_type``, or none for the size.
    """
    try:
        kind = MediaKind(kind)
    except ValueError:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"media type must be one of {', '.join(MediaKind)}",
            "type",
        ) from None
    limit = MEDIA_LIMITS[kind]
    if mime is not None:
        base, params = _split_mime(mime)
        if not _well_formed(mime):
            raise WaportError(ErrorCode.MEDIA_TYPE_UNSUPPORTED, "not a MIME type", "mime_type")
        if limit.mimes and base not in limit.mimes:
            raise WaportError(
                ErrorCode.MEDIA_TYPE_UNSUPPORTED,
                f"{kind} accepts {', '.join(sorted(limit.mimes))}",
                "mime_type",
            )
        if base == "audio/ogg" and params.get("codecs", "opus") != "opus":
            raise WaportError(
                ErrorCode.MEDIA_TYPE_UNSUPPORTED, "audio/ogg must use the opus codec", "mime_type"
            )
    if size is not None:
        maximum = (
            limit.max_bytes_animated if animated and limit.max_bytes_animated else limit.max_bytes
        )
        if size < 0 or size > maximum:
            raise WaportError(
                ErrorCode.MEDIA_TOO_LARGE,
                f"{kind} media may be at most {maximum} bytes",
            )


def check_mime_syntax(mime: str, param: str | None) -> None:
    """Raise ``VALIDATION_FAILED`` unless ``mime`` looks like ``type/subtype[; params]``."""
    if not _well_formed(mime):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "must be a MIME type such as image/png", param
        )


def caption_allowed(kind: MediaKind) -> bool:
    return MEDIA_LIMITS[kind].caption


def extension_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return None
    return name.rsplit(".", 1)[-1].lower() or None


def mime_from_name(name: str) -> str | None:
    """The MIME type a file name's (or a path's) extension implies, if any."""
    ext = extension_of(name)
    return EXTENSION_MIMES.get(ext) if ext else None


def mime_from_url(url: str) -> str | None:
    """The MIME type a URL's path extension implies, if any."""
    return mime_from_name(urlsplit(url).path)


def kind_from_mime(mime: str) -> MediaKind:
    """The media kind a MIME type implies (a webp image is a sticker)."""
    base = normalise_mime(mime)
    if base == "image/webp":
        return MediaKind.STICKER
    major = base.split("/", 1)[0]
    if major == "image":
        return MediaKind.IMAGE
    if major == "video":
        return MediaKind.VIDEO
    if major == "audio":
        return MediaKind.AUDIO
    return MediaKind.DOCUMENT


def infer_kind(*, mime: str | None = None, url: str | None = None) -> MediaKind:
    """Infer the kind from a MIME type, or else from a URL's extension.

    Raises ``VALIDATION_FAILED`` (``param: media.type``) when neither tells.
    """
    if mime:
        return kind_from_mime(mime)
    if url:
        guessed = mime_from_url(url)
        if guessed:
            return kind_from_mime(guessed)
    raise WaportError(
        ErrorCode.VALIDATION_FAILED,
        "cannot infer the media type; set type to image, video, audio, document or sticker",
        "type",
    )


@attrs.frozen
class DataUri:
    mime: str
    data: bytes


_DATA_URI: Final = re.compile(
    r"data:(?P<mime>[^;,]+(?:;[^;,=]+=[^;,]+)*)?;base64,(?P<data>.*)", re.DOTALL
)


def parse_data_uri(text: object, *, param: str | None = "data") -> DataUri:
    """Parse a ``data:<mime>;base64,<payload>`` URI; the payload must be valid base64."""
    match = _DATA_URI.fullmatch(text) if isinstance(text, str) else None
    if not match or not match.group("mime"):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "expected data:<mime>;base64,<payload>", param
        )
    try:
        data = base64.b64decode(match.group("data"), validate=True)
    except (binascii.Error, ValueError):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "the payload is not valid base64", param
        ) from None
    return DataUri(match.group("mime").strip(), data)
