"""Messages back to the request shape of ``POST /v1/messages``: the inverse of
``parse_send_request`` for what a request can say, and how the REST API shows a stored
message's content (a media-store reference as its id, type, size and digest)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn

from waport.domain.interactive import BUTTON_TYPES
from waport.domain.messages import (
    INTERACTIVE_TYPES,
    ButtonParam,
    ContactCards,
    Content,
    Currency,
    DateTime,
    HeaderMedia,
    HeaderText,
    InteractiveHeaderMedia,
    InteractiveHeaderText,
    Media,
    MediaData,
    MediaStored,
    MediaStream,
    MediaUrl,
    OutboundMessage,
    ParamValue,
    TemplateMessage,
    Text,
)
from waport.domain.recipients import Recipient

T = TypeVar("T")
Path = tuple[str | int, ...]


def _drop_defaults(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """Leave out fields equal to their default, so stored shapes stay small."""
    defaults: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            defaults[field.name] = field.default.factory()
        elif field.default is not attrs.NOTHING:
            defaults[field.name] = field.default
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in defaults:
            default = defaults[key]
            if value == default or (isinstance(default, tuple) and not default and not value):
                continue
        out[key] = value
    return out


def _media_dict(media: Media) -> dict[str, Any]:
    out: dict[str, Any] = {"type": media.kind.value}
    source = media.source
    if isinstance(source, MediaUrl):
        out["url"] = source.url
    elif isinstance(source, MediaData):
        out["data"] = f"data:{source.mime};base64,{base64.b64encode(source.data).decode('ascii')}"
    elif isinstance(source, MediaStored):  # a reference to waport's media store, never bytes
        out |= {
            "id": source.media_id,
            "mime_type": source.mime,
            "size": source.size,
            "sha256": source.sha256,
        }
    elif isinstance(source, MediaStream):  # never stored: only what it is, not the bytes
        out |= {"mime_type": source.mime, "size": source.size, "sha256": source.sha256}
    else:
        out["id"] = source.id
    for key in ("caption", "filename", "mime_type"):
        if getattr(media, key) is not None:
            out[key] = getattr(media, key)
    if media.voice:
        out["voice"] = True
    if media.animated:
        out["animated"] = True
    return out


def _param_dict(value: ParamValue) -> Any:
    if isinstance(value, Currency):
        return {
            "type": "currency",
            "fallback_value": value.fallback_value,
            "code": value.code,
            "amount_1000": value.amount_1000,
        }
    if isinstance(value, DateTime):
        return {"type": "date_time", "fallback_value": value.fallback_value}
    return value


def make_wire_unstructurer() -> cattrs.Converter:
    """The converter that writes domain messages back in the request shape."""
    c = cattrs.Converter()

    def tagged(cls: type[Any], tag_key: str, tag: str) -> None:
        generated = make_dict_unstructure_fn(cls, c)
        c.register_unstructure_hook(
            cls, lambda v: {tag_key: tag, **_drop_defaults(cls, generated(v))}
        )

    for name, cls in INTERACTIVE_TYPES.items():
        tagged(cls, "type", name)
    for name, cls in BUTTON_TYPES.items():
        tagged(cls, "type", name)
    c.register_unstructure_hook(Media, _media_dict)
    c.register_unstructure_hook(InteractiveHeaderText, lambda h: {"type": "text", "text": h.text})
    c.register_unstructure_hook(InteractiveHeaderMedia, lambda h: _media_dict(h.media))
    c.register_unstructure_hook(
        HeaderText,
        lambda h: {"type": "text", "params": {k: _param_dict(v) for k, v in h.params.items()}},
    )
    c.register_unstructure_hook(HeaderMedia, lambda h: _media_dict(h.media))
    c.register_unstructure_hook(Currency, _param_dict)
    c.register_unstructure_hook(DateTime, _param_dict)
    c.register_unstructure_hook(datetime, lambda d: d.isoformat())
    c.register_unstructure_hook(Recipient, str)
    c.register_unstructure_hook(
        ContactCards, lambda cards: [c.unstructure(card) for card in cards.cards]
    )

    def plain(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        generated = make_dict_unstructure_fn(cls, c)
        return lambda value: _drop_none(_drop_defaults(cls, generated(value)))

    c.register_unstructure_hook_factory(
        lambda t: attrs.has(t) and t not in (Media, HeaderText, HeaderMedia, ContactCards), plain
    )

    def template(t: TemplateMessage) -> dict[str, Any]:
        out: dict[str, Any] = {"name": t.name, "language": t.language}
        if t.params:
            out["params"] = {k: _param_dict(v) for k, v in t.params.items()}
        if t.header is not None:
            out["header"] = c.unstructure(t.header)
        if t.buttons:
            out["buttons"] = [{"index": b.index, "param": b.param} for b in t.buttons]
        if t.otp is not None:
            out["otp"] = t.otp
        return out

    c.register_unstructure_hook(TemplateMessage, template)
    c.register_unstructure_hook(ButtonParam, lambda b: {"index": b.index, "param": b.param})
    return c


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


_UNSTRUCTURER: Final = make_wire_unstructurer()


def content_dict(content: Content) -> Any:
    """A content value in the request shape (the value under its mode key)."""
    if isinstance(content, Text):
        return {"body": content.body, "preview_url": True} if content.preview_url else content.body
    return _UNSTRUCTURER.unstructure(content)


def to_request_dict(message: OutboundMessage) -> dict[str, Any]:
    """The ``POST /v1/messages`` body that parses back to ``message``."""
    out: dict[str, Any] = {"to": str(message.to), message.mode: content_dict(message.content)}
    if message.sender_id is not None:
        out["sender_id"] = message.sender_id
    if message.reply_to is not None:
        out["reply_to"] = message.reply_to
    if not message.check_window:
        out["check_window"] = False
    if message.scheduled_at is not None:
        out["scheduled_at"] = message.scheduled_at.isoformat()
    if message.expires_at is not None:
        out["expires_at"] = message.expires_at.isoformat()
    if message.webhook_url is not None:
        out["webhook_url"] = message.webhook_url
    if message.metadata:
        out["metadata"] = dict(message.metadata)
    if message.contact is not None:
        out["contact"] = _UNSTRUCTURER.unstructure(message.contact)
    return out
