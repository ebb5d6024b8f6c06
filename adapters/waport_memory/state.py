"""The memory store's state and the writes every sub-store shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from waport import storekit
from waport.domain import ledger, lifecycle
from waport.domain.erasure import Erasure
from waport.domain.ledger import LedgerEntry
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
    ledger: dict[str, LedgerEntry] = attrs.Factory(dict)

    def move(self, workspace_id: str, amount: int) -> int | None:
        """Move a prepaid balance (``ledgersql.LedgerStatements.move``): the new balance,
        or ``None`` (unlimited, unknown, or a debit it cannot cover)."""
        workspace = self.workspaces.get(workspace_id)
        if workspace is None or workspace.balance is None:
            return None
        after = workspace.balance + amount
        if after < 0 and amount < 0:
            return None
        self.workspaces[workspace_id] = attrs.evolve(workspace, balance=after)
        return after

    def book(self, entry: LedgerEntry) -> bool:
        """Keep an entry once; False when its id is kept already."""
        if entry.id in self.ledger:
            return False
        self.ledger[entry.id] = entry
        return True


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
    _refund(state, record, changes)
    return record


def _refund(state: _State, record: MessageRecord, changes: Sequence[StatusChange]) -> None:
    """The refunds ``changes`` owe (``ledger.refund_owed``), once per message."""
    for change in changes:
        if change.status not in ledger.REFUNDABLE or not ledger.refund_owed(record, change):
            continue
        debited = state.ledger.get(ledger.debit_id(record.id))
        if debited is not None:
            reason = f"message {change.status.value}"
            if change.error is not None:
                reason += f": {change.error.code}"
            entry = ledger.refund(debited, change.at, reason)
            if state.book(entry):
                state.move(entry.workspace_id, entry.amount)


def _key(m: MessageRecord) -> tuple[int, str]:
    """A message's place in listings."""
    return Cursor.at(m).key


def _erase_contact(state: _State, workspace_id: str, erasure: Erasure) -> list[MessageRecord]:
    """``MessageStore.erase_contact`` on the memory store's state."""
    number = erasure.recipient
    found = [
        m for m in state.messages.values() if m.workspace_id == workspace_id and m.contact == number
    ]
    erased = [lifecycle.erase(m, erasure) for m in found]
    for before, record in zip(found, erased, strict=True):
        state.messages[record.id] = record
        _refund(state, record, record.history[len(before.history) :])  # failed unsent
    ids = {r.id for r in erased}
    for event in [e for e in state.outbox.values() if e.message_id in ids]:
        state.outbox[event.id] = erasure.event(event)
    for table in (state.window, state.template_window):
        table.pop((workspace_id, str(number)), None)
    state.contacts.pop((workspace_id, number), None)
    for alias in [a for a, r in state.aliases.items() if r == number]:
        del state.aliases[alias]
    for key, kept in list(state.idempotency.items()):
        if kept.response is not None and not ids.isdisjoint(kept.message_ids):
            response = erasure.response(kept.response, ids)
            state.idempotency[key] = attrs.evolve(kept, response=response)
    return erased
