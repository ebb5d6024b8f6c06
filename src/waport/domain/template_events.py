"""What a provider's word on a template changes: the catalogue entry, and the
``template.updated`` webhook the workspace is owed.

A template's events are ordered among themselves (their outbox subject is the
template, where a message's are ordered by the message) and each has an id derived
from the change, so a provider's redelivered webhook never owes a second event.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import attrs

from waport.domain.events import TEMPLATE_UPDATED, TemplateUpdate
from waport.domain.records import OutboxEvent
from waport.domain.templates import TemplateSpec


def apply_update(spec: TemplateSpec, update: TemplateUpdate) -> TemplateSpec | None:
    """``spec`` as ``update`` leaves it; ``None`` when nothing changes (a redelivery)."""
    changed = attrs.evolve(
        spec,
        status=update.status or spec.status,
        quality=update.quality or spec.quality,
        category=update.category or spec.category,
        reason=update.reason if update.status is not None else spec.reason,
        provider_id=spec.provider_id or update.provider_id,
    )
    return None if changed == spec else changed


def template_payload(spec: TemplateSpec, previous: TemplateSpec) -> dict[str, Any]:
    """The ``data`` of ``template.updated``: the template now, and what it was."""
    return {
        "sender_id": spec.sender_id,
        "name": spec.name,
        "language": spec.language,
        "provider_id": spec.provider_id,
        "status": spec.status.value,
        "category": spec.category.value,
        "quality": spec.quality,
        "reason": spec.reason,
        "previous": {
            "status": previous.status.value,
            "category": previous.category.value,
            "quality": previous.quality,
        },
    }


def subject(spec: TemplateSpec) -> str:
    """The outbox key a template's events are ordered by."""
    return f"tpl:{spec.sender_id}:{spec.name}:{spec.language}"


def template_event(
    spec: TemplateSpec,
    previous: TemplateSpec,
    *,
    workspace_id: str,
    url: str,
    at: datetime,
    queued: datetime | None = None,
) -> OutboxEvent:
    """``template.updated`` for a change from ``previous`` to ``spec``, for ``url``: the
    provider said it ``at`` (Meta: to the second), waport heard it ``queued`` (the
    order its events go out in; default ``at``)."""
    data = template_payload(spec, previous)
    fingerprint = "|".join(
        (subject(spec), at.isoformat(), spec.status, spec.category, spec.quality or "")
    )
    event_id = "evt_tpl_" + hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return OutboxEvent(
        id=event_id,
        workspace_id=workspace_id,
        message_id=subject(spec),
        type=TEMPLATE_UPDATED,
        url=url,
        payload={
            "id": event_id,
            "type": TEMPLATE_UPDATED,
            "created_at": at.isoformat(),
            "data": data,
        },
        created_at=queued or at,
        due_at=queued or at,
    )
