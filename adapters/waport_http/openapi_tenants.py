"""The OpenAPI paths and schemas of ``/v1/workspaces`` and ``/v1/senders``."""

from __future__ import annotations

from typing import Any

from waport.domain.consent import MAX_KEYWORD
from waport.domain.ledger import CATEGORIES, CREDIT_MAX, EntryKind
from waport.domain.recipients import NOT_BLANK_PATTERN
from waport.domain.tenants import (
    BILLING,
    ID_PATTERN,
    NAME_MAX,
    PACING_MAX_SECONDS,
    RATE_MAX,
    RATE_MIN,
    REPLY_MAX,
    SENDER_PHONE_PATTERN,
    STATUSES,
    TIERS,
)
from waport_http.openapi_parts import (
    AUTH_ERRORS,
    COMMON_ERRORS,
    PAGE_PARAMETERS,
    envelope,
    error_responses,
    json_body,
    ok_response,
    operation,
    page_of,
    path_param,
)
from waport_http.openapi_schemas import ref

_TIER = {"enum": list(TIERS), "description": "business-initiated conversations per 24 h"}
_ID = {"type": "string", "pattern": ID_PATTERN}
_KEYWORDS = {
    "type": ["array", "null"],
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_KEYWORD},
}
_ANY_CASE_CATEGORY = (
    "^(?:"
    + "|".join("".join(f"[{c.upper()}{c.lower()}]" for c in name) for name in CATEGORIES)
    + ")$"
)
_NAME = {"type": "string", "maxLength": NAME_MAX}
_SENDER_SETTABLE = {
    "phone": {
        "type": ["string", "null"],
        "pattern": SENDER_PHONE_PATTERN,
        "description": "the number people see: digits, with or without +",
    },
    "name": _NAME,
    "active": {"type": "boolean"},
}


def tenant_schemas() -> dict[str, Any]:
    settable = {
        "name": _NAME,
        "status": {"enum": list(STATUSES), "description": "operator only"},
        "messaging_tier": {**_TIER, "description": "operator only; null is unlimited"},
        "template_opens_window": {"type": "boolean"},
        "default_sender_id": {"type": ["string", "null"], "pattern": ID_PATTERN},
        "webhook_url": {"anyOf": [ref("HttpUrl"), {"type": "null"}]},
        "pacing": {
            "type": ["object", "null"],
            "description": "seconds between two sends of a category from one sender: "
            '{"MARKETING": [8, 25]}; null: the gateway\'s',
            "propertyNames": {"enum": list(CATEGORIES)},
            "additionalProperties": {
                "type": "array",
                "items": {"type": "number", "minimum": 0, "maximum": PACING_MAX_SECONDS},
                "minItems": 2,
                "maxItems": 2,
            },
        },
        "max_sends_per_second": {
            "type": ["number", "null"],
            "minimum": RATE_MIN,
            "maximum": RATE_MAX,
            "description": "per sender; null: the provider's rate",
        },
        "opt_out": {
            "type": ["object", "null"],
            "description": "the workspace's opt-out rules; null: the gateway's",
            "additionalProperties": False,
            "properties": {
                "keywords": _KEYWORDS,
                "opt_in_keywords": _KEYWORDS,
                "blocked_categories": {
                    "type": ["array", "null"],
                    "items": {"type": "string", "pattern": _ANY_CASE_CATEGORY},
                },
                "reply": {"type": ["string", "null"], "minLength": 1, "maxLength": REPLY_MAX},
            },
        },
        "billing": {
            "enum": list(BILLING),
            "description": "operator only; prepaid starts at 0 and moves with the ledger",
        },
    }
    return {
        "Workspace": {
            "type": "object",
            "required": ["id", "name", "status", "messaging_tier"],
            "properties": {
                "id": {"type": "string"},
                **settable,
                "balance": {"type": ["integer", "null"]},
                "admin_key": {
                    **ref("Key"),
                    "description": "at creation only: the first admin key, shown once",
                },
            },
        },
        "WorkspacePatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": settable,
        },
        "WorkspaceCreate": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {
                "id": _ID,
                **settable,
            },
        },
        "LedgerEntry": {
            "type": "object",
            "required": ["id", "kind", "amount", "at"],
            "properties": {
                "id": {"type": "string"},
                "kind": {"enum": [k.value for k in EntryKind]},
                "amount": {"type": "integer", "description": "what it added to the balance"},
                "at": {"type": "string", "format": "date-time"},
                "message_id": {"type": ["string", "null"]},
                "category": {"type": ["string", "null"]},
                "reason": {"type": "string"},
            },
        },
        "Sender": {
            "type": "object",
            "required": ["id", "active"],
            "properties": {
                "id": {
                    "type": "string",
                    "description": "the provider's id of the number (Meta phone number id, "
                    "WAHA session)",
                },
                "workspace_id": {"type": "string"},
                "phone": {"type": ["string", "null"], "description": "the number people see"},
                "name": {"type": "string"},
                "active": {"type": "boolean"},
                "health": {
                    "type": "object",
                    "readOnly": True,
                    "description": (
                        "the provider's latest word on it (WAHA session status, Meta "
                        "quality and account updates); while available is false its sends "
                        "fail fast with PROVIDER_UNAVAILABLE"
                    ),
                    "properties": {
                        "available": {"type": "boolean"},
                        "state": {"type": ["string", "null"]},
                        "quality": {"type": ["string", "null"]},
                        "messaging_limit": {"type": ["string", "null"]},
                        "reason": {"type": ["string", "null"]},
                        "at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
        },
        "SenderCreate": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {"id": _ID, **_SENDER_SETTABLE},
        },
        "SenderPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": _SENDER_SETTABLE,
        },
    }


