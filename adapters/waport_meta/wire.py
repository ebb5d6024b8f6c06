"""Meta's wire format: Graph API send payloads and webhook bodies.

Writing is exact (the documented shapes, nothing more); reading is tolerant
(unknown fields are ignored, a malformed item is skipped, a body that is not a
WhatsApp webhook at all is rejected). Domain names stay out of here; wamid,
wa_id and phone_number_id appear only in this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import ProviderEvent, StatusUpdate
from waport.domain.messages import (
    ButtonsMessage,
    CatalogMessage,
    ContactCard,
    ContactCards,
    CtaUrlMessage,
    Currency,
    DateTime,
    InteractiveHeaderMedia,
    InteractiveHeaderText,
    ListMessage,
    Location,
    Media,
    MediaId,
    MediaUrl,
    OutboundMessage,
    ParamValue,
    ProductListMessage,
    ProductMessage,
    Reaction,
    ReplyButton,
    TemplateMessage,
    Text,
)
from waport.domain.recipients import GROUP_PREFIX, Recipient
from waport.domain.status import ErrorDetail, MessageStatus
from waport.domain.templates import (
    BoundTemplate,
    ButtonKind,
    HeaderFormat,
    TemplateButtonSpec,
    TemplateCategory,
    TemplateSpec,
    TemplateStatus,
    placeholders,
)
from waport_meta import account_wire, template_wire
from waport_meta.inbound import PROVIDER, at_time, inbound

log = logging.getLogger("waport.meta")

# ----------------------------------------------------------------------------- sending


def to_field(recipient: Recipient) -> str:
    """Meta wants ``+`` and the digits: without the ``+`` it may prepend the business's own country code."""
    return recipient.e164


def addressee(recipient: Recipient) -> dict[str, str]:
    """Whom a message goes to, as the Cloud API names them: a number (``to``), a user by
    business-scoped user id (``recipient``), or a Groups API group (``recipient_type``
    ``group``, ``to`` its id)."""
    if recipient.kind == "user":
        return {"recipient_type": "individual", "recipient": recipient.value}
    if recipient.kind == "group" and recipient.value.startswith(GROUP_PREFIX):
        return {"recipient_type": "group", "to": recipient.value[len(GROUP_PREFIX) :]}
    return {"recipient_type": "individual", "to": to_field(recipient)}


def _media_object(media: Media, media_id: str | None = None) -> dict[str, Any]:
    source = media.source
    out: dict[str, Any] = {}
    if media_id is not None:
        out["id"] = media_id
    elif isinstance(source, MediaUrl):
        out["link"] = source.url
    elif isinstance(source, MediaId):
        out["id"] = source.id
    else:
        raise WaportError(ErrorCode.INTERNAL, "inline media must be uploaded before it is sent")
    return out


def _param(value: ParamValue, name: str | None) -> dict[str, Any]:
    if isinstance(value, Currency):
        out: dict[str, Any] = {
            "type": "currency",
            "currency": {
                "fallback_value": value.fallback_value,
                "code": value.code,
                "amount_1000": value.amount_1000,
            },
        }
    elif isinstance(value, DateTime):
        out = {"type": "date_time", "date_time": {"fallback_value": value.fallback_value}}
    else:
        out = {"type": "text", "text": value}
    if name is not None:
        out["parameter_name"] = name
    return out


_BUTTON_SUB_TYPES: Final[Mapping[ButtonKind, tuple[str, str]]] = {
    ButtonKind.QUICK_REPLY: ("quick_reply", "payload"),
    ButtonKind.URL: ("url", "text"),
    ButtonKind.COPY_CODE: ("copy_code", "coupon_code"),
    ButtonKind.OTP: ("url", "text"),
    ButtonKind.FLOW: ("flow", "payload"),
}


