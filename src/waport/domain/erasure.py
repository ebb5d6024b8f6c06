"""Erasing a contact (``DELETE /v1/contacts/{phone}``, a data-protection request): what
stays of each kept thing once the number, the texts and the media are gone.

The number becomes a pseudonym: a hash of the number with a random salt that is not
kept, so it can be neither reversed nor matched to the number written again later,
yet the erased messages still count as one contact. A message keeps its identity,
sender, direction, statuses, times, mode, category and broadcast (for accounting) and
loses its content, metadata and the number; one not sent yet fails ``CONTACT_ERASED``
(``lifecycle.erase``). Webhook events and stored idempotent answers that named the
contact are scrubbed the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from waport.domain.recipients import ERASED_PREFIX, Recipient
from waport.domain.records import OutboxEvent, OutboxState, StoredResponse
from waport.domain.status import ErrorDetail, StatusChange

ERASED_ERROR: Final = "the contact was erased"
"""The ``last_error`` of a webhook event that will not be delivered because of it."""
_KEPT_FIELDS: Final = frozenset(
    {
        "message_id",
        "direction",
        "status",
        "sender_id",
        "provider_message_id",
        "created_at",
        "error",
        "mode",
        "broadcast_id",
        "category",
        "at",
        "recipient_index",
    }
)
"""What an answer or event about an erased message keeps (nothing that a person wrote or
that names them)."""


def pseudonym(recipient: Recipient, salt: bytes) -> Recipient:
    """The erased stand-in for ``recipient``: ``erased:`` and 32 hex digits."""
    digest = hashlib.sha256(salt + recipient.value.encode()).hexdigest()[:32]
    return Recipient("erased", f"{ERASED_PREFIX}{digest}")


@attrs.frozen
class Erasure:
    """One erasure: the number and its forms, and what takes their place."""

    recipient: Recipient
    alias: Recipient
    at: datetime

    @property
    def forms(self) -> tuple[str, ...]:
        """How the number may be written in kept text (longest first)."""
        return (self.recipient.e164, self.recipient.value)

    def text(self, text: str) -> str:
        """``text`` with every form of the number replaced by the pseudonym."""
        for form in self.forms:
            text = text.replace(form, self.alias.value)
        return text

    def error(self, error: ErrorDetail | None) -> ErrorDetail | None:
        """An error kept with an erased message: our message without the number."""
        if error is None:
            return None
        # the provider's own words may quote anything: only its code is kept
        return attrs.evolve(error, message=self.text(error.message), provider_message=None)

    def history(self, history: tuple[StatusChange, ...]) -> tuple[StatusChange, ...]:
        return tuple(attrs.evolve(c, error=self.error(c.error)) for c in history)

    def json(self, value: Any, erased_ids: Collection[str]) -> Any:
        """A JSON value with the number replaced wherever it appears, and each object
        describing an erased message (its ``message_id``) cut to ``_KEPT_FIELDS``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v, erased_ids) for v in value]
        if isinstance(value, Mapping):
            about_erased = value.get("message_id") in erased_ids
            out = {
                k: self.json(v, erased_ids)
                for k, v in value.items()
                if not about_erased or k in _KEPT_FIELDS
            }
            if about_erased:
                out["erased"] = True
            return out
        return value

    def event(self, event: OutboxEvent) -> OutboxEvent:
        """A webhook event of an erased message: its payload scrubbed, and dead if it was
        still owed (the receiver never hears of the contact again)."""
        payload = self.json(dict(event.payload), {event.message_id})
        if event.state == OutboxState.PENDING:
            return attrs.evolve(
                event, payload=payload, state=OutboxState.DEAD, last_error=ERASED_ERROR
            )
        return attrs.evolve(event, payload=payload)

    def response(self, response: StoredResponse, erased_ids: Collection[str]) -> StoredResponse:
        """A stored idempotent answer that named an erased message, scrubbed (a replay
        answers the same status, without the contact)."""
        try:
            body = json.loads(response.body)
        except ValueError:
            text = response.body.decode(errors="replace")
            return attrs.evolve(response, body=self.text(text).encode())
        scrubbed = json.dumps(self.json(body, erased_ids), separators=(",", ":"))
        return attrs.evolve(response, body=scrubbed.encode())
