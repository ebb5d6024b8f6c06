"""The OpenAPI 3.1 document of the REST API (served at ``/openapi.json``).

Built from the same tables the code uses (error codes, scopes, modes), so it
cannot drift from them; schemathesis checks every response against it in CI.
"""

from __future__ import annotations

from typing import Any

from waport.domain.errors import ErrorCode
from waport.domain.limits import MediaKind
from waport.domain.media import DATA_URI_PATTERN
from waport.domain.records import SCOPES
from waport_http.auth import MAX_RATE_PER_MINUTE
from waport_http.forms import JSON_FIELDS
from waport_http.openapi_bodies import name_bodies
from waport_http.openapi_contacts import contact_paths
from waport_http.openapi_events import webhook_schemas, webhooks
from waport_http.openapi_names import name_operations
from waport_http.openapi_parts import (
    AUTH_ERRORS,
    COMMON_ERRORS,
    CONVERSATION_PARAMETERS,
    IDEMPOTENCY_HEADER,
    JSON,
    LISTING_PARAMETERS,
    PREFER_HEADER,
    envelope,
    error_responses,
    json_body,
    ok_response,
    operation,
    page_of,
    path_param,
    refuses_unknown_query,
)
from waport_http.openapi_schemas import PROBE_SCHEMAS, RECIPIENT, component_schemas, ref
from waport_http.openapi_sends import UPLOAD_TYPES, send_schemas
from waport_http.openapi_templates import template_paths, template_schemas
from waport_http.openapi_tenants import tenant_paths, tenant_schemas


