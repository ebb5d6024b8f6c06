"""The OpenAPI paths of ``/v1/templates``: the catalogue, a sync from the provider, and
creating and deleting a template through the provider (its review comes back as
``template.updated``), with the schemas of a template and of a template to create."""

from __future__ import annotations

from typing import Any

from waport.domain import template_drafts as rules
from waport.domain.templates import ButtonKind, HeaderFormat, TemplateCategory, TemplateStatus
from waport_http.openapi_parts import (
    AUTH_ERRORS,
    COMMON_ERRORS,
    envelope,
    error_responses,
    json_body,
    ok_response,
    operation,
    query_param,
)
from waport_http.openapi_schemas import ref

_TEXT = {"type": "string", "minLength": 1}


def _examples(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": "string", "minLength": 1},
        "description": description,
    }


def template_schemas() -> dict[str, Any]:
    label = {**_TEXT, "maxLength": rules.LABEL_MAX}
    fields: dict[ButtonKind, tuple[dict[str, Any], tuple[str, ...]]] = {
        ButtonKind.QUICK_REPLY: ({"text": label}, ("text",)),
        ButtonKind.URL: (
            {
                "text": label,
                "url": {**_TEXT, "maxLength": rules.URL_MAX, "pattern": "^https?://"},
                "example": {
                    **_TEXT,
                    "maxLength": rules.URL_MAX,
                    "description": "the example URL, when the URL ends in {{1}}",
                },
            },
            ("text", "url"),
        ),
        ButtonKind.PHONE_NUMBER: (
            {
                "text": label,
                "phone_number": {
                    "type": "string",
                    "maxLength": rules.PHONE_MAX,
                    "pattern": f"^{rules.PHONE.pattern}$",
                },
            },
            ("text", "phone_number"),
        ),
        ButtonKind.COPY_CODE: (
            {"example": {**_TEXT, "maxLength": rules.CODE_MAX, "description": "an example code"}},
            ("example",),
        ),
        ButtonKind.OTP: ({"text": label}, ()),
    }
    buttons = {
        f"{kind.value.title().replace('_', '')}Button": {
            "type": "object",
            "required": ["type", *required],
            "additionalProperties": False,
            "properties": {"type": {"const": kind.value}, **properties},
        }
        for kind, (properties, required) in fields.items()
    }
    headers = {
        "TextHeader": {
            "type": "object",
            "required": ["format", "text"],
            "additionalProperties": False,
            "properties": {
                "format": {"const": HeaderFormat.TEXT.value},
                "text": {**_TEXT, "maxLength": rules.HEADER_MAX},
                "examples": _examples("the header's one parameter's example"),
            },
        },
        "MediaHeader": {
            "type": "object",
            "required": ["format", "example"],
            "additionalProperties": False,
            "properties": {
                "format": {"enum": [f.value for f in rules.MEDIA_HEADERS]},
                "example": {
                    **_TEXT,
                    "maxLength": rules.URL_MAX,
                    "description": "a sample (the provider's upload handle)",
                },
            },
        },
        "LocationHeader": {
            "type": "object",
            "required": ["format"],
            "additionalProperties": False,
            "properties": {"format": {"const": HeaderFormat.LOCATION.value}},
        },
    }
    return {
        **buttons,
        **headers,
        "TemplateDraft": {
            "type": "object",
            "description": (
                "A template to submit for review. Parameters are numbered ({{1}}..{{n}}) or "
                "named ({{first_name}}), with one example each; AUTHENTICATION templates are "
                "one OTP button (Meta writes their text)."
            ),
            "required": ["name", "language", "category"],
            "additionalProperties": False,
            "properties": {
                "sender_id": {
                    "type": ["string", "null"],
                    "description": "default: the workspace's",
                },
                "name": {"type": "string", "pattern": f"^{rules.NAME.pattern}$"},
                "language": {"type": "string", "pattern": f"^{rules.LANGUAGE.pattern}$"},
                "category": {"enum": [c.value for c in TemplateCategory]},
                "body": {**_TEXT, "maxLength": rules.BODY_MAX},
                "examples": _examples("one example value per body parameter"),
                "header": {"oneOf": [ref(name) for name in headers]},
                "footer": {**_TEXT, "maxLength": rules.FOOTER_MAX},
                "buttons": {
                    "type": "array",
                    "maxItems": rules.BUTTONS_MAX,
                    "items": {"oneOf": [ref(name) for name in buttons]},
                },
            },
        },
        "Template": {
            "type": "object",
            "required": ["sender_id", "name", "language", "status", "category"],
            "properties": {
                "sender_id": {"type": "string"},
                "name": {"type": "string"},
                "language": {"type": "string"},
                "status": {"enum": [s.value for s in TemplateStatus]},
                "category": {"enum": [c.value for c in TemplateCategory]},
                "quality": {"type": ["string", "null"], "description": "GREEN, YELLOW, RED"},
                "reason": {"type": ["string", "null"], "description": "why it last changed"},
                "provider_id": {"type": ["string", "null"]},
                "body": {"type": "string"},
                "params": {"type": "object"},
            },
        },
    }


SENDER = query_param("sender_id", {"type": "string"}, "one sender (default: the workspace's)")


def template_paths() -> dict[str, Any]:
    return {
        "/v1/templates": {
            "get": operation(
                "The template catalogue of the workspace's senders",
                "templates:read",
                {
                    "200": ok_response(
                        envelope({"type": "array", "items": ref("Template")}, ["ok"])
                    ),
                    **error_responses(*AUTH_ERRORS, 422, 500),
                },
                parameters=[SENDER],
            ),
            "post": operation(
                "Create a template: checked, submitted to the provider for review (PENDING "
                "until its template.updated)",
                "templates:write",
                {
                    "201": ok_response(envelope(ref("Template"), ["ok"]), "Created"),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 409, 422, 502, 503),
                },
                requestBody=json_body(ref("TemplateDraft")),
            ),
        },
        "/v1/templates/sync": {
            "post": operation(
                "Fetch the templates from the provider",
                "templates:write",
                {
                    "200": ok_response(envelope({"type": "object"}, ["ok"])),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS, 422, 502, 503),
                },
            )
        },
        "/v1/templates/{name}": {
            "delete": operation(
                "Delete a template in every language, at the provider and in the catalogue",
                "templates:write",
                {
                    "200": ok_response(
                        envelope(
                            {
                                "type": "object",
                                "required": ["name", "deleted"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "deleted": {"type": "integer", "minimum": 1},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **error_responses(400, *AUTH_ERRORS, 404, 422, 502, 503),
                },
                parameters=[
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        # /v1/templates/sync is another operation's path
                        "schema": {"type": "string", "pattern": "^(?!sync$)[^/]+$"},
                    },
                    SENDER,
                ],
            )
        },
    }
