"""The OpenAPI paths of ``/v1/contacts``: the listing, one contact, changing and erasing
it, and whether a number has WhatsApp."""

from __future__ import annotations

from typing import Any

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
    query_param,
)
from waport_http.openapi_schemas import PERSON, ref


def contact_paths() -> dict[str, Any]:
    return {
        "/v1/contacts": {
            "get": operation(
                "The workspace's contacts by number, filtered, a page at a time",
                "messages:read",
                {
                    "200": ok_response(page_of(ref("Contact"))),
                    **error_responses(400, *AUTH_ERRORS, 500),
                },
                parameters=[
                    query_param("label", {"type": "string"}, "contacts with this label"),
                    query_param("opted_out", {"enum": ["true", "false"]}, "opted out, or not"),
                    query_param("q", {"type": "string"}, "the start of the number or the name"),
                    *PAGE_PARAMETERS,
                ],
            )
        },
        "/v1/contacts/{phone}": {
            "get": operation(
                "One contact: labels, attributes, names, first and last seen, windows, opt-out",
                "messages:read",
                {
                    "200": ok_response(envelope(ref("Contact"), ["ok"])),
                    **error_responses(400, *AUTH_ERRORS, 404, 500),
                },
                parameters=[path_param("phone", PERSON)],
            ),
            "patch": operation(
                "Change a contact: labels added and removed, attributes, name, opt-out",
                "messages:send",
                {
                    "200": ok_response(envelope(ref("Contact"), ["ok"])),
                    **error_responses(*COMMON_ERRORS, *AUTH_ERRORS),
                },
                parameters=[path_param("phone", PERSON)],
                requestBody=json_body(ref("ContactPatch")),
            ),
            "delete": operation(
                "Erase a contact (data protection): number hashed, texts, names, labels and "
                "their media removed, statuses kept; messages not sent yet fail CONTACT_ERASED",
                "admin",
                {
                    "200": ok_response(
                        envelope(
                            {
                                "type": "object",
                                "required": ["erased", "pseudonym", "messages", "media"],
                                "properties": {
                                    "erased": {"type": "boolean", "description": "always true"},
                                    "pseudonym": {
                                        "type": "string",
                                        "description": "what the erased messages name instead",
                                    },
                                    "messages": {"type": "integer", "minimum": 0},
                                    "media": {"type": "integer", "minimum": 0},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **error_responses(400, *AUTH_ERRORS, 500),
                },
                parameters=[path_param("phone", PERSON)],
            ),
        },
        "/v1/contacts/{phone}/whatsapp": {
            "get": operation(
                "Whether a number has WhatsApp (providers that can tell: WAHA, the sandbox; "
                "others answer FEATURE_NOT_SUPPORTED)",
                "messages:read",
                {
                    "200": ok_response(
                        envelope(
                            {
                                "type": "object",
                                "properties": {
                                    "phone": {"type": "string"},
                                    "sender_id": {"type": "string"},
                                    "on_whatsapp": {"type": "boolean"},
                                },
                            },
                            ["ok"],
                        )
                    ),
                    **error_responses(400, *AUTH_ERRORS, 422, 502, 503),
                },
                parameters=[
                    path_param("phone", PERSON),
                    query_param("sender_id", {"type": "string"}, "ask through this sender"),
                ],
            )
        },
    }
