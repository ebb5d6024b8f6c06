"""Checks the service makes against a provider's capabilities, before any I/O."""

from __future__ import annotations

from waport.domain.attachments import names_stored_media
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.messages import (
    ButtonsMessage,
    HeaderMedia,
    InteractiveHeaderMedia,
    Media,
    MediaData,
    OutboundMessage,
    TemplateMessage,
)
from waport.ports import Capabilities


def _media_of(message: OutboundMessage) -> tuple[str, Media] | None:
    content = message.content
    if isinstance(content, Media):
        return "media", content
    if isinstance(content, TemplateMessage) and isinstance(content.header, HeaderMedia):
        return "template.header", content.header.media
    header = getattr(content, "header", None)
    if isinstance(header, InteractiveHeaderMedia):
        return "interactive.header", header.media
    return None


def check_capabilities(caps: Capabilities, message: OutboundMessage) -> None:
    """Raise ``FEATURE_NOT_SUPPORTED`` or ``BASE64_NOT_SUPPORTED`` for what the provider cannot do."""
    mode = message.mode
    if mode not in caps.modes:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED, f"this provider cannot send {mode} messages", mode
        )
    if message.to.kind == "group" and not caps.groups:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED, "this provider cannot send to groups", "to"
        )
    if message.to.kind == "user" and not caps.user_ids:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED,
            "this provider cannot send to a user by business-scoped user id",
            "to",
        )
    if message.to.kind == "channel" and not caps.channels:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED, "this provider cannot send to channels", "to"
        )
    if message.reply_to is not None and not caps.reply:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED, "this provider cannot send replies", "reply_to"
        )
    content = message.content
    if mode == "interactive":
        kind = getattr(content, "type", "")
        if kind not in caps.interactive_types:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"this provider cannot send interactive {kind}",
                "interactive.type",
            )
        if isinstance(content, ButtonsMessage):
            for i, button in enumerate(content.buttons):
                if button.kind not in caps.button_types:
                    raise WaportError(
                        ErrorCode.FEATURE_NOT_SUPPORTED,
                        f"this provider cannot send {button.kind} buttons",
                        f"interactive.buttons[{i}].type",
                    )
    found = _media_of(message)
    if found is not None:
        where, media = found
        if media.kind not in caps.media_kinds:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"this provider cannot send {media.kind}",
                f"{where}.type",
            )
        if isinstance(media.source, MediaData) and not caps.base64_media:
            raise WaportError(
                ErrorCode.BASE64_NOT_SUPPORTED,
                "this provider does not accept inline media; send a URL",
                f"{where}.data",
            )
        if names_stored_media(media.source) and not caps.base64_media:
            raise WaportError(
                ErrorCode.BASE64_NOT_SUPPORTED,
                "this provider does not accept uploaded bytes; send a URL",
                f"{where}.id",
            )
