"""The OpenAPI document's schemas of what a client sends to have messages sent: a send
(JSON, one schema per mode, or a multipart form with its file), its media, a template
with its parameters, and a broadcast."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from waport.domain.attachments import MediaId
from waport.domain.convert import SEND_OPTIONS
from waport.domain.interactive import (
    BUTTON_TYPES,
    INTERACTIVE_TYPES,
    Button,
    InteractiveHeader,
    InteractiveHeaderText,
)
from waport.domain.limits import (
    BROADCAST,
    EXTENSION_MIMES,
    MEDIA_LIMITS,
    TEMPLATE,
    TEXT,
    MediaKind,
)
from waport.domain.media import DATA_URI_PATTERN, MIME_PATTERN
from waport.domain.messages import (
    MODES,
    ContactCards,
    ContactDetails,
    Currency,
    DateTime,
    JsonScalar,
    Location,
    ParamValue,
    Reaction,
    TemplateHeader,
    TemplateMessage,
    Text,
)
from waport.domain.recipients import NOT_BLANK_PATTERN
from waport_http.openapi_attrs import nullable, object_schema
from waport_http.openapi_schemas import RECIPIENT, ref

UPLOAD_TYPES: Final = tuple(
    sorted(
        {m for limit in MEDIA_LIMITS.values() for m in limit.mimes}
        | set(EXTENSION_MIMES.values())
        | {"application/octet-stream"}
    )
)
"""The types a raw upload is documented with: each kind's own, the documents Meta
lists, and bytes of no type said (typed by ``?filename=``). A document may have any
other type too."""


CONTACT: Final = object_schema(ContactDetails, {Mapping[str, JsonScalar]: {"type": "object"}})
"""What a send may say about its contact (with ``METADATA``, read from the class)."""
METADATA: Final = CONTACT["properties"]["metadata"]


def send_schemas() -> dict[str, Any]:
    text = object_schema(Text)
    param = {"oneOf": [PARAM_TEXT, {"type": "number"}, *(_typed(k, c) for k, c in TYPED.items())]}
    params = _params(param, TEMPLATE.body_param)
    schemas: dict[str, Any] = {
        "SendRequest": {
            "type": "object",
            "description": (
                "Exactly one of text, template, media, interactive, location, contacts, reaction. "
                "The rules each field follows (lengths, the 24-hour window, templates) are on "
                "the documentation's rules page; an error names the field it refuses."
            ),
            "required": ["to"],
            "additionalProperties": False,  # the server refuses unknown fields
            "properties": {
                "to": RECIPIENT,
                "sender_id": {"type": "string", "minLength": 1},
                "text": {"oneOf": [text["properties"]["body"], text]},
                "template": ref("TemplateContent"),
                "media": ref("Media"),
                "interactive": ref("Interactive"),
                "location": object_schema(Location),
                "contacts": object_schema(ContactCards)["properties"]["cards"],
                "reaction": object_schema(Reaction),
                "reply_to": {"type": "string", "minLength": 1},
                "check_window": {"type": "boolean"},
                "scheduled_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "webhook_url": ref("HttpUrl"),
                "metadata": METADATA,
                "contact": CONTACT,
            },
        },
        "Media": {
            "type": "object",
            "description": "Exactly one of url, data (a base64 data URI) or id.",
            "additionalProperties": False,
            "properties": {
                "type": {"enum": [k.value for k in MediaKind]},
                "url": ref("HttpUrl"),
                "data": {
                    "type": "string",
                    "pattern": DATA_URI_PATTERN,
                    "description": "data:<mime>;base64,<bytes>",
                },
                "id": {
                    **object_schema(MediaId)["properties"]["id"],
                    "description": "an upload's id (med_..., POST /v1/media) or a media id of the provider",
                },
                "caption": {"type": "string", "maxLength": TEXT.caption},
                "filename": {"type": "string", "minLength": 1, "maxLength": TEXT.filename},
                "mime_type": {"type": "string", "maxLength": 255, "pattern": MIME_PATTERN},
                "voice": {"type": "boolean"},
                "animated": {"type": "boolean"},
            },
        },
        "BroadcastRequest": {
            "type": "object",
            "required": ["template", "sender_id", "recipients"],
            "additionalProperties": False,
            "properties": {
                "template": ref("TemplateContent"),
                "sender_id": {"type": "string", "minLength": 1},
                "recipients": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": BROADCAST.recipients_max,
                    "items": {
                        "type": "object",
                        "required": ["to"],
                        "additionalProperties": False,
                        "properties": {
                            "to": RECIPIENT,
                            "template_params": params,
                            "metadata": METADATA,
                        },
                    },
                },
                "scheduled_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "webhook_url": ref("HttpUrl"),
                "metadata": METADATA,
            },
        },
    }
    schemas["TemplateContent"] = template_content(param)
    form = send_form(schemas["SendRequest"], text["properties"]["body"])  # text: no null
    for body in (schemas["SendRequest"], schemas["BroadcastRequest"]):
        for name in SEND_OPTIONS - {"to"}:  # in JSON, null is as good as absent
            if name in body["properties"]:
                body["properties"][name] = nullable(body["properties"][name])
    schemas["BroadcastRequest"]["required"].remove("sender_id")
    send = schemas.pop("SendRequest")
    return schemas | interactive_schemas() | {"SendForm": form} | one_mode_each(send)


PARAM_TEXT: Final = {"type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN}
TYPED: Final = {"currency": Currency, "date_time": DateTime}
"""A template parameter is text, a number, or one of these objects (by its ``type``)."""


def _typed(kind: str, cls: type) -> dict[str, Any]:
    """A typed parameter's schema, inline (schemathesis cannot negate these as $refs
    inside the parameters' oneOf), named by its title for a client generator."""
    schema = object_schema(cls)
    schema["properties"] = {"type": {"const": kind}, **schema["properties"]}
    schema["required"] = ["type", *schema.get("required", ())]
    return {"title": f"{cls.__name__}Param", **schema}


