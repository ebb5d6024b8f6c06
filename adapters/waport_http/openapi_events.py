"""The OpenAPI document's ``webhooks``: every event waport POSTs to a workspace's
``webhook_url``, with a named schema per family, so a generated client has models
for the payloads it receives. Built from ``waport.domain.events.EVENT_TYPES``: a new
event type without a family here fails the document."""

from __future__ import annotations

from typing import Any, Final

from waport.domain.errors import ErrorCode
from waport.domain.events import EVENT_TYPES, STATUS_EVENTS
from waport.domain.status import MessageStatus
from waport_http.openapi_schemas import ref

_TEXT: Final = {"type": "string"}
_MAYBE: Final = {"type": ["string", "null"]}
_WHEN: Final = {"type": "string", "format": "date-time"}

FAMILIES: Final = {
    "StatusEvent": sorted(set(STATUS_EVENTS.values())),
    "InboundEvent": ["message.received", "message.reply"],
    "MediaEvent": ["media.ready", "media.failed"],
    "ConsentEvent": ["contact.opted_out", "contact.opted_in"],
    "TemplateEvent": ["template.updated"],
    "SenderEvent": ["sender.updated"],
}

_SIGNATURE_HEADERS: Final = [
    {"name": name, "in": "header", "required": True, "schema": _TEXT, "description": text}
    for name, text in (
        ("webhook-id", "the event's id: deliveries of one event share it (de-duplicate on it)"),
        ("webhook-timestamp", "Unix seconds of this delivery (refuse one too old)"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body> (Standard Webhooks)"),
    )
]


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _event(family: str, data: str) -> dict[str, Any]:
    return _object(
        ["id", "type", "created_at", "data"],
        {"id": _TEXT, "type": {"enum": FAMILIES[family]}, "created_at": _WHEN, "data": ref(data)},
    )


def webhook_schemas() -> dict[str, Any]:
    quality = {"quality": _MAYBE}
    return {
        "StatusEventData": _object(
            ["message_id", "status", "timestamp", "to", "sender_id", "provider_message_id"],
            {
                "message_id": _TEXT,
                "status": {"enum": [s.value for s in MessageStatus if s in STATUS_EVENTS]},
                "timestamp": _WHEN,
                "to": _TEXT,
                "sender_id": _TEXT,
                "provider_message_id": _MAYBE,
                "broadcast_id": _TEXT,
                "metadata": {"type": "object"},
                "error": _object(
                    ["code", "message"],
                    {"code": {"enum": [c.value for c in ErrorCode]}, "message": _TEXT},
                ),
            },
        ),
        "InboundEventData": _object(
            ["message_id", "from", "sender_id", "provider_message_id", "timestamp", "kind"],
            {
                "message_id": _TEXT,
                "from": _TEXT,
                "sender_id": _TEXT,
                "provider_message_id": _TEXT,
                "timestamp": _WHEN,
                "kind": _TEXT,
                "text": _MAYBE,
                "contact_name": _TEXT,
                "author": _TEXT,
                "content": {"type": "object", "description": "the provider's own object"},
                "referral": {"type": "object"},
                "flow_reply": {"type": "object"},
                "contact": {"type": "object"},
                "group": {"type": "object"},
                "reply_to_message_id": _TEXT,
                "reply_to_provider_message_id": _TEXT,
            },
        ),
        "MediaEventData": _object(
            ["message_id", "from", "sender_id", "media"],
            {
                "message_id": _TEXT,
                "from": _TEXT,
                "sender_id": _TEXT,
                "media": {
                    "type": "object",
                    "description": "as GET /v1/messages/{message_id} shows it, with its status",
                },
            },
        ),
        "ConsentEventData": _object(
            ["contact", "opted_out", "message_id", "sender_id", "at"],
            {
                "contact": _TEXT,
                "opted_out": {"type": "boolean"},
                "message_id": _TEXT,
                "sender_id": _TEXT,
                "text": _MAYBE,
                "at": _WHEN,
            },
        ),
        "TemplateEventData": _object(
            ["sender_id", "name", "language", "status", "category", "previous"],
            {
                "sender_id": _TEXT,
                "name": _TEXT,
                "language": _TEXT,
                "provider_id": _MAYBE,
                "status": _TEXT,
                "category": _TEXT,
                **quality,
                "reason": _MAYBE,
                "previous": _object(
                    ["status", "category"], {"status": _TEXT, "category": _TEXT, **quality}
                ),
            },
        ),
        "SenderEventData": _object(
            ["sender_id", "health", "previous"],
            {
                "sender_id": _TEXT,
                "phone": _MAYBE,
                "health": {"type": "object", "description": "the sender's health as now"},
                "previous": {"type": "object", "description": "its health before"},
            },
        ),
        **{family: _event(family, family + "Data") for family in FAMILIES},
    }


def webhooks() -> dict[str, Any]:
    """One entry per event type: the POST waport makes to ``webhook_url``."""
    family_of = {kind: family for family, kinds in FAMILIES.items() for kind in kinds}
    missing = set(EVENT_TYPES) - set(family_of)
    if missing:
        raise KeyError(f"event types without a webhook schema: {sorted(missing)}")
    return {
        kind: {
            "post": {
                "operationId": "on"
                + "".join(p.capitalize() for p in kind.replace(".", "_").split("_")),
                "summary": f"waport tells your webhook_url of {kind}",
                "tags": ["webhooks"],
                "parameters": _SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref(family_of[kind])}},
                },
                "responses": {
                    "2XX": {"description": "Received; any other answer is retried with backoff"}
                },
            }
        }
        for kind in EVENT_TYPES
    }