def template_object(bound: BoundTemplate, header_media_id: str | None = None) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if bound.header_text:
        components.append(
            {
                "type": "header",
                "parameters": [
                    _param(v, None if bound.positional else k) for k, v in bound.header_text
                ],
            }
        )
    if bound.header_media is not None:
        media = bound.header_media.media
        obj = _media_object(media, header_media_id)
        if media.filename and media.kind.value == "document":
            obj["filename"] = media.filename
        components.append(
            {"type": "header", "parameters": [{"type": media.kind.value, media.kind.value: obj}]}
        )
    if bound.body:
        components.append(
            {
                "type": "body",
                "parameters": [_param(v, None if bound.positional else k) for k, v in bound.body],
            }
        )
    for button in bound.buttons:
        sub_type, key = _BUTTON_SUB_TYPES.get(button.kind, ("url", "text"))
        param_type = "text" if key == "text" else key
        components.append(
            {
                "type": "button",
                "sub_type": sub_type,
                "index": str(button.index),
                "parameters": [{"type": param_type, key: button.value}],
            }
        )
    out: dict[str, Any] = {"name": bound.name, "language": {"code": bound.language}}
    if components:
        out["components"] = components
    return out


def _interactive_header(
    header: InteractiveHeaderText | InteractiveHeaderMedia | None, media_id: str | None
) -> dict[str, Any] | None:
    if header is None:
        return None
    if isinstance(header, InteractiveHeaderText):
        return {"type": "text", "text": header.text}
    kind = header.media.kind.value
    return {"type": kind, kind: _media_object(header.media, media_id)}


def interactive_object(content: Any, header_media_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(content, ButtonsMessage):
        buttons = []
        for button in content.buttons:
            if not isinstance(button, ReplyButton):
                raise WaportError(
                    ErrorCode.FEATURE_NOT_SUPPORTED,
                    "the Cloud API sends reply buttons only; use cta_url for a link",
                )
            buttons.append({"type": "reply", "reply": {"id": button.id, "title": button.title}})
        out = {"type": "button", "body": {"text": content.body}, "action": {"buttons": buttons}}
    elif isinstance(content, ListMessage):
        sections = []
        for section in content.sections:
            rows = []
            for row in section.rows:
                item = {"id": row.id, "title": row.title}
                if row.description is not None:
                    item["description"] = row.description
                rows.append(item)
            entry: dict[str, Any] = {"rows": rows}
            if section.title is not None:
                entry["title"] = section.title
            sections.append(entry)
        out = {
            "type": "list",
            "body": {"text": content.body},
            "action": {"button": content.button, "sections": sections},
        }
    elif isinstance(content, CtaUrlMessage):
        out = {
            "type": "cta_url",
            "body": {"text": content.body},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": content.display_text, "url": content.url},
            },
        }
    elif isinstance(content, CatalogMessage):
        action: dict[str, Any] = {"name": "catalog_message"}
        if content.thumbnail_product_retailer_id:
            action["parameters"] = {
                "thumbnail_product_retailer_id": content.thumbnail_product_retailer_id
            }
        out = {"type": "catalog_message", "body": {"text": content.body}, "action": action}
    elif isinstance(content, ProductMessage):
        out = {
            "type": "product",
            "action": {
                "catalog_id": content.catalog_id,
                "product_retailer_id": content.product_retailer_id,
            },
        }
        if content.body:
            out["body"] = {"text": content.body}
    elif isinstance(content, ProductListMessage):
        out = {
            "type": "product_list",
            "header": {"type": "text", "text": content.header.text},
            "body": {"text": content.body},
            "action": {
                "catalog_id": content.catalog_id,
                "sections": [
                    {
                        "title": s.title,
                        "product_items": [
                            {"product_retailer_id": p} for p in s.product_retailer_ids
                        ],
                    }
                    for s in content.sections
                ],
            },
        }
    else:  # pragma: no cover - every interactive type is handled above
        raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, f"interactive {type(content).__name__}")
    header = (
        _interactive_header(getattr(content, "header", None), header_media_id)
        if not isinstance(content, ProductListMessage)
        else None
    )
    if header is not None:
        out["header"] = header
    footer = getattr(content, "footer", None)
    if footer:
        out["footer"] = {"text": footer}
    return out