def openapi_document() -> dict[str, Any]:
    schemas = (
        component_schemas()
        | tenant_schemas()
        | send_schemas()
        | template_schemas()
        | webhook_schemas()
        | PROBE_SCHEMAS
    )
    send_errors = error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 402, 404, 409, 422, 502, 503)
    paths: dict[str, Any] = {
        "/v1/messages": {
            "post": operation(
                "Send one message",
                "messages:send",
                {
                    "200": ok_response(
                        envelope(ref("Message"), ["sent"]),
                        "The provider accepted the message at once",
                    ),
                    "202": ok_response(
                        envelope(ref("Message"), ["pending"]),
                        "Queued or scheduled (always, with Prefer: respond-async)",
                    ),
                    **send_errors,
                },
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("SendRequest")},
                        "multipart/form-data": {
                            "schema": ref("SendForm"),
                            "encoding": {
                                name: {"contentType": "application/json"}
                                for name in sorted(JSON_FIELDS)
                            },
                        },
                    },
                },
                parameters=[
                    IDEMPOTENCY_HEADER,
                    PREFER_HEADER,
                ],
                description=(
                    "X-RateLimit-Reset is the Unix time at which the key's quota is fully restored. "
                    "Idempotency-Key: the same key and body replay the first answer (Idempotent-Replayed: true) for 24 h. "
                    "Prefer: respond-async answers 202 once the message is stored and leaves the attempt "
                    "to the dispatcher (Preference-Applied: respond-async)."
                ),
            ),
            "get": operation(
                "The workspace's messages, newest first, filtered, a page at a time",
                "messages:read",
                {
                    "200": ok_response(page_of(ref("Message"))),
                    **error_responses(400, *AUTH_ERRORS, 500),
                },
                parameters=LISTING_PARAMETERS,
                description=(
                    "Pages follow next_cursor (null on the last page): a walk shows each message "
                    "once, and messages that arrive meanwhile never shift it. A number-scoped key "
                    "sees its senders' messages only."
                ),
            ),
        },
        "/v1/messages/{message_id}": {
            "get": operation(
                "A message with its status history",
                "messages:read",
                {
                    "200": ok_response(envelope(ref("Message"), ["ok"])),
                    **error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[path_param("message_id")],
            )
        },
        "/v1/messages/{message_id}/read": {
            "post": operation(
                "Mark an inbound message read (and, with typing, show the contact a typing "
                "indicator: Meta's with the read receipt, WAHA's start-typing)",
                "messages:send",
                {
                    "200": ok_response(envelope(ref("Message"), ["ok"])),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 422, 502, 503),
                },
                parameters=[path_param("message_id")],
                requestBody={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"typing": {"type": "boolean", "default": False}},
                            }
                        }
                    },
                },
            )
        },
        "/v1/window-status": {
            "get": operation(
                "The 24-hour customer-service window for a contact",
                "messages:read",
                {
                    "200": ok_response(envelope(ref("Window"), ["ok"])),
                    **error_responses(400, *AUTH_ERRORS, 422, 500),
                },
                parameters=[
                    {"name": "to", "in": "query", "required": True, "schema": RECIPIENT},
                    {
                        "name": "from",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/v1/broadcasts": {
            "post": operation(
                "One approved template to 1-256 recipients",
                "broadcasts:send",
                {
                    "200": ok_response(
                        envelope(ref("Broadcast"), ["ok"]),
                        "No row failed, and at least one has gone out",
                    ),
                    "202": ok_response(
                        envelope(ref("Broadcast"), ["pending"]),
                        "No row failed and none has gone out yet: queued (Prefer: respond-async),"
                        " scheduled or paced",
                    ),
                    "207": ok_response(
                        envelope(ref("Broadcast"), ["partial"]), "At least one recipient failed"
                    ),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 402, 409, 422),
                },
                requestBody={
                    "required": True,
                    "content": {JSON: {"schema": ref("BroadcastRequest")}},
                },
                parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
                description=(
                    "Prefer: respond-async answers 202 (207 if a row was refused) once the rows "
                    "are stored and leaves the attempts to the dispatcher."
                ),
            )
        },
        "/v1/broadcasts/{broadcast_id}": {
            "get": operation(
                "A broadcast's per-recipient results",
                "messages:read",
                {
                    "200": ok_response(envelope(ref("Broadcast"), ["ok"])),
                    **error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[path_param("broadcast_id")],
            )
        },
        "/v1/media": {
            "post": operation(
                "Upload media once (streamed into the media store); send it by its id",
                "messages:send",
                {
                    "201": ok_response(envelope(ref("StoredMedia"), ["ok"]), "Stored"),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 408, 422),
                },
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "additionalProperties": False,
                                "properties": {
                                    "type": {
                                        "enum": ["", *(k.value for k in MediaKind)],
                                        "description": "empty: from the file's type",
                                    },
                                    "filename": {"type": "string"},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        },
                        **{
                            mime: {"schema": {"type": "string", "format": "binary"}}
                            for mime in UPLOAD_TYPES
                        },
                    },
                },
                parameters=[
                    {
                        "name": "filename",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "type",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": [k.value for k in MediaKind]},
                    },
                ],
                description=(
                    "The raw body with its Content-Type, or a multipart field `file`. The type "
                    "and size are checked against the media kind's limits as the bytes arrive. "
                    'A send then uses `"media": {"id": "med_..."}` (or a template header).'
                ),
            )
        },
        "/v1/media/{media_id}": {
            "get": operation(
                "Download media (ETag, Range, If-None-Match)",
                "messages:read",
                {
                    "200": {
                        "description": "The bytes, with Content-Type, ETag and Content-Disposition",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "206": {
                        "description": "The Range asked for, with Content-Range",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "304": {"description": "If-None-Match named the ETag"},
                    **error_responses(*AUTH_ERRORS, 404, 416, 500),
                },
                parameters=[path_param("media_id")],
            ),
            "delete": operation(
                "Delete media",
                "messages:send",
                {
                    "200": ok_response(
                        envelope(
                            {
                                "type": "object",
                                "properties": {
                                    "media_id": {"type": "string"},
                                    "deleted": {"type": "boolean", "description": "always true"},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[path_param("media_id")],
            ),
        },
        "/v1/conversations": {
            "get": operation(
                "One row per (contact, sender): the latest message, unread count, window",
                "messages:read",
                {
                    "200": ok_response(page_of(ref("Conversation"))),
                    **error_responses(400, *AUTH_ERRORS, 500),
                },
                parameters=CONVERSATION_PARAMETERS,
                description=(
                    "Latest activity first; unread counts the inbound messages after the newest "
                    "one marked read. Pages follow next_cursor as for messages."
                ),
            )
        },
        "/v1/conversations/{contact}": {
            "get": operation(
                "One contact's messages, newest first (optionally with one sender)",
                "messages:read",
                {
                    "200": ok_response(page_of(ref("Message"))),
                    **error_responses(400, *AUTH_ERRORS, 500),
                },
                parameters=[path_param("contact", RECIPIENT), *CONVERSATION_PARAMETERS],
                description=(
                    "Each message as GET /v1/messages/{message_id} shows it (content, history, "
                    "media): a chat view needs no other call."
                ),
            )
        },
        "/v1/events/stream": {
            "get": operation(
                "Server-sent events: each change of a message the key may read, live",
                "messages:read",
                {
                    "200": {
                        "description": (
                            "text/event-stream: `ready` (or `reset`: reload, then go on), then "
                            "one `message` event per changed message, its data the message as "
                            "GET /v1/messages/{message_id} shows it, its id the change's number"
                        ),
                        "content": {
                            "text/event-stream": {
                                # each event (as OpenAPI 3.2's itemSchema would say)
                                "schema": ref("StreamEvent")
                            }
                        },
                    },
                    **error_responses(400, *AUTH_ERRORS, 429),
                },
                parameters=[
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                        "description": "resume after this event (EventSource sends it itself)",
                    }
                ],
                description=(
                    "Scoped to the key's workspace and senders. A comment line every 15 s "
                    "keeps the stream open through proxies; past 64 open streams a gateway answers 429."
                ),
            )
        },
        "/v1/keys": {
            "post": operation(
                "Create an API key (shown once)",
                "admin",
                {
                    "201": ok_response(envelope(ref("Key"), ["ok"]), "Created"),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS),
                },
                requestBody=json_body(
                    {
                        "type": "object",
                        "required": ["scopes"],
                        "additionalProperties": False,
                        "properties": {
                            "scopes": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"enum": sorted(SCOPES)},
                            },
                            "senders": {
                                "type": ["array", "null"],
                                "items": {"type": "string"},
                                "description": "the sender ids the key may use (null or absent: all)",
                            },
                            "label": {"type": "string", "maxLength": 200},
                            "rate_per_minute": {
                                "type": ["integer", "null"],
                                "minimum": 1,
                                "maximum": MAX_RATE_PER_MINUTE,
                                "description": "requests per minute (null or absent: the default)",
                            },
                        },
                    }
                ),
            ),
            "get": operation(
                "List the workspace's API keys",
                "admin",
                {
                    "200": ok_response(envelope({"type": "array", "items": ref("Key")}, ["ok"])),
                    **error_responses(*AUTH_ERRORS, 500),
                },
            ),
        },
        "/v1/keys/{key_id}": {
            "delete": operation(
                "Revoke an API key",
                "admin",
                {
                    "200": ok_response(envelope(ref("Key"), ["ok"])),
                    **error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[path_param("key_id")],
            )
        },
        "/v1/sandbox/inbound": {
            "post": operation(
                "Sandbox: a contact writes to a sender",
                "messages:send",
                {
                    "200": ok_response(envelope(ref("Message"), ["ok"])),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404, 422),
                },
                requestBody=json_body(
                    {
                        "type": "object",
                        "required": ["from"],
                        "additionalProperties": False,
                        "properties": {
                            "from": RECIPIENT,
                            "text": {
                                "type": "string",
                                "maxLength": 4096,
                                "description": "the text (1-4096), or media's caption (0-1024)",
                            },
                            "media": {
                                "description": 'what the contact sends: {"data": "data:..."}'
                                ' or {"id": "med_..."}; fetched into the media store as a'
                                " provider's would be",
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "required": [source],
                                        "additionalProperties": False,
                                        "properties": {
                                            source: {"type": "string", "pattern": DATA_URI_PATTERN}
                                            if source == "data"
                                            else {"type": "string"}
                                        },
                                    }
                                    for source in ("data", "id")
                                ]
                                + [{"type": "null"}],
                            },
                            "to_sender": {
                                "type": ["string", "null"],
                                "description": "the sender written to (the key's first)",
                            },
                            "reply_to": {
                                "type": ["string", "null"],
                                "minLength": 1,
                                "description": "the message answered (waport's id or the"
                                " provider's): the event is message.reply, sent to that"
                                " message's webhook_url",
                            },
                        },
                    }
                ),
            )
        },
        "/v1/sandbox/script": {
            "post": operation(
                "Sandbox: script the next outcomes",
                "messages:send",
                {
                    "200": ok_response(envelope({"type": "object"}, ["ok"])),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404),
                },
                requestBody=json_body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "description": "A failure (fail_with), a delay (delay_ms), or both.",
                        "anyOf": [
                            {
                                "required": ["fail_with"],
                                "properties": {"fail_with": {"type": "string"}},
                            },
                            {
                                "required": ["delay_ms"],
                                "properties": {"delay_ms": {"exclusiveMinimum": 0}},
                            },
                        ],
                        "properties": {
                            "to": {**RECIPIENT, "type": ["string", "null"]},
                            "fail_with": {"enum": [*(c.value for c in ErrorCode), None]},
                            "delay_ms": {"type": "number", "minimum": 0, "maximum": 600_000},
                            "retry_after": {"type": "number", "minimum": 0, "maximum": 86_400},
                            "times": {"type": "integer", "minimum": 1, "maximum": 10_000},
                        },
                    }
                ),
            )
        },
        "/webhooks/{provider}": {
            "get": operation(
                "Provider subscription handshake (Meta's hub.challenge)",
                None,
                {
                    "200": {
                        "description": "The challenge",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **error_responses(400, 403, 404, 500),
                },
                parameters=[path_param("provider")],
            ),
            "post": operation(
                "Provider events (signed)",
                None,
                {
                    "200": ok_response(envelope({"type": "object"}, ["ok"])),
                    **error_responses(400, 401, 404, 413, 500),
                },
                parameters=[path_param("provider")],
            ),
        },
        "/openapi.json": {
            "get": operation(
                "This document",
                None,
                {"200": ok_response({"type": "object", "required": ["openapi", "paths"]})},
            )
        },
        "/livez": {
            "get": operation(
                "Liveness: the process answers (asks neither the store nor the provider)",
                None,
                {"200": ok_response(ref("Liveness"))},
            )
        },
        "/healthz": {
            "get": operation(
                "Readiness: the store answers, and the provider did at its last check",
                None,
                {
                    "200": ok_response(ref("Health")),
                    "503": ok_response(ref("Health"), "Unhealthy: which check failed"),
                },
                description="The provider is asked at most once every 10 seconds; "
                "probes in between get its last answer.",
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics (the metrics_token setting, or an admin key)",
                None,
                {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
    }
    every_path = paths | contact_paths() | tenant_paths() | template_paths()
    tags = name_operations(every_path)
    refuses_unknown_query(every_path)
    name_bodies(every_path, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "waport",
            "version": "0.1.0",
            "description": "WhatsApp Business messaging gateway. Every response carries X-Request-Id; "
            "authenticated responses carry X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset "
            "(Unix time) and the IETF RateLimit / RateLimit-Policy fields.",
        },
        "servers": [{"url": "/", "description": "the gateway that serves this document"}],
        "tags": tags,
        "paths": every_path,
        "webhooks": webhooks(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }
