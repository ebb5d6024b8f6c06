"""The OpenAPI 3.1 document of the REST API (served at ``/openapi.json``).

Built from the same tables the code uses (error codes, scopes, modes), so it
cannot drift from them; schemathesis checks every response against it in CI.
"""

from __future__ import annotations

from typing import Any, Final

from waport.domain.errors import ErrorCode
from waport.domain.messages import MODES
from waport.domain.records import SCOPES
from waport.domain.status import MessageStatus
from waport_http.auth import MAX_RATE_PER_MINUTE
from waport_http.openapi_schemas import component_schemas, ref

JSON = "application/json"


def _error_responses(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        codes = sorted(c.value for c in ErrorCode if c.http_status == status)
        out[str(status)] = {
            "description": f"Error: {', '.join(codes)}",
            "content": {JSON: {"schema": ref("Error")}},
        }
    return out


AUTH_ERRORS = (401, 403, 429)
COMMON_ERRORS = (400, 413, 415, 500)


def _op(summary: str, scope: str | None, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if scope is not None:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
        op["x-waport-scope"] = scope
        op["description"] = (op.get("description", "") + f"\n\nScope: `{scope}`.").strip()
    return op


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _envelope(data: dict[str, Any], status_values: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"enum": status_values}, "data": data},
    }


IDEMPOTENCY_HEADER: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
}
PREFER_HEADER: Final = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "examples": ["respond-async"]},
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    page = _envelope({"type": "array", "items": item}, ["ok"])
    page["required"] = [*page["required"], "next_cursor"]
    page["properties"]["next_cursor"] = {"type": ["string", "null"]}
    return page


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


LISTING_PARAMETERS: Final = [
    _query("contact", {"type": "string"}, "the contact's number (any spelling) or JID"),
    _query("sender_id", {"type": "string"}, "one sender of the workspace"),
    _query("direction", {"enum": ["inbound", "outbound"]}, "inbound or outbound only"),
    _query("status", {"enum": [s.value for s in MessageStatus]}, "in this status now"),
    _query("mode", {"enum": list(MODES)}, "sent in this mode (inbound: the kind's mode)"),
    _query("broadcast_id", {"type": "string"}, "the rows of one broadcast"),
    _query("since", {"type": "string", "format": "date-time"}, "created at or after"),
    _query("until", {"type": "string", "format": "date-time"}, "created before"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "page size"),
    _query("cursor", {"type": "string"}, "next_cursor of the page before"),
]


def openapi_document() -> dict[str, Any]:
    schemas = component_schemas()
    send_errors = _error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 402, 404, 409, 422, 502, 503)
    paths: dict[str, Any] = {
        "/v1/messages": {
            "post": _op(
                "Send one message",
                "messages:send",
                {
                    "200": _ok(
                        _envelope(ref("Message"), ["sent"]),
                        "The provider accepted the message at once",
                    ),
                    "202": _ok(
                        _envelope(ref("Message"), ["pending"]),
                        "Queued or scheduled (always, with Prefer: respond-async)",
                    ),
                    **send_errors,
                },
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("SendRequest")},
                        "multipart/form-data": {"schema": {"type": "object"}},
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
            "get": _op(
                "The workspace's messages, newest first, filtered, a page at a time",
                "messages:read",
                {
                    "200": _ok(_page(ref("Message"))),
                    **_error_responses(400, *AUTH_ERRORS, 500),
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
            "get": _op(
                "A message with its status history",
                "messages:read",
                {
                    "200": _ok(_envelope(ref("Message"), ["ok"])),
                    **_error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[_path_param("message_id")],
            )
        },
        "/v1/messages/{message_id}/read": {
            "post": _op(
                "Mark an inbound message read",
                "messages:send",
                {
                    "200": _ok(_envelope(ref("Message"), ["ok"])),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 422, 502, 503),
                },
                parameters=[_path_param("message_id")],
            )
        },
        "/v1/window-status": {
            "get": _op(
                "The 24-hour customer-service window for a contact",
                "messages:read",
                {
                    "200": _ok(_envelope(ref("Window"), ["ok"])),
                    **_error_responses(400, *AUTH_ERRORS, 422, 500),
                },
                parameters=[
                    {"name": "to", "in": "query", "required": True, "schema": {"type": "string"}},
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
            "post": _op(
                "One approved template to 1-256 recipients",
                "broadcasts:send",
                {
                    "200": _ok(
                        _envelope(ref("Broadcast"), ["ok"]),
                        "No row failed, and at least one has gone out",
                    ),
                    "202": _ok(
                        _envelope(ref("Broadcast"), ["pending"]),
                        "No row failed and none has gone out yet: queued (Prefer: respond-async),"
                        " scheduled or paced",
                    ),
                    "207": _ok(
                        _envelope(ref("Broadcast"), ["partial"]), "At least one recipient failed"
                    ),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 402, 409, 422),
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
            "get": _op(
                "A broadcast's per-recipient results",
                "messages:read",
                {
                    "200": _ok(_envelope(ref("Broadcast"), ["ok"])),
                    **_error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[_path_param("broadcast_id")],
            )
        },
        "/v1/media": {
            "post": _op(
                "Upload media once (streamed into the media store); send it by its id",
                "messages:send",
                {
                    "201": _ok(_envelope(ref("StoredMedia"), ["ok"]), "Stored"),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 408, 422),
                },
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "type": {"type": "string"},
                                    "filename": {"type": "string"},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        },
                        "*/*": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                parameters=[
                    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                    for name in ("filename", "type")
                ],
                description=(
                    "The raw body with its Content-Type, or a multipart field `file`. The type "
                    "and size are checked against the media kind's limits as the bytes arrive. "
                    'A send then uses `"media": {"id": "med_..."}` (or a template header).'
                ),
            )
        },
        "/v1/media/{media_id}": {
            "get": _op(
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
                    **_error_responses(*AUTH_ERRORS, 404, 416, 500),
                },
                parameters=[_path_param("media_id")],
            ),
            "delete": _op(
                "Delete media",
                "messages:send",
                {
                    "200": _ok(
                        _envelope(
                            {
                                "type": "object",
                                "properties": {
                                    "media_id": {"type": "string"},
                                    "deleted": {"const": True},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **_error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[_path_param("media_id")],
            ),
        },
        "/v1/templates": {
            "get": _op(
                "The template catalogue of the workspace's senders",
                "templates:read",
                {
                    "200": _ok(_envelope({"type": "array", "items": {"type": "object"}}, ["ok"])),
                    **_error_responses(*AUTH_ERRORS, 422, 500),
                },
                parameters=[
                    {
                        "name": "sender_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
            )
        },
        "/v1/templates/sync": {
            "post": _op(
                "Fetch the templates from the provider",
                "templates:write",
                {
                    "200": _ok(_envelope({"type": "object"}, ["ok"])),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 422, 502, 503),
                },
            )
        },
        "/v1/keys": {
            "post": _op(
                "Create an API key (shown once)",
                "admin",
                {
                    "201": _ok(_envelope(ref("Key"), ["ok"]), "Created"),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS),
                },
                requestBody=_json_body(
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
                                "type": "array",
                                "items": {"type": "string"},
                                "description": "the sender ids the key may use (default: all)",
                            },
                            "label": {"type": "string", "maxLength": 200},
                            "rate_per_minute": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_RATE_PER_MINUTE,
                            },
                        },
                    }
                ),
            ),
            "get": _op(
                "List the workspace's API keys",
                "admin",
                {
                    "200": _ok(_envelope({"type": "array", "items": ref("Key")}, ["ok"])),
                    **_error_responses(*AUTH_ERRORS, 500),
                },
            ),
        },
        "/v1/keys/{key_id}": {
            "delete": _op(
                "Revoke an API key",
                "admin",
                {
                    "200": _ok(_envelope(ref("Key"), ["ok"])),
                    **_error_responses(*AUTH_ERRORS, 404, 500),
                },
                parameters=[_path_param("key_id")],
            )
        },
        "/v1/sandbox/inbound": {
            "post": _op(
                "Sandbox: a contact writes to a sender",
                "messages:send",
                {
                    "200": _ok(_envelope(ref("Message"), ["ok"])),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404, 422),
                },
                requestBody=_json_body(
                    {
                        "type": "object",
                        "required": ["from"],
                        "additionalProperties": False,
                        "properties": {
                            "from": {"type": "string", "description": "the contact's number"},
                            "text": {
                                "type": "string",
                                "maxLength": 4096,
                                "description": "the text (1-4096), or media's caption (0-1024)",
                            },
                            "media": {
                                "type": "object",
                                "description": 'what the contact sends: {"data": "data:..."}'
                                ' or {"id": "med_..."}; fetched into the media store as a'
                                " provider's would be",
                                "properties": {
                                    "data": {"type": "string"},
                                    "id": {"type": "string"},
                                },
                            },
                            "to_sender": {
                                "type": "string",
                                "description": "the sender written to (the key's first)",
                            },
                            "reply_to": {
                                "type": "string",
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
            "post": _op(
                "Sandbox: script the next outcomes",
                "messages:send",
                {
                    "200": _ok(_envelope({"type": "object"}, ["ok"])),
                    **_error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404),
                },
                requestBody=_json_body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "description": "A failure (fail_with), a delay (delay_ms), or both.",
                        "properties": {
                            "to": {
                                "type": "string",
                                "description": "only sends to this number (default: any)",
                            },
                            "fail_with": {"enum": [c.value for c in ErrorCode]},
                            "delay_ms": {"type": "number", "minimum": 0, "maximum": 600_000},
                            "retry_after": {"type": "number", "minimum": 0, "maximum": 86_400},
                            "times": {"type": "integer", "minimum": 1, "maximum": 10_000},
                        },
                    }
                ),
            )
        },
        "/webhooks/{provider}": {
            "get": _op(
                "Provider subscription handshake (Meta's hub.challenge)",
                None,
                {
                    "200": {
                        "description": "The challenge",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_error_responses(400, 403, 404, 500),
                },
                parameters=[_path_param("provider")],
            ),
            "post": _op(
                "Provider events (signed)",
                None,
                {
                    "200": _ok(_envelope({"type": "object"}, ["ok"])),
                    **_error_responses(400, 401, 404, 413, 500),
                },
                parameters=[_path_param("provider")],
            ),
        },
        "/openapi.json": {"get": _op("This document", None, {"200": _ok({"type": "object"})})},
        "/livez": {
            "get": _op(
                "Liveness: the process answers (asks neither the store nor the provider)",
                None,
                {"200": _ok({"type": "object"})},
            )
        },
        "/healthz": {
            "get": _op(
                "Readiness: the store answers, and the provider did at its last check",
                None,
                {"200": _ok({"type": "object"}), "503": _ok({"type": "object"}, "Unhealthy")},
                description="The provider is asked at most once every 10 seconds; "
                "probes in between get its last answer.",
            )
        },
        "/metrics": {
            "get": _op(
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
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "waport",
            "version": "0.1.0",
            "description": "WhatsApp Business messaging gateway. Every response carries X-Request-Id; "
            "authenticated responses carry X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset "
            "(Unix time) and the IETF RateLimit / RateLimit-Policy fields.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }
