"""The OpenAPI document's component schemas (bodies, answers, errors), built from the
tables the code uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from waport.domain.errors import ErrorCode
from waport.domain.limits import CONTACT_NAME_MAX
from waport.domain.messages import ContactDetails, JsonScalar
from waport.domain.recipients import NOT_BLANK_PATTERN, PERSON_PATTERN, RECIPIENT_PATTERN
from waport.domain.records import SCOPES
from waport.domain.status import MessageStatus
from waport.domain.validators import http_url, json_schema, language_code
from waport_http.openapi_attrs import object_schema

RECIPIENT: Final = {
    "type": "string",
    "pattern": RECIPIENT_PATTERN,
    "description": "E.164 phone (+ and separators allowed), user id, group or channel JID",
}
HTTP_URL: Final = {
    **json_schema(http_url),
    "description": "an absolute http or https URL (an internationalised host in its xn-- form)",
}
LANGUAGE: Final = json_schema(language_code)
_CONTACT: Final = object_schema(ContactDetails, {Mapping[str, JsonScalar]: {"type": "object"}})
LABELS: Final = _CONTACT["properties"]["labels"]
PERSON: Final = {
    "type": "string",
    "pattern": PERSON_PATTERN,
    "description": "a phone number (any spelling) or a WhatsApp user id",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def component_schemas() -> dict[str, Any]:
    statuses = [s.value for s in MessageStatus]
    nullable_string = {"type": ["string", "null"]}
    schemas: dict[str, Any] = {
        "HttpUrl": HTTP_URL,
        "MessageStatus": {"enum": statuses},
        "Error": {
            "type": "object",
            "required": ["status", "error", "correlation_id"],
            "properties": {
                "status": {"const": "error"},
                "error": {
                    "type": "object",
                    "required": ["code", "message", "param"],
                    "properties": {
                        "code": {"enum": [c.value for c in ErrorCode]},
                        "message": {"type": "string"},
                        "param": nullable_string,
                        "details": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "correlation_id": {"type": "string"},
                "data": {"type": "object"},
            },
        },
        "Conversation": {
            "type": "object",
            "required": ["contact", "sender_id", "unread", "last_message", "window"],
            "properties": {
                "contact": {"type": "string"},
                "sender_id": {"type": "string"},
                "unread": {"type": "integer", "minimum": 0},
                "last_message": {
                    "type": "object",
                    "properties": {
                        "message_id": {"type": "string"},
                        "direction": {"enum": ["outbound", "inbound"]},
                        "status": ref("MessageStatus"),
                        "created_at": {"type": "string"},
                        "summary": {"type": "string"},
                    },
                },
                "window": {
                    "type": "object",
                    "properties": {
                        "within_window": {"type": "boolean"},
                        "expires_at": nullable_string,
                    },
                },
            },
        },
        "Contact": {
            "type": "object",
            "required": ["phone", "labels", "attributes", "opted_out", "updated_at"],
            "properties": {
                "phone": {"type": "string"},
                "name": nullable_string,
                "labels": {"type": "array", "items": {"type": "string"}},
                "attributes": {"type": "object"},
                "opted_out": {"type": "boolean"},
                "updated_at": {"type": "string", "format": "date-time"},
                "profile_name": nullable_string,
                "first_seen": nullable_string,
                "last_seen": nullable_string,
                "windows": {
                    "type": "object",
                    "description": "per sender: within_window and expires_at",
                },
                "consent": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "opted_out": {"type": "boolean"},
                            "at": {"type": "string"},
                            "source": {"enum": ["keyword", "api"]},
                            "message_id": nullable_string,
                        },
                    },
                },
            },
        },
        "ContactPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "maxLength": CONTACT_NAME_MAX,
                    "pattern": NOT_BLANK_PATTERN,
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "add": LABELS,
                        "remove": LABELS,
                    },
                },
                "attributes": {
                    **_CONTACT["properties"]["metadata"],  # the same bounds as metadata
                    "description": "values are strings, numbers or booleans; null removes one",
                },
                "opted_out": {"type": "boolean"},
            },
        },
        "Message": {
            "type": "object",
            "required": ["message_id", "direction", "status", "sender_id", "created_at"],
            "properties": {
                "message_id": {"type": "string"},
                "direction": {"enum": ["outbound", "inbound"]},
                "status": ref("MessageStatus"),
                "sender_id": {"type": "string"},
                "to": {"type": "string"},
                "from": {"type": "string"},
                "mode": {"type": "string", "description": "text, template, media, ..."},
                "provider_message_id": nullable_string,
                "created_at": {"type": "string", "format": "date-time"},
                "scheduled_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "broadcast_id": {"type": "string"},
                "metadata": {"type": "object"},
                "error": {"anyOf": [ref("MessageError"), {"type": "null"}]},
                "history": {"type": "array", "items": ref("HistoryEntry")},
                "attempts": {"type": "integer", "minimum": 0},
                "content": ref("MessageContent"),
                "text": {
                    "type": ["string", "null"],
                    "description": "inbound: the text, or a media's caption",
                },
                "media": {
                    "type": "object",
                    "description": "the stored media (id, mime_type, size, sha256, and inbound "
                    "its status and the provider's id)",
                },
                "reply_to_message_id": {"type": "string"},
                "referral": {
                    "type": "object",
                    "description": "inbound: the ad or post that started the chat "
                    "(source_url, source_id, source_type, headline, body, media, ctwa_clid)",
                },
                "flow_reply": {
                    "type": "object",
                    "description": "inbound: a WhatsApp Flow's answers {name, body, response}",
                },
                "kind": {
                    "type": "string",
                    "description": "inbound: its kind (unknown: kept whole)",
                },
                "contact": {
                    "type": "object",
                    "description": "inbound: the writer's business-scoped user id and "
                    "username {user_id, username}, when the provider gave them",
                },
                "group": {
                    "type": "object",
                    "description": "inbound, in a group: {id, participant} (who wrote)",
                },
                "not_before": {
                    "type": "string",
                    "format": "date-time",
                    "description": "a queued message's next attempt (paced, scheduled, retried)",
                },
                "erased_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "its contact was erased: `to`/`from` is a pseudonym",
                },
                "erased": {
                    "type": "boolean",
                    "description": "in a replayed answer (always true): the contact was erased since",
                },
            },
        },
        "MessageError": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
        "HistoryEntry": {
            "type": "object",
            "required": ["status", "at"],
            "properties": {
                "status": ref("MessageStatus"),
                "at": {"type": "string", "format": "date-time"},
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "provider": nullable_string,
                        "provider_code": nullable_string,
                        "provider_message": nullable_string,
                    },
                },
            },
        },
        "MessageContent": {
            "description": (
                "What was sent: the value under the message's mode in the request shape (a "
                "text is a string, or {body, preview_url}; contacts a list; the other modes "
                "an object as sent). An inbound message of a kind waport does not know "
                "keeps the provider's own object here."
            ),
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}},
                {"type": "object"},
            ],
        },
        "Broadcast": {
            "type": "object",
            "required": ["broadcast_id", "summary", "results"],
            "properties": {
                "broadcast_id": {"type": "string"},
                "summary": {
                    "type": "object",
                    "required": ["total", "sent", "pending", "failed"],
                    "properties": {
                        k: {"type": "integer"} for k in ("total", "sent", "pending", "failed")
                    },
                },
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message_id", "to", "status", "error"],
                        "properties": {
                            "message_id": {"type": "string"},
                            "to": {"type": "string"},
                            "status": {"enum": ["scheduled", "pending", "sent", "failed"]},
                            "error": {"type": ["object", "null"]},
                        },
                    },
                },
            },
        },
        "StoredMedia": {
            "type": "object",
            "required": ["media_id", "mime_type", "size", "sha256", "filename", "created_at"],
            "properties": {
                "media_id": {"type": "string", "pattern": "^med_"},
                "mime_type": {"type": "string"},
                "size": {"type": "integer", "minimum": 0},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "filename": nullable_string,
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "Window": {
            "type": "object",
            "required": [
                "within_window",
                "reason",
                "last_inbound_at",
                "hours_since_last_inbound",
                "expires_at",
            ],
            "properties": {
                "within_window": {"type": "boolean"},
                "reason": {"enum": ["within_window", "window_expired", "no_inbound_history"]},
                "last_inbound_at": nullable_string,
                "hours_since_last_inbound": {"type": ["number", "null"]},
                "expires_at": nullable_string,
            },
        },
        "Key": {
            "type": "object",
            "required": ["id", "scopes"],
            "properties": {
                "id": {"type": "string"},
                "key": {"type": "string", "description": "Shown once, at creation"},
                "scopes": {"type": "array", "items": {"enum": sorted(SCOPES)}},
                "senders": {"type": ["array", "null"], "items": {"type": "string"}},
            },
        },
    }
    return schemas


_CHECK = {"type": "string", "description": '"ok", or "failing: " and why'}
PROBE_SCHEMAS: Final = {
    "StreamEvent": {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"enum": ["ready", "reset", "message"]},
            "data": {"type": "string", "contentMediaType": "application/json"},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "retry": {"type": "integer"},
        },
    },
    "Liveness": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"enum": ["ok"]}, "data": {"type": "object"}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"enum": ["ok", "error"]},
            "data": {
                "type": "object",
                "required": ["store", "provider"],
                "properties": {"store": _CHECK, "provider": _CHECK},
            },
        },
    },
}
