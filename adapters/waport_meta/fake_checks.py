"""What the fake Graph API checks in a message payload, as Meta documents it: the
fields each type needs, so a test sees a malformed payload refused as Meta would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waport_meta.fake_constants import BSUID, E164, GROUP_ID, MEDIA_TYPES, TYPES


def _check_addressee(payload: Mapping[str, Any]) -> list[str]:
    """A number (``to``), a user by BSUID (``recipient``), or a group (its id as ``to``)."""
    kind = payload.get("recipient_type", "individual")
    to, user = payload.get("to"), payload.get("recipient")
    if kind == "group":
        if not isinstance(to, str) or not GROUP_ID.fullmatch(to) or user is not None:
            return ["a group message's to is the group id, and nothing else names it"]
        return []
    if kind != "individual":
        return ["recipient_type must be individual or group"]
    if user is not None and (not isinstance(user, str) or not BSUID.fullmatch(user)):
        return ["recipient is a business-scoped user id (CC.digits)"]
    if user is None and (not isinstance(to, str) or not E164.fullmatch(to)):
        return ["to must be + and the E.164 digits (or recipient a BSUID)"]
    return []


def check_message(payload: Any) -> list[str]:
    """Problems with a ``POST /{phone-number-id}/messages`` body, by Meta's documented shapes."""
    if not isinstance(payload, Mapping):
        return ["the body is not an object"]
    problems: list[str] = []
    if payload.get("messaging_product") != "whatsapp":
        problems.append("messaging_product must be whatsapp")
    if payload.get("status") == "read":
        if not isinstance(payload.get("message_id"), str):
            problems.append("read: message_id is required")
        extra = set(payload) - {"messaging_product", "status", "message_id", "typing_indicator"}
        if extra:
            problems.append(f"read: unknown fields {sorted(extra)}")
        return problems
    problems.extend(_check_addressee(payload))
    kind = payload.get("type")
    if kind not in TYPES:
        return [*problems, f"unknown type {kind!r}"]
    others = [t for t in TYPES if t != kind and t in payload]
    if others:
        problems.append(f"objects for other types: {others}")
    body = payload.get(kind)
    allowed = {
        "messaging_product",
        "recipient_type",
        "to",
        "recipient",
        "type",
        kind,
        "context",
        "biz_opaque_callback_data",
    }
    if set(payload) - allowed:
        problems.append(f"unknown top-level fields {sorted(set(payload) - allowed)}")
    context = payload.get("context")
    if context is not None and (
        not isinstance(context, Mapping) or not isinstance(context.get("message_id"), str)
    ):
        problems.append("context needs message_id")
    callback = payload.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        problems.append("biz_opaque_callback_data is a string of at most 512 characters")
    problems.extend(_check_body(str(kind), body))
    return problems


def _check_body(kind: str, body: Any) -> list[str]:
    if kind == "contacts":
        if not isinstance(body, list) or not body:
            return ["contacts is a non-empty list"]
        out = []
        for card in body:
            name = card.get("name") if isinstance(card, Mapping) else None
            if not isinstance(name, Mapping) or not name.get("formatted_name") or len(name) < 2:
                out.append("each contact needs name.formatted_name and another name field")
        return out
    if not isinstance(body, Mapping):
        return [f"{kind} must be an object"]
    if kind == "text":
        text = body.get("body")
        ok = (
            isinstance(text, str)
            and 1 <= len(text) <= 4096
            and set(body) <= {"body", "preview_url"}
        )
        return [] if ok else ["text needs body (1-4096 characters) and at most preview_url"]
    if kind in MEDIA_TYPES:
        out = []
        if ("id" in body) == ("link" in body):
            out.append(f"{kind} needs exactly one of id or link")
        if "caption" in body and kind in ("audio", "sticker"):
            out.append(f"{kind} takes no caption")
        if "filename" in body and kind != "document":
            out.append("only a document has a filename")
        allowed = {"id", "link", "caption", "filename", "voice"}
        if set(body) - allowed:
            out.append(f"unknown {kind} fields {sorted(set(body) - allowed)}")
        return out
    if kind == "template":
        out = []
        if (
            not isinstance(body.get("name"), str)
            or not isinstance(body.get("language"), Mapping)
            or "code" not in body["language"]
        ):
            out.append("template needs name and language.code")
        for component in body.get("components", []):
            ctype = component.get("type") if isinstance(component, Mapping) else None
            if ctype not in ("header", "body", "button"):
                out.append(f"unknown component {ctype!r}")
                continue
            if not isinstance(component.get("parameters"), list):
                out.append(f"{ctype} needs parameters")
            if ctype == "button" and (
                component.get("sub_type") not in ("quick_reply", "url", "copy_code", "flow")
                or not str(component.get("index", "")).isdigit()
            ):
                out.append("a button component needs sub_type and index")
            for param in component.get("parameters") or []:
                ptype = param.get("type") if isinstance(param, Mapping) else None
                if ptype is None or ptype not in param:
                    out.append(f"a parameter needs a type and an object named after it: {param}")
        return out
    if kind == "interactive":
        itype = body.get("type")
        action = body.get("action")
        if itype not in (
            "button",
            "list",
            "cta_url",
            "catalog_message",
            "product",
            "product_list",
        ) or not isinstance(action, Mapping):
            return ["interactive needs a known type and an action"]
        if itype != "product" and not (
            isinstance(body.get("body"), Mapping) and body["body"].get("text")
        ):
            return ["interactive needs body.text"]
        if itype == "button" and not all(
            b.get("type") == "reply" and "reply" in b for b in action.get("buttons", [])
        ):
            return ["reply buttons are {type: reply, reply: {id, title}}"]
        if itype == "list" and not (action.get("button") and action.get("sections")):
            return ["a list needs action.button and action.sections"]
        if itype == "cta_url" and not (
            action.get("name") == "cta_url" and isinstance(action.get("parameters"), Mapping)
        ):
            return ["cta_url needs action.name cta_url and parameters"]
        return []
    if kind == "location":
        out = []
        for key in ("latitude", "longitude"):
            try:
                float(body[key])
            except (KeyError, TypeError, ValueError):
                out.append(f"location needs {key}")
        return out
    if kind == "reaction":
        return (
            []
            if isinstance(body.get("message_id"), str) and isinstance(body.get("emoji"), str)
            else ["reaction needs message_id and emoji"]
        )
    return []
