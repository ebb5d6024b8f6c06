"""A sender's health: what the provider says of its number or session, which senders a
word concerns, whether a sender may send now, and the ``sender.updated`` event.

* A word older than the one kept is ignored (providers redeliver, and out of order).
* A sender the provider says is down (``available`` False: a WhatsApp-Web session not
  ``WORKING``, a disabled account) refuses sends at once with ``PROVIDER_UNAVAILABLE``
  (retryable) instead of letting each one wait for the provider's timeout; queued
  messages wait with the usual backoff. The next word that it is up lifts it.
* Meta names a number by its display number, not its id: the word concerns the senders
  whose ``phone`` is that number, or, when none has it set, the only sender there is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import SENDER_UPDATED, SenderUpdate
from waport.domain.records import OutboxEvent, Sender, SenderHealth


def _digits(value: str | None) -> str:
    return "".join(c for c in value or "" if c.isdigit())


def concerned(update: SenderUpdate, senders: Sequence[Sender]) -> list[Sender]:
    """Which of ``senders`` (those ``update.sender_ids`` names) the word is about."""
    if update.phone is None:
        return list(senders)
    wanted = _digits(update.phone)
    matched = [s for s in senders if s.phone is not None and _digits(s.phone) == wanted]
    if matched:
        return matched
    return list(senders) if len(senders) == 1 and senders[0].phone is None else []


def apply_update(health: SenderHealth | None, update: SenderUpdate) -> SenderHealth | None:
    """The health after ``update``; ``None`` when it changes nothing. Its two parts (the
    session or account: availability, state, reason; the number: quality, messaging
    limit) each take the newest word, so the order words arrive in does not matter."""
    now = health or SenderHealth()
    changed = now
    said_state = update.available is not None or update.state or update.reason
    if said_state and (now.at is None or update.at >= now.at):
        changed = attrs.evolve(
            changed,
            available=now.available if update.available is None else update.available,
            state=update.state or now.state,
            reason=update.reason,
            at=update.at,
        )
    said_number = update.quality or update.messaging_limit
    if said_number and (now.number_at is None or update.at >= now.number_at):
        changed = attrs.evolve(
            changed,
            quality=update.quality or now.quality,
            messaging_limit=update.messaging_limit or now.messaging_limit,
            number_at=update.at,
        )
    return None if changed == now else changed


def refusal(sender: Sender) -> WaportError | None:
    """Why ``sender`` cannot send now (the provider said it is down), or ``None``."""
    health = sender.health
    if health is None or health.available:
        return None
    said = ", ".join(x for x in (health.state, health.reason) if x) or "down"
    return WaportError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"the provider says sender {sender.id} cannot send now ({said})",
        "sender_id",
    )


def health_view(health: SenderHealth | None) -> dict[str, Any]:
    """A sender's health as the API and its event show it."""
    health = health or SenderHealth()
    return {
        "available": health.available,
        "state": health.state,
        "quality": health.quality,
        "messaging_limit": health.messaging_limit,
        "reason": health.reason,
        "at": health.at.isoformat() if health.at is not None else None,
    }


def sender_event(
    sender: Sender, previous: SenderHealth | None, *, url: str, queued: datetime
) -> OutboxEvent:
    """``sender.updated`` for ``sender`` (its new health) for ``url``, ordered per sender
    by when waport heard it; its id is derived from the change, so a redelivered word
    owes no second event."""
    assert sender.health is not None  # noqa: S101 - the caller just set it
    at = sender.health.at or queued
    subject = f"snd:{sender.id}"
    view = health_view(sender.health)
    fingerprint = "|".join([subject, *(str(v) for v in view.values())])
    event_id = "evt_snd_" + hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    data = {
        "sender_id": sender.id,
        "phone": sender.phone,
        "health": view,
        "previous": health_view(previous),
    }
    return OutboxEvent(
        id=event_id,
        workspace_id=sender.workspace_id,
        message_id=subject,
        type=SENDER_UPDATED,
        url=url,
        payload={
            "id": event_id,
            "type": SENDER_UPDATED,
            "created_at": at.isoformat(),
            "data": data,
        },
        created_at=queued,
        due_at=queued,
    )
