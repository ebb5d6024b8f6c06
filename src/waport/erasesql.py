"""Erasing a contact in SQL, shared by the SQLite and PostgreSQL stores.

The store runs these in one transaction, in this order: read the contact's messages
(``messages``), write each back as ``lifecycle.erase`` decides (``message_args``),
scrub their webhook events (``events`` then ``event_args``), forget the contact's
windows, contact row and aliases, rename its conversations, and scrub the stored
idempotent answers that named one of its messages (``idempotency`` then
``idempotency_doc``). Nothing here decides: ``waport.domain.erasure`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import attrs

from waport import codec, sqlkit
from waport.domain.erasure import Erasure
from waport.domain.records import IdempotencyRecord, MessageRecord, OutboxEvent, OutboxState


@attrs.frozen
class EraseStatements:
    messages: str = (
        f"SELECT {', '.join(sqlkit.LOAD_COLUMNS)} FROM messages"
        " WHERE contact = ? AND workspace_id = ?"
    )
    rewrite_message: str = (
        "UPDATE messages SET contact = ?, status = ?, due_us = ?, attempting_us = ?,"
        " attempts = ?, provider = ?, provider_message_id = ?, error = ?, history = ?, doc = ?"
        " WHERE id = ?"
    )
    events: str = (
        "SELECT doc, state FROM outbox WHERE message_id IN"
        " (SELECT id FROM messages WHERE contact = ? AND workspace_id = ?)"
    )
    rewrite_event: str = "UPDATE outbox SET state = ?, last_error = ?, doc = ? WHERE id = ?"
    forget_windows: str = "DELETE FROM windows WHERE workspace_id = ? AND contact = ?"
    rename_conversations: str = (
        "UPDATE conversations SET contact = ? WHERE workspace_id = ? AND contact = ?"
    )
    forget_contact: str = "DELETE FROM contacts WHERE workspace_id = ? AND recipient = ?"
    forget_aliases: str = "DELETE FROM aliases WHERE recipient = ?"
    idempotency: str = "SELECT scope, key, doc FROM idempotency"
    rewrite_idempotency: str = "UPDATE idempotency SET doc = ? WHERE scope = ? AND key = ?"

    @classmethod
    def for_sqlite(cls) -> EraseStatements:
        return cls()

    @classmethod
    def for_postgres(cls) -> EraseStatements:
        return cls._build(sqlkit.numbered)

    @classmethod
    def _build(cls, dialect: Callable[[str], str]) -> EraseStatements:
        plain = cls()
        return cls(**{a.name: dialect(getattr(plain, a.name)) for a in attrs.fields(cls)})


def message_args(erased: MessageRecord) -> tuple[Any, ...]:
    """The values of ``rewrite_message`` for a message ``lifecycle.erase`` returned."""
    return (str(erased.contact), *sqlkit.stored_values(erased), erased.id)


def event_args(doc: str, state: str, erasure: Erasure) -> tuple[Any, ...]:
    """The values of ``rewrite_event`` for an event of an erased message."""
    event = attrs.evolve(codec.loads(doc, OutboxEvent), state=OutboxState(state))
    scrubbed = erasure.event(event)
    return (scrubbed.state.value, scrubbed.last_error, codec.dumps(scrubbed), scrubbed.id)


def idempotency_doc(doc: str, erased_ids: Collection[str], erasure: Erasure) -> str | None:
    """An idempotency record's document scrubbed, or ``None`` when it named none of
    ``erased_ids``."""
    record = codec.loads(doc, IdempotencyRecord)
    if record.response is None or set(erased_ids).isdisjoint(record.message_ids):
        return None
    response = erasure.response(record.response, erased_ids)
    return codec.dumps(attrs.evolve(record, response=response))