def _one(name: str) -> dict[str, Any]:
    return ok_response(envelope(ref(name), ["ok"]))


def _many(name: str) -> dict[str, Any]:
    return ok_response(envelope({"type": "array", "items": ref(name)}, ["ok"]))


def tenant_paths() -> dict[str, Any]:
    changes = error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404, 422)
    return {
        "/v1/workspaces": {
            "post": operation(
                "Create a workspace, with its first admin key (shown once)",
                "operator",
                {
                    "201": _one("Workspace"),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 409, 422),
                },
                requestBody=json_body(ref("WorkspaceCreate")),
            ),
            "get": operation(
                "Every workspace",
                "operator",
                {"200": _many("Workspace"), **error_responses(*AUTH_ERRORS, 500)},
            ),
        },
        "/v1/workspaces/{workspace_id}": {
            "get": operation(
                "One workspace (an operator's key: any; a workspace's key: its own)",
                "admin",
                {"200": _one("Workspace"), **error_responses(*AUTH_ERRORS, 404, 500)},
                parameters=[path_param("workspace_id")],
            ),
            "patch": operation(
                "Change a workspace (status and messaging tier: operator only)",
                "admin",
                {"200": _one("Workspace"), **changes},
                parameters=[path_param("workspace_id")],
                requestBody=json_body(ref("WorkspacePatch")),
            ),
        },
        "/v1/workspaces/{workspace_id}/balance": {
            "post": operation(
                "Credit (or, with a negative amount, debit) a prepaid workspace, with a reason",
                "operator",
                {
                    "200": ok_response(
                        envelope(
                            {
                                "type": "object",
                                "properties": {
                                    "workspace_id": {"type": "string"},
                                    "balance": {"type": "integer"},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 402, 404, 409),
                },
                parameters=[path_param("workspace_id")],
                requestBody=json_body(
                    {
                        "type": "object",
                        "required": ["amount", "reason"],
                        "additionalProperties": False,
                        "properties": {
                            "amount": {
                                "type": "integer",
                                "not": {"const": 0},
                                "minimum": -CREDIT_MAX,
                                "maximum": CREDIT_MAX,
                            },
                            "reason": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 200,
                                "pattern": NOT_BLANK_PATTERN,
                            },
                        },
                    }
                ),
            )
        },
        "/v1/workspaces/{workspace_id}/ledger": {
            "get": operation(
                "Every debit, refund and credit of a workspace, newest first, a page at a time",
                "admin",
                {
                    "200": ok_response(page_of(ref("LedgerEntry"))),
                    **error_responses(400, *AUTH_ERRORS, 404, 500),
                },
                parameters=[
                    path_param("workspace_id"),
                    *PAGE_PARAMETERS,
                ],
            )
        },
        "/v1/senders": {
            "post": operation(
                "Add a provider's number to the workspace (409 if another workspace has it)",
                "admin",
                {"201": _one("Sender"), **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 409)},
                requestBody=json_body(ref("SenderCreate")),
            ),
            "get": operation(
                "The workspace's senders the key may use",
                "messages:read",
                {"200": _many("Sender"), **error_responses(*AUTH_ERRORS, 500)},
            ),
        },
        "/v1/senders/{sender_id}": {
            "get": operation(
                "One sender",
                "messages:read",
                {"200": _one("Sender"), **error_responses(*AUTH_ERRORS, 404, 500)},
                parameters=[path_param("sender_id")],
            ),
            "patch": operation(
                "Change a sender: display number, name, active",
                "admin",
                {"200": _one("Sender"), **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 404)},
                parameters=[path_param("sender_id")],
                requestBody=json_body(ref("SenderPatch")),
            ),
            "delete": operation(
                "Retire a sender (it stops sending; its messages stay)",
                "admin",
                {"200": _one("Sender"), **error_responses(*AUTH_ERRORS, 404, 500)},
                parameters=[path_param("sender_id")],
            ),
        },
    }
