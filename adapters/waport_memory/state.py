"""The memory store's state and the writes every sub-store shares."""

from __future__ import annotations

from datetime import datetime

import attrs

from waport import storekit
from waport.domain.listing import (
    Cursor,
)
from waport.domain.recipients import Recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    Direction,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    Sender,
    Workspace,
)
from waport.domain.status import StatusChange
from waport.domain.templates import TemplateSpec


@attrs.define
class _State:
    messages: dict[str, MessageRecord] = attrs.Factory(dict)
    outbound_pid: dict[tuple[str, str], str] = attrs.Factory(dict)
    inbound_pid: dict[tuple[str, str], str] = attrs.Factory(dict)
    stash: dict[tuple[str, str], list[StatusChange]] = attrs.Factory(dict)
    window: dict[tuple[str, str], dict[str, datetime]] = attrs.Factory(dict)
    """(workspace, contact) -> sender -> the contact's last inbound message."""
    template_window: dict[tuple[str, str], dict[str, datetime]] = attrs.Factory(dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = attrs.Factory(dict)
    keys: dict[str, ApiKey] = attrs.Factory(dict)
    workspaces: dict[str, Workspace] = attrs.Factory(dict)
    senders: dict[str, Sender] = attrs.Factory(dict)
    contacts: dict[tuple[str, Recipient], Contact] = attrs.Factory(dict)
    aliases: dict[str, Recipient] = attrs.Factory(dict)
    templates: dict[tuple[str, str, str], TemplateSpec] = attrs.Factory(dict)
    outbox: dict[str, OutboxEvent] = attrs.Factory(dict)


def _enqueue(state: _State, event: OutboxEvent | None) -> None:
    if event is not None and event.id not in state.outbox:
        state.outbox[event.id] = event


def _note_window(
    state: _State, record: MessageRecord, at: datetime, *, template: bool = False
) -> None:
    table = state.template_window if template else state.window
    senders = table.setdefault((record.workspace_id, str(record.contact)), {})
    last = senders.get(record.sender_id)
    if last is None or at > last:
        senders[record.sender_id] = at


def _save(state: _State, record: MessageRecord, changes: list[StatusChange]) -> MessageRecord:
    state.messages[record.id] = record
    if record.provider and record.provider_message_id and record.direction == Direction.OUTBOUND:
        state.outbound_pid[(record.provider, record.provider_message_id)] = record.id
    for change in changes:
        if storekit.opens_template_window(record, change):
            _note_window(state, record, change.at, template=True)
    for event in storekit.events_for(record, changes):
        _enqueue(state, event)
    return record


def _key(m: MessageRecord) -> tuple[int, str]:
    """A message's place in listings."""
    return Cursor.at(m).key
