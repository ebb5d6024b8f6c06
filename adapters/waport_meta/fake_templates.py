"""The fake Graph API's template management: ``POST /{waba-id}/message_templates``
(checked against Meta's documented create shape, kept as ``PENDING``) and ``DELETE``
by name. Review is the test's to give: it changes ``templates`` and posts Meta's
``message_template_status_update`` webhook itself."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

_NAME: Final = re.compile(r"[a-z0-9_]{1,512}")
_KINDS: Final = ("HEADER", "BODY", "FOOTER", "BUTTONS")
_CATEGORIES: Final = ("MARKETING", "UTILITY", "AUTHENTICATION")


def check_template(payload: Any) -> list[str]:
    """Problems with a template create body, by Meta's documented shape."""
    if not isinstance(payload, Mapping):
        return ["the body is not an object"]
    problems: list[str] = []
    if not isinstance(payload.get("name"), str) or not _NAME.fullmatch(payload["name"]):
        problems.append("name: lowercase letters, digits and underscores")
    if not isinstance(payload.get("language"), str):
        problems.append("language is required")
    if payload.get("category") not in _CATEGORIES:
        problems.append("category is one of MARKETING, UTILITY, AUTHENTICATION")
    if payload.get("parameter_format", "POSITIONAL") not in ("POSITIONAL", "NAMED"):
        problems.append("parameter_format is POSITIONAL or NAMED")
    components = payload.get("components")
    if not isinstance(components, list) or not components:
        return [*problems, "components is a non-empty list"]
    kinds = [c.get("type") if isinstance(c, Mapping) else None for c in components]
    if kinds.count("BODY") != 1:
        problems.append("exactly one BODY component")
    problems.extend(f"unknown component type {k!r}" for k in kinds if k not in _KINDS)
    for component in components:
        if isinstance(component, Mapping) and component.get("type") == "BODY":
            text = component.get("text")
            if payload.get("category") != "AUTHENTICATION" and not isinstance(text, str):
                problems.append("BODY needs text")
            if isinstance(text, str) and "{{" in text and "example" not in component:
                problems.append("a BODY with parameters needs an example")
    return problems


def created(payload: Mapping[str, Any], template_id: str) -> dict[str, Any]:
    """The template as the fake lists it afterwards (under review)."""
    return {
        "id": template_id,
        "name": payload["name"],
        "language": payload["language"],
        "status": "PENDING",
        "category": payload["category"],
        "components": list(payload["components"]),
    }


def review(
    templates: list[dict[str, Any]],
    waba_id: str,
    name: str,
    language: str,
    event: str,
    *,
    at: int,
    **value: Any,
) -> dict[str, Any]:
    """Meta's review of a template: its status in ``templates`` becomes ``event`` (for a
    status event) and the ``message_template_status_update`` webhook body saying so is
    returned (``at``: its Unix time; ``value``: more fields of the change, or another
    ``field``)."""
    field = value.pop("field", "message_template_status_update")
    found = next(t for t in templates if (t["name"], t["language"]) == (name, language))
    if field == "message_template_status_update":
        found["status"] = event
    change = {
        "event": event,
        "message_template_id": int(found["id"]),
        "message_template_name": name,
        "message_template_language": language,
        "reason": "NONE",
        **value,
    }
    if field != "message_template_status_update":
        del change["event"], change["reason"]
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": at,
                "changes": [{"field": field, "value": change}],
            }
        ],
    }
