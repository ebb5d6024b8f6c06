"""JSON Schema for a request body's parts, read from the domain's attrs classes: each
field's type, whether it has a default, and what its validator states
(``waport.domain.validators.json_schema``). So the OpenAPI document says what the
request converter takes, from the same rules, and a limit changed in the domain
changes the document."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Final

import attrs

from waport.domain.validators import http_url, json_schema

URL_REF: Final = {"$ref": "#/components/schemas/HttpUrl"}
"""Where a URL field points: the URL rule's pattern is long, so it is stated once."""

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
}


def object_schema(cls: type, known: Mapping[Any, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``cls`` as a closed JSON object: its fields, those without a default required.
    ``known`` gives the schema of a type the converter reads its own way (a union
    told apart by a ``type`` field, say)."""
    known = known or {}
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        schema = type_schema(hints[field.name], known)
        stated = json_schema(field.validator) if field.validator else {}
        if field.validator is http_url:
            schema, stated = {"nullable": schema.get("nullable", False)}, URL_REF
        optional = schema.pop("nullable", False)
        merged = {**schema, **stated}
        properties[field.name] = nullable(merged) if optional else merged
        if field.default is attrs.NOTHING:
            required.append(field.name)
    out: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if required:
        out["required"] = required
    out["properties"] = properties
    return out


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or null (which a request body may give for an optional field)."""
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def type_schema(tp: Any, known: Mapping[Any, dict[str, Any]]) -> dict[str, Any]:
    """The schema of a field's type (``"nullable": True`` marks an optional one)."""
    if tp in known:
        return dict(known[tp])
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007 - built at runtime
        return {**type_schema(inner, known), "nullable": True}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004 - tuple[X, ...]
        return {"type": "array", "items": type_schema(args[0], known)}
    if attrs.has(tp):
        return object_schema(tp, known)
    raise TypeError(f"no JSON Schema for {tp!r}: give it in known")
