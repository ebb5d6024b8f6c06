"""Every store port in memory: the reference implementation of the store contract.

Each method runs without awaiting anything in the middle, so on one event loop it
is atomic; a transaction applies its collected writes in one step after checking
every constraint, so it lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import attrs

from waport import storekit
from waport.domain import ledger, lifecycle
from waport.domain.erasure import Erasure
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import PatchAction
from waport.domain.listing import (
    Conversation,
    ConversationQuery,
    MessageQuery,
    mode_of,
    unread_count,
)
from waport.domain.recipients import Recipient
from waport.domain.records import (
    Direction,
    MessageRecord,
    OutboxEvent,
    OutboxState,
    inbound_event,
)
from waport.domain.sources import media_of
from waport.domain.status import UNSENT, StatusChange
from waport.ports import AttemptOutcome, Sent, StatusPatch, StatusResult
from waport_memory.media import MemoryMediaStore
from waport_memory.parts import _ApiKeys, _Contacts, _Idempotency, _Templates, _Workspaces
from waport_memory.state import _enqueue, _erase_contact, _key, _note_window, _save, _State


@attrs.define
class _Messages:
    _s: _State

    async def get(self, message_id: str) -> MessageRecord | None:
        return self._s.messages.get(message_id)

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None:
        key = (provider, provider_message_id)
        mid = self._s.outbound_pid.get(key) or self._s.inbound_pid.get(key)
        return self._s.messages.get(mid) if mid else None

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]:
        rows = [m for m in self._s.messages.values() if m.broadcast_id == broadcast_id]
        return sorted(rows, key=lambda m: (m.created_at, m.id))

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        tables = (
            [self._s.window, self._s.template_window] if include_templates else [self._s.window]
        )
        key = (workspace_id, str(contact))
        times = [
            at
            for table in tables
            for sender, at in table.get(key, {}).items()
            if sender_id is None or sender == sender_id
        ]
        return max(times, default=None)

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        return len(
            {
                m.contact
                for m in self._s.messages.values()
                if m.workspace_id == workspace_id and m.initiated and m.created_at > since
            }
        )

    async def leaves_window(self, workspace_id: str, since: datetime, rank: int) -> datetime | None:
        latest: dict[Recipient, datetime] = {}
        for m in self._s.messages.values():
            if m.workspace_id == workspace_id and m.initiated and m.created_at > since:
                latest[m.contact] = max(latest.get(m.contact, m.created_at), m.created_at)
        ordered = sorted(latest.values())
        return ordered[rank] if rank < len(ordered) else None

    async def initiated_contacts(
        self, workspace_id: str, since: datetime, contacts: Collection[Recipient]
    ) -> set[Recipient]:
        wanted = set(contacts)
        return {
            m.contact
            for m in self._s.messages.values()
            if m.workspace_id == workspace_id
            and m.initiated
            and m.created_at > since
            and m.contact in wanted
        }

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        results = []
        for record in records:
            if record.inbound is None:
                raise WaportError(ErrorCode.INTERNAL, "record_inbound takes inbound messages")
            key = (record.inbound.provider, record.inbound.provider_message_id)
            if key in self._s.inbound_pid or record.id in self._s.messages:
                results.append(False)
                continue
            self._s.messages[record.id] = record
            self._s.inbound_pid[key] = record.id
            _note_window(self._s, record, record.created_at)
            _enqueue(self._s, inbound_event(record))
            results.append(True)
        return results

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        results = []
        for patch in patches:
            record = self._s.messages.get(patch.message_id) if patch.message_id else None
            key = patch.provider_key
            if record is None and key is not None:
                mid = self._s.outbound_pid.get(key)
                record = self._s.messages.get(mid) if mid else None
            decision = storekit.decide_patch(record, patch)
            if decision.action is PatchAction.STASH and key is not None:
                self._s.stash.setdefault(key, []).append(patch.change)
            elif decision.action is PatchAction.WRITE and decision.record is not None:
                _save(self._s, decision.record, list(decision.changes))
            results.append(decision.result)
        return results

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        record = self._s.messages.get(message_id)
        claimed = storekit.claim(record, now) if record is not None else None
        if claimed is not None:
            self._s.messages[message_id] = claimed
        return claimed

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        record = self._s.messages.get(message_id)
        if record is None:
            raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {message_id}")
        stashed: list[StatusChange] = []
        if isinstance(outcome, Sent):
            stashed = self._s.stash.pop((outcome.provider, outcome.provider_message_id), [])
        record, changes = storekit.finish(record, outcome, stashed)
        return _save(self._s, record, changes)

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        rows = [
            m
            for m in self._s.messages.values()
            if m.direction == Direction.OUTBOUND
            and m.status in UNSENT
            and m.attempting_since is None
            and (
                (m.due_at is not None and m.due_at <= now)
                or (m.expires_at is not None and m.expires_at <= now)
            )
        ]
        rows.sort(key=lambda m: (m.due_at or now, m.id))
        return rows[:limit]

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        rows = [
            m
            for m in self._s.messages.values()
            if m.attempting_since is not None and m.attempting_since < started_before
        ]
        rows.sort(key=lambda m: (m.attempting_since, m.id))
        return rows[:limit]

    async def page(self, query: MessageQuery) -> Sequence[MessageRecord]:
        def wanted(m: MessageRecord) -> bool:
            checks = (
                (query.senders, m.sender_id in (query.senders or ())),
                (query.contact, m.contact == query.contact),
                (query.sender_id, m.sender_id == query.sender_id),
                (query.direction, m.direction.value == query.direction),
                (query.status, m.status == query.status),
                (query.mode, mode_of(m) == query.mode),
                (query.broadcast_id, m.broadcast_id == query.broadcast_id),
                (query.since, query.since is not None and m.created_at >= query.since),
                (query.until, query.until is not None and m.created_at < query.until),
                (query.after, query.after is not None and _key(m) < query.after.key),
            )
            return m.workspace_id == query.workspace_id and all(
                ok for given, ok in checks if given is not None
            )

        rows = sorted(filter(wanted, self._s.messages.values()), key=_key, reverse=True)
        return rows[: query.limit + 1]

    async def conversations(self, query: ConversationQuery) -> Sequence[Conversation]:
        chats: dict[tuple[str, str], list[MessageRecord]] = {}
        for m in self._s.messages.values():
            if m.workspace_id == query.workspace_id and (
                query.senders is None or m.sender_id in query.senders
            ):
                chats.setdefault((str(m.contact), m.sender_id), []).append(m)
        rows = []
        for (contact, sender_id), chat in chats.items():
            if query.sender_id is not None and sender_id != query.sender_id:
                continue
            found = Conversation(
                contact=contact,
                sender_id=sender_id,
                last=max(chat, key=_key),
                unread=unread_count(chat),
            )
            if query.after is None or found.cursor.key < query.after.key:
                rows.append(found)
        rows.sort(key=lambda c: c.cursor.key, reverse=True)
        return rows[: query.limit + 1]

    async def contact_span(
        self, workspace_id: str, contact: Recipient
    ) -> tuple[datetime, datetime] | None:
        times = [
            m.created_at
            for m in self._s.messages.values()
            if m.workspace_id == workspace_id and m.contact == contact
        ]
        return (min(times), max(times)) if times else None

    async def media_in_use(self, media_ids: Collection[str]) -> set[str]:
        used: set[str] = set()
        for m in self._s.messages.values():
            media = media_of(m.message) if m.message is not None else None
            if m.status in UNSENT and media is not None:
                used.add(getattr(media.source, "media_id", ""))
        return used & set(media_ids)

    async def inbound_since(self, since: datetime, *, limit: int) -> Sequence[MessageRecord]:
        rows = [
            m
            for m in self._s.messages.values()
            if m.direction == Direction.INBOUND and m.created_at >= since
        ]
        rows.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return rows[:limit]

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        s = self._s
        owed = {e.message_id for e in s.outbox.values() if e.state == OutboxState.PENDING}
        gone = [
            m
            for m in s.messages.values()
            if lifecycle.purgeable(m, before, webhook_owed=m.id in owed)
        ][:limit]
        for m in gone:
            del s.messages[m.id]
            if m.provider and m.provider_message_id:
                pid = s.outbound_pid if m.direction == Direction.OUTBOUND else s.inbound_pid
                pid.pop((m.provider, m.provider_message_id), None)
        ids = {m.id for m in gone}
        for event_id in [e.id for e in s.outbox.values() if e.message_id in ids]:
            del s.outbox[event_id]
        for table in (s.window, s.template_window):
            for chat, senders in list(table.items()):
                for sender, at in list(senders.items()):
                    if at < before:
                        del senders[sender]
                if not senders:
                    del table[chat]
        referred = {(m.workspace_id, m.contact) for m in s.messages.values()}
        for key in [k for k, c in s.contacts.items() if k not in referred and not c.opted_out]:
            del s.contacts[key]
        recipients = {contact for _, contact in referred}
        for alias in [a for a, r in s.aliases.items() if r not in recipients]:
            del s.aliases[alias]
        return len(gone)

    async def erase_contact(self, workspace_id: str, erasure: Erasure) -> Sequence[MessageRecord]:
        return _erase_contact(self._s, workspace_id, erasure)

    async def counts(self) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for m in self._s.messages.values():
            counts[m.status.value] = counts.get(m.status.value, 0) + 1
        return counts


@attrs.define
class _Outbox:
    _s: _State

    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> Sequence[OutboxEvent]:
        heads: dict[str, OutboxEvent] = {}
        for event in self._s.outbox.values():
            if event.state != OutboxState.PENDING:
                continue
            head = heads.get(event.message_id)
            if head is None or (event.seq, event.created_at, event.id) < (
                head.seq,
                head.created_at,
                head.id,
            ):
                heads[event.message_id] = event
        ready = sorted(
            (
                e
                for e in heads.values()
                if e.due_at <= now and (e.leased_until is None or e.leased_until <= now)
            ),
            key=lambda e: (e.due_at, e.id),
        )[:limit]
        claimed = []
        for event in ready:
            leased = attrs.evolve(event, leased_until=now + lease)
            self._s.outbox[event.id] = leased
            claimed.append(leased)
        return claimed

    async def delivered(self, event_id: str, *, at: datetime) -> None:
        event = self._s.outbox.get(event_id)
        if event is not None:
            self._s.outbox[event_id] = attrs.evolve(
                event, state=OutboxState.DELIVERED, attempts=event.attempts + 1, leased_until=None
            )

    async def failed(
        self, event_id: str, *, at: datetime, due_at: datetime | None, error: str
    ) -> None:
        event = self._s.outbox.get(event_id)
        if event is None:
            return
        self._s.outbox[event_id] = attrs.evolve(
            event,
            state=OutboxState.DEAD if due_at is None else OutboxState.PENDING,
            attempts=event.attempts + 1,
            due_at=due_at or event.due_at,
            last_error=error,
            leased_until=None,
        )

    async def kill_url(self, url: str, *, error: str) -> int:
        killed = 0
        for event in list(self._s.outbox.values()):
            if event.url == url and event.state == OutboxState.PENDING:
                self._s.outbox[event.id] = attrs.evolve(
                    event, state=OutboxState.DEAD, last_error=error, leased_until=None
                )
                killed += 1
        return killed

    async def get(self, event_id: str) -> OutboxEvent | None:
        return self._s.outbox.get(event_id)

    async def for_message(self, message_id: str) -> Sequence[OutboxEvent]:
        return sorted(
            (e for e in self._s.outbox.values() if e.message_id == message_id),
            key=lambda e: (e.seq, e.id),
        )

    async def pending_count(self) -> int:
        return sum(1 for e in self._s.outbox.values() if e.state == OutboxState.PENDING)

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        for event in events:
            _enqueue(self._s, event)


@attrs.define
class MemoryStore:
    """All of waport's state in dictionaries. Fast, not durable: for tests and harnesses."""

    _state: _State = attrs.Factory(_State)
    messages: _Messages = attrs.field(init=False)
    idempotency: _Idempotency = attrs.field(init=False)
    rate_limits: storekit.LocalRateLimits = attrs.field(init=False)
    api_keys: _ApiKeys = attrs.field(init=False)
    workspaces: _Workspaces = attrs.field(init=False)
    contacts: _Contacts = attrs.field(init=False)
    templates: _Templates = attrs.field(init=False)
    outbox: _Outbox = attrs.field(init=False)
    media: MemoryMediaStore = attrs.field(factory=MemoryMediaStore, init=False)

    def __attrs_post_init__(self) -> None:
        self.messages = _Messages(self._state)
        self.idempotency = _Idempotency(self._state)
        self.rate_limits = storekit.LocalRateLimits()
        self.api_keys = _ApiKeys(self._state)
        self.workspaces = _Workspaces(self._state)
        self.contacts = _Contacts(self._state)
        self.templates = _Templates(self._state)
        self.outbox = _Outbox(self._state)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[storekit.PendingWrites]:
        tx = storekit.PendingWrites()
        yield tx
        self._commit(tx)

    def _commit(self, tx: storekit.PendingWrites) -> None:
        s = self._state
        for claim in tx.claims:
            existing = s.idempotency.get((claim.scope, claim.key))
            if not lifecycle.may_take_key(
                existing.expires_at if existing else None, claim.created_at
            ):
                raise lifecycle.key_in_use()
        ids = [r.id for r in tx.messages]
        if len(set(ids)) != len(ids) or any(i in s.messages for i in ids):
            raise WaportError(ErrorCode.INTERNAL, "duplicate message id")
        debited = []
        for workspace_id, total in tx.debit_totals().items():
            workspace = s.workspaces.get(workspace_id)
            if workspace is None or workspace.balance is None:
                continue  # unlimited: nothing to debit
            if workspace.balance + total < 0:
                raise ledger.insufficient(total)
            debited.append(workspace_id)
        for workspace_id in debited:  # every check passed: now write
            s.move(workspace_id, tx.debit_totals()[workspace_id])
        for entry in tx.debits:
            if entry.workspace_id in debited:
                s.book(entry)
        for claim in tx.claims:
            s.idempotency[(claim.scope, claim.key)] = claim
        for record in tx.messages:
            s.messages[record.id] = record
            if record.provider and record.provider_message_id:
                s.outbound_pid[(record.provider, record.provider_message_id)] = record.id
        for contact in tx.contacts:
            key = (contact.workspace_id, contact.recipient)
            s.contacts[key] = storekit.merge_contact(s.contacts.get(key), contact)