def _params(param: dict[str, Any], longest: int) -> dict[str, Any]:
    one = {"oneOf": [{**PARAM_TEXT, "maxLength": longest}, *param["oneOf"][1:]]}
    return {
        "description": "Positional (a list: 1, 2, ...) or keyed (an object)",
        "oneOf": [
            {"type": "array", "items": one},
            {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": one},
        ],
    }


def template_content(param: dict[str, Any]) -> dict[str, Any]:
    """An approved template to send, its parameters bound: read from ``TemplateMessage``,
    with its parameters (text, a number, a currency or a date) and its header (a text
    header's parameters, or media as ``Media``)."""
    header = {
        "description": 'Text ({"type": "text", "params": [...]}) or media (as Media)',
        "oneOf": [
            {
                "type": "object",
                "required": ["params"],
                "additionalProperties": False,
                "properties": {
                    "type": {"const": "text"},
                    "params": _params(param, TEMPLATE.header_text_param),
                },
            },
            ref("Media"),
        ],
    }
    known = {Mapping[str, ParamValue]: _params(param, TEMPLATE.body_param), TemplateHeader: header}
    schema = object_schema(TemplateMessage, known)
    return {"description": "An approved template to send, its parameters bound", **schema}


def send_form(send: dict[str, Any], text: dict[str, Any]) -> dict[str, Any]:
    """A send as multipart/form-data: the JSON body's fields (objects as JSON parts),
    ``text`` as a plain field, and ``file`` (the media, its kind from ``type`` or its
    MIME type) or ``header_file`` (a template's header media). Exactly one mode: the
    ``file`` is the media mode."""
    fields = {k: v for k, v in send["properties"].items() if k not in ("text", "media")}
    for name in ("metadata", "contact"):  # JSON parts: JSON's null is none
        fields[name] = nullable(fields[name])
    return {
        "type": "object",
        "description": send_form.__doc__,
        "required": ["to"],
        "additionalProperties": False,
        "properties": {
            **fields,
            "text": text,
            "type": {"enum": [k.value for k in MediaKind]},
            "caption": {"type": "string", "maxLength": TEXT.caption},
            "filename": {"type": "string", "minLength": 1, "maxLength": TEXT.filename},
            "header_file": {"type": "string", "format": "binary"},
            "file": {"type": "string", "format": "binary"},
        },
    }


def interactive_schemas() -> dict[str, Any]:
    """``Interactive``: one schema per interactive type, each read from its class, with
    its buttons and headers as the converter reads them (a button's ``type`` defaults
    to ``reply``; a header is text, or media as ``Media``)."""
    header_text = object_schema(InteractiveHeaderText)["properties"]["text"]
    text_header = {
        "oneOf": [
            header_text,
            {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {"type": {"const": "text"}, "text": header_text},
            },
        ]
    }
    buttons = []
    for kind, cls in BUTTON_TYPES.items():
        button = object_schema(cls)
        button["properties"] = {"type": {"const": kind}, **button["properties"]}
        if kind != "reply":  # a button without a type is a reply button
            button["required"] = ["type", *button.get("required", ())]
        buttons.append(button)
    known: dict[Any, dict[str, Any]] = {
        Button: {"oneOf": buttons},
        InteractiveHeaderText: text_header,
        InteractiveHeader: {"oneOf": [*text_header["oneOf"], ref("Media")]},
    }
    variants = {}
    for kind, cls in INTERACTIVE_TYPES.items():
        schema = object_schema(cls, known)
        kinds = [kind, "button"] if kind == "buttons" else [kind]
        schema["properties"] = {"type": {"enum": kinds}, **schema["properties"]}
        schema["required"] = ["type", *schema.get("required", ())]
        variants[f"{kind.title().replace('_', '')}Interactive"] = schema
    return variants | {
        "Interactive": {
            "description": "Reply buttons, a list, a call-to-action URL, a catalog or products.",
            "oneOf": [ref(name) for name in variants],
        }
    }


def one_mode_each(send: dict[str, Any]) -> dict[str, Any]:
    """``SendRequest`` as ``oneOf`` a schema per mode (``TextSend``, ``TemplateSend``,
    ...): each takes the common fields and its own mode, nothing else, so a valid body
    has exactly one mode, and a generated client has a model per mode."""
    common = {k: v for k, v in send["properties"].items() if k not in MODES}
    not_for = {"reaction": ("reply_to",)}  # a reaction answers its message_id, never a reply
    names = [f"{mode.capitalize()}Send" for mode in MODES]
    out: dict[str, Any] = {
        name: {
            "type": "object",
            "description": f"A {mode} message.",
            "required": ["to", mode],
            "additionalProperties": False,  # the server refuses unknown fields
            "properties": {
                **{k: v for k, v in common.items() if k not in not_for.get(mode, ())},
                mode: send["properties"][mode],
            },
        }
        for name, mode in zip(names, MODES, strict=True)
    }
    out["SendRequest"] = {"description": send["description"], "oneOf": [ref(n) for n in names]}
    return out
