"""Templates on Meta's wire: a draft as ``POST /{waba-id}/message_templates`` wants it,
and the template webhooks (``message_template_status_update``,
``message_template_quality_update``, ``template_category_update``) as events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from waport.domain.events import TemplateUpdate
from waport.domain.template_drafts import DraftButton, TemplateDraft
from waport.domain.templates import ButtonKind, HeaderFormat, TemplateCategory, TemplateStatus
from waport_meta.inbound import PROVIDER, at_time

TEMPLATE_FIELDS: Final = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "template_category_update",
    }
)
_STATUS_EVENTS: Final[Mapping[str, TemplateStatus]] = {
    **{s.value: s for s in TemplateStatus},
    "REINSTATED": TemplateStatus.APPROVED,  # an appeal won, or a pause ended
    "PENDING_DELETION": TemplateStatus.DELETED,
}
_CATEGORIES: Final = {c.value: c for c in TemplateCategory}


def _examples(pairs: tuple[tuple[str, str], ...], *, named: bool, kind: str) -> dict[str, Any]:
    if named:
        return {f"{kind}_named_params": [{"param_name": k, "example": v} for k, v in pairs]}
    values = [v for _, v in pairs]
    return {kind: [values] if kind == "body_text" else values}


def _button(button: DraftButton) -> dict[str, Any]:
    out: dict[str, Any] = {"type": button.kind.value}
    if button.kind == ButtonKind.OTP:
        out["otp_type"] = "COPY_CODE"
    if button.text:
        out["text"] = button.text
    if button.url is not None:
        out["url"] = button.url
    if button.phone_number is not None:
        out["phone_number"] = button.phone_number
    if button.example is not None:
        out["example"] = button.example if button.kind == ButtonKind.COPY_CODE else [button.example]
    return out


def draft_to_graph(draft: TemplateDraft) -> dict[str, Any]:
    """The body of ``POST /{waba-id}/message_templates`` for ``draft``."""
    components: list[dict[str, Any]] = []
    named = draft.named
    if draft.header_format == HeaderFormat.TEXT:
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": draft.header_text}
        if draft.header_examples:
            header["example"] = _examples(draft.header_examples, named=named, kind="header_text")
        components.append(header)
    elif draft.header_format is not None:
        header = {"type": "HEADER", "format": draft.header_format.value}
        if draft.header_handle is not None:
            header["example"] = {"header_handle": [draft.header_handle]}
        components.append(header)
    if draft.category == TemplateCategory.AUTHENTICATION:
        components.append({"type": "BODY"})  # Meta writes the text
    else:
        body: dict[str, Any] = {"type": "BODY", "text": draft.body}
        if draft.examples:
            body["example"] = _examples(draft.examples, named=named, kind="body_text")
        components.append(body)
    if draft.footer:
        components.append({"type": "FOOTER", "text": draft.footer})
    if draft.buttons:
        components.append({"type": "BUTTONS", "buttons": [_button(b) for b in draft.buttons]})
    payload: dict[str, Any] = {
        "name": draft.name,
        "language": draft.language,
        "category": draft.category.value,
        "components": components,
    }
    if draft.examples or draft.header_examples:
        payload["parameter_format"] = "NAMED" if named else "POSITIONAL"
    return payload


def template_update(field: str, value: Mapping[str, Any], *, at: datetime) -> TemplateUpdate:
    """One template webhook change as an event (its senders filled in by the provider).
    Raises ``KeyError``/``TypeError`` when it names no template."""
    name = value["message_template_name"]
    language = value["message_template_language"]
    if not isinstance(name, str) or not isinstance(language, str):
        raise TypeError("a template is named by strings")
    template_id = value.get("message_template_id")
    status = quality = category = reason = None
    if field == "message_template_status_update":
        event = str(value.get("event", "")).upper()
        status = _STATUS_EVENTS.get(event)
        given = value.get("reason")
        reason = str(given) if given not in (None, "", "NONE") else None
        if status is None and event:  # FLAGGED, LOCKED ...: said, the status kept
            reason = event if reason is None else f"{event}: {reason}"
    elif field == "message_template_quality_update":
        quality = str(value["new_quality_score"]).upper()
    else:
        category = _CATEGORIES.get(str(value.get("new_category", "")).upper())
    return TemplateUpdate(
        provider=PROVIDER,
        sender_ids=(),
        name=name,
        language=language,
        at=at,
        provider_id=str(template_id) if template_id is not None else None,
        status=status,
        quality=quality,
        category=category,
        reason=reason,
        raw=value,
    )


def entry_time(entry: Mapping[str, Any], received: datetime) -> datetime:
    """When Meta says an entry happened (its ``time``), else when it arrived."""
    try:
        return at_time(entry["time"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return received
