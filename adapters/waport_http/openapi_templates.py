"""The OpenAPI paths of ``/v1/templates``: the catalogue, a sync from the provider, and
creating and deleting a template through the provider (its review comes back as
``template.updated``), with the schemas of a template and of a template to create."""

from __future__ import annotations

from typing import Any

from waport.domain import template_drafts as rules
from waport.domain.templates import HeaderFormat, TemplateCategory, TemplateStatus
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
from waport_http.openapi_schemas import LANGUAGE, ref

_TEXT = {"type": "string", "minLength": 1}


def _examples(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": "string", "minLength": 1},
        "description": description,
    }


def template_schemas() -> dict[str, Any]:
    button = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"enum": [k.value for k in rules.PER_KIND]},
            "text": {**_TEXT, "maxLength": rules.LABEL_MAX},
            "url": {**_TEXT, "maxLength": rules.URL_MAX, "pattern": "^https?://"},
            "phone_number": {"type": "string", "pattern": r"^\+?[0-9]{4,19}$"},
            "example": {
                **_TEXT,
                "description": "a URL button's example URL, or a COPY_CODE button's example code",
            },
        },
    }
    return {
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
                "sender_id": {"type": "string", "description": "default: the workspace's"},
                "name": {"type": "string", "pattern": "^[a-z0-9_]{1,512}$"},
                "language": LANGUAGE,
                "category": {"enum": [c.value for c in TemplateCategory]},
                "body": {**_TEXT, "maxLength": rules.BODY_MAX},
                "examples": _examples("one example value per body parameter"),
                "header": {
                    "type": "object",
                    "required": ["format"],
                    "additionalProperties": False,
                    "properties": {
                        "format": {"enum": [f.value for f in HeaderFormat]},
                        "text": {**_TEXT, "maxLength": rules.HEADER_MAX},
                        "examples": _examples("the text header's one parameter's example"),
                        "example": {
                            **_TEXT,
                            "description": "a media header's sample (the provider's upload handle)",
                        },
                    },
                },
                "footer": {**_TEXT, "maxLength": rules.FOOTER_MAX},
                "buttons": {"type": "array", "maxItems": rules.BUTTONS_MAX, "items": button},
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
