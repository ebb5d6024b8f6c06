"""Every request body and JSON answer of the document as a named component schema.

A code generator names a model after its schema's name; an inline schema gets a name
made of the path and the status (``PostV1MessagesResponse200``). So, after the paths
are built, each inline schema moves to ``components`` under a name of its resource:

- an envelope around a resource ``X`` is ``XEnvelope``, one per resource whatever the
  operation (its ``status`` lists every value any operation answers), a page of them
  ``XPage``, a plain list ``XList``;
- an envelope around something of one operation's own is ``<Operation>Result`` inside
  ``<Operation>ResultEnvelope``;
- a request body is ``<Operation>Request`` (``<Operation>Form`` for multipart).
"""

from __future__ import annotations

from typing import Any

from waport_http.openapi_schemas import ref

JSON = "application/json"
_PREFIX = "#/components/schemas/"


def _pascal(operation_id: str) -> str:
    return operation_id[:1].upper() + operation_id[1:]


def _target(schema: dict[str, Any]) -> str | None:
    reference = schema.get("$ref")
    return reference.removeprefix(_PREFIX) if isinstance(reference, str) else None


def _is_envelope(schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    return "status" in properties and "data" in properties


def _envelope_name(base: str, schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    properties = schema["properties"]
    data = properties["data"]
    resource = _target(data)
    if resource is not None:
        return resource + "Envelope"
    if data.get("type") == "array" and (item := _target(data.get("items", {}))) is not None:
        return item + ("Page" if "next_cursor" in properties else "List")
    result = base + "Result"
    schemas[result] = data
    properties["data"] = ref(result)
    return result + "Envelope"


def _keep(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Add ``schema`` as ``name``; an envelope met again widens its ``status`` values."""
    kept = schemas.get(name)
    if kept is None:
        schemas[name] = schema
        return
    values = kept["properties"]["status"]["enum"]
    for value in schema["properties"]["status"]["enum"]:
        if value not in values:
            values.append(value)


def name_bodies(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Move every inline JSON or multipart schema of ``paths`` into ``schemas``."""
    for operations in paths.values():
        for operation in operations.values():
            base = _pascal(operation["operationId"])
            body = operation.get("requestBody", {}).get("content", {})
            for content_type, media in body.items():
                schema = media.get("schema", {})
                if "$ref" in schema or schema.get("type") != "object":
                    continue
                suffix = "Form" if content_type.startswith("multipart/") else "Request"
                schemas[base + suffix] = schema
                media["schema"] = ref(base + suffix)
            for answer in operation["responses"].values():
                media = answer.get("content", {}).get(JSON)
                if media is None or "$ref" in media["schema"]:
                    continue
                schema = media["schema"]
                if _is_envelope(schema):
                    name = _envelope_name(base, schema, schemas)
                    _keep(schemas, name, schema)
                else:
                    name = base + "Result"
                    schemas[name] = schema
                media["schema"] = ref(name)