def _contact_card(card: ContactCard) -> dict[str, Any]:
    name = {k: v for k, v in vars_of(card.name).items() if v is not None}
    if len(name) == 1:  # Meta wants formatted_name plus at least one other name field
        name["first_name"] = card.name.formatted_name
    out: dict[str, Any] = {"name": name}
    for field in ("phones", "emails", "urls", "addresses"):
        items = getattr(card, field)
        if items:
            out[field] = [
                {k: v for k, v in vars_of(item).items() if v is not None} for item in items
            ]
    if card.org is not None:
        out["org"] = {k: v for k, v in vars_of(card.org).items() if v is not None}
    if card.birthday:
        out["birthday"] = card.birthday
    return out


def vars_of(value: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(value, recurse=False)


def message_payload(
    message: OutboundMessage,
    *,
    client_id: str,
    template: BoundTemplate | None,
    reply_to: str | None,
    media_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /{phone-number-id}/messages`` for one message."""
    content = message.content
    payload: dict[str, Any] = {"messaging_product": "whatsapp", **addressee(message.to)}
    if isinstance(content, Text):
        payload["type"] = "text"
        payload["text"] = {"body": content.body, "preview_url": content.preview_url}
    elif isinstance(content, Media):
        kind = content.kind.value
        obj = _media_object(content, media_id)
        if content.caption is not None:
            obj["caption"] = content.caption
        if content.filename is not None:
            obj["filename"] = content.filename
        if content.voice:
            obj["voice"] = True
        payload["type"] = kind
        payload[kind] = obj
    elif isinstance(content, TemplateMessage):
        if template is None:
            raise WaportError(ErrorCode.INTERNAL, "a template send needs its bound values")
        payload["type"] = "template"
        payload["template"] = template_object(template, media_id)
    elif isinstance(content, Location):
        payload["type"] = "location"
        location: dict[str, Any] = {
            "latitude": str(content.latitude),
            "longitude": str(content.longitude),
        }
        if content.name:
            location["name"] = content.name
        if content.address:
            location["address"] = content.address
        payload["location"] = location
    elif isinstance(content, ContactCards):
        payload["type"] = "contacts"
        payload["contacts"] = [_contact_card(card) for card in content.cards]
    elif isinstance(content, Reaction):
        payload["type"] = "reaction"
        payload["reaction"] = {"message_id": content.message_id, "emoji": content.emoji}
    else:
        payload["type"] = "interactive"
        payload["interactive"] = interactive_object(content, media_id)
    if reply_to is not None and not isinstance(content, Reaction):
        payload["context"] = {"message_id": reply_to}
    payload["biz_opaque_callback_data"] = client_id
    return payload


def read_payload(provider_message_id: str, *, typing: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": provider_message_id,
    }
    if typing:
        payload["typing_indicator"] = {"type": "text"}
    return payload


# ----------------------------------------------------------------------------- templates


_STATUS: Final = {s.value: s for s in TemplateStatus}
_CATEGORY: Final = {c.value: c for c in TemplateCategory}
_BUTTON_KIND: Final = {k.value: k for k in ButtonKind}


def template_from_graph(item: Mapping[str, Any], *, sender_id: str) -> TemplateSpec | None:
    """A template of ``GET /{waba-id}/message_templates`` as a spec; ``None`` if unusable."""
    try:
        name = str(item["name"])
        language = str(item["language"])
    except (KeyError, TypeError):
        return None
    body = ""
    header_format: HeaderFormat | None = None
    header_text = ""
    footer = ""
    buttons: list[TemplateButtonSpec] = []
    for component in item.get("components") or ():
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "BODY":
            body = str(component.get("text", ""))
        elif kind == "HEADER":
            fmt = str(component.get("format", "TEXT")).upper()
            header_format = HeaderFormat(fmt) if fmt in HeaderFormat.__members__ else None
            header_text = str(component.get("text", ""))
        elif kind == "FOOTER":
            footer = str(component.get("text", ""))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or ()):
                if not isinstance(button, Mapping):
                    continue
                button_kind = _BUTTON_KIND.get(
                    str(button.get("type", "")).upper(), ButtonKind.OTHER
                )
                dynamic = button_kind in (ButtonKind.COPY_CODE, ButtonKind.OTP) or (
                    button_kind == ButtonKind.URL and "{{" in str(button.get("url", ""))
                )
                buttons.append(
                    TemplateButtonSpec(
                        index=index,
                        kind=button_kind,
                        text=str(button.get("text", "")),
                        dynamic=dynamic,
                    )
                )
    return TemplateSpec(
        sender_id=sender_id,
        name=name,
        language=language,
        status=_STATUS.get(str(item.get("status", "")).upper(), TemplateStatus.PENDING),
        category=_CATEGORY.get(str(item.get("category", "")).upper(), TemplateCategory.UTILITY),
        body=body,
        body_params=placeholders(body),
        header_format=header_format,
        header_text=header_text,
        header_params=placeholders(header_text) if header_format == HeaderFormat.TEXT else (),
        footer=footer,
        buttons=tuple(buttons),
        provider_id=str(item["id"]) if item.get("id") is not None else None,
    )


# ----------------------------------------------------------------------------- webhooks

_STATUSES: Final[Mapping[str, MessageStatus]] = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "played": MessageStatus.PLAYED,
    "failed": MessageStatus.FAILED,
}


def _status(item: Mapping[str, Any], map_error: Any) -> StatusUpdate:
    status = _STATUSES[str(item["status"])]
    error: ErrorDetail | None = None
    errors = item.get("errors")
    if (
        status == MessageStatus.FAILED
        and isinstance(errors, list)
        and errors
        and isinstance(errors[0], Mapping)
    ):
        error = map_error(errors[0])
    callback = item.get("biz_opaque_callback_data")
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=str(item["id"]),
        status=status,
        at=at_time(item["timestamp"]),
        recipient=str(item["recipient_id"]) if item.get("recipient_id") is not None else None,
        message_id=str(callback)
        if isinstance(callback, str) and callback.startswith("msg_")
        else None,
        error=error,
        pricing=item.get("pricing") if isinstance(item.get("pricing"), Mapping) else None,
        conversation=item.get("conversation")
        if isinstance(item.get("conversation"), Mapping)
        else None,
        raw=item,
    )


# What reading one odd webhook item may raise (bad types, out-of-range times, rule checks)
_UNREADABLE: Final = (KeyError, TypeError, ValueError, WaportError, OverflowError, OSError)


def parse_events(body: Any, map_error: Any, received: datetime) -> list[ProviderEvent]:
    """Every event of a webhook body: all entries, all changes, all messages and statuses,
    and the template webhooks (``received``: when the body came, for an entry without time).

    Raises ``VALIDATION_FAILED`` when the body is not a WhatsApp webhook; skips (and
    logs) an individual item it cannot read, so one odd item never costs the batch.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("entry"), list):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "not a WhatsApp Business Account webhook")
    events: list[ProviderEvent] = []
    for entry in body["entry"]:
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        for change in changes if isinstance(changes, list) else ():
            if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
                continue
            value = change["value"]
            field = change.get("field")
            if field in template_wire.TEMPLATE_FIELDS or field in account_wire.ACCOUNT_FIELDS:
                try:
                    at = template_wire.entry_time(entry, received)
                    events.append(
                        template_wire.template_update(field, value, at=at)
                        if field in template_wire.TEMPLATE_FIELDS
                        else account_wire.sender_update(field, value, at=at)
                    )
                except _UNREADABLE as exc:
                    log.warning("skipped an unreadable %s: %s", field, type(exc).__name__)
                continue
            if field != "messages":
                continue
            metadata = value.get("metadata")
            sender_id = (
                str(metadata.get("phone_number_id", "")) if isinstance(metadata, Mapping) else ""
            )
            people: dict[str, Mapping[str, Any]] = {}
            for contact in _list(value.get("contacts")):
                for key in (contact.get("wa_id"), contact.get("user_id")):
                    if key:
                        people[str(key)] = contact
            for message in _list(value.get("messages")):
                try:
                    events.append(inbound(message, sender_id=sender_id, people=people))
                except _UNREADABLE as exc:
                    log.warning("skipped an unreadable inbound message: %s", type(exc).__name__)
            for status in _list(value.get("statuses")):
                try:
                    events.append(_status(status, map_error))
                except _UNREADABLE as exc:
                    log.warning("skipped an unreadable status: %s", type(exc).__name__)
    return events


def _list(value: Any) -> Sequence[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
