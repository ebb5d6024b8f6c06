"""Pieces of the OpenAPI document shared by its path tables: operations, envelopes,
error responses by status, and the common parameters."""

from __future__ import annotations

from typing import Any, Final

from waport.domain.errors import ErrorCode
from waport.domain.messages import MODES
from waport.domain.status import MessageStatus
from waport_http.openapi_schemas import RECIPIENT, ref

JSON = "application/json"


def error_responses(*statuses: int) -> dict[str, Any]:
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


def operation(
    summary: str, scope: str | None, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if scope is not None:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
        op["x-waport-scope"] = scope
        op["description"] = (op.get("description", "") + f"\n\nScope: `{scope}`.").strip()
    return op


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def ok_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def path_param(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema or {"type": "string"},
    }


def envelope(data: dict[str, Any], status_values: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"enum": status_values}, "data": data},
    }


IDEMPOTENCY_HEADER: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255, "pattern": "^[ -~]*[!-~][ -~]*$"},
    "description": "1-255 printable ASCII characters",
}
PREFER_HEADER: Final = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "examples": ["respond-async"]},
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    page = envelope({"type": "array", "items": item}, ["ok"])
    page["required"] = [*page["required"], "next_cursor"]
    page["properties"]["next_cursor"] = {"type": ["string", "null"]}
    return page


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PAGE_PARAMETERS: Final = [
    query_param(
        "limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "page size"
    ),
    query_param("cursor", {"type": "string"}, "next_cursor of the page before"),
]
"""``limit`` and ``cursor``: every listing's."""

LISTING_PARAMETERS: Final = [
    query_param("contact", RECIPIENT, "the contact's number (any spelling) or JID"),
    query_param("sender_id", {"type": "string"}, "one sender of the workspace"),
    query_param("direction", {"enum": ["inbound", "outbound"]}, "inbound or outbound only"),
    query_param("status", {"enum": [s.value for s in MessageStatus]}, "in this status now"),
    query_param("mode", {"enum": list(MODES)}, "sent in this mode (inbound: the kind's mode)"),
    query_param("broadcast_id", {"type": "string"}, "the rows of one broadcast"),
    query_param("since", {"type": "string", "format": "date-time"}, "created at or after"),
    query_param("until", {"type": "string", "format": "date-time"}, "created before"),
    *PAGE_PARAMETERS,
]


CONVERSATION_PARAMETERS: Final = [
    query_param("sender_id", {"type": "string"}, "one sender of the workspace"),
    *PAGE_PARAMETERS,
]


def refuses_unknown_query(paths: dict[str, Any]) -> None:
    """An operation that reads query parameters refuses one it does not know (or one
    given twice) with 400 ``VALIDATION_FAILED``: say so where it is not said yet."""
    for operations in paths.values():
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            if names and "400" not in operation["responses"]:
                operation["responses"] |= error_responses(400)
            if "cursor" in names and "422" not in operation["responses"]:
                operation["responses"] |= error_responses(422)  # INVALID_CURSOR
