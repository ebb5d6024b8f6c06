"""Where a message's media bytes sit, and swapping them: inline bytes become a
reference to the media store before a message is stored, and the reference becomes
bytes again (or stays, for a provider that takes an id) when it is sent."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from waport.domain.messages import (
    ButtonsMessage,
    CtaUrlMessage,
    HeaderMedia,
    InteractiveHeaderMedia,
    Media,
    MediaSource,
    OutboundMessage,
    TemplateMessage,
)


def media_of(message: OutboundMessage) -> Media | None:
    """The one media value a message carries (content, template header or interactive
    header), if any."""
    content = message.content
    if isinstance(content, Media):
        return content
    if isinstance(content, TemplateMessage) and isinstance(content.header, HeaderMedia):
        return content.header.media
    if isinstance(content, ButtonsMessage | CtaUrlMessage) and isinstance(
        content.header, InteractiveHeaderMedia
    ):
        return content.header.media
    return None


def with_source(
    message: OutboundMessage, swap: Callable[[MediaSource], MediaSource]
) -> OutboundMessage:
    """``message`` with its media's source replaced by ``swap(source)``."""
    media = media_of(message)
    if media is None:
        return message
    source = swap(media.source)
    if source is media.source:
        return message
    moved = attrs.evolve(media, source=source)
    content = message.content
    if isinstance(content, Media):
        return attrs.evolve(message, content=moved)
    if isinstance(content, TemplateMessage):
        return attrs.evolve(message, content=attrs.evolve(content, header=HeaderMedia(media=moved)))
    if isinstance(content, ButtonsMessage | CtaUrlMessage):
        header = InteractiveHeaderMedia(media=moved)
        return attrs.evolve(message, content=attrs.evolve(content, header=header))
    return message
