"""Pure record transitions shared by every store adapter.

A store persists; these functions decide. Each takes a record and returns the new
record plus what changed, so the memory, SQLite and PostgreSQL stores (and yours)
apply exactly the same rules: statuses merge forward only, a claim is taken only
on an unsent, unclaimed outbound message, an attempt's outcome releases the claim.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import attrs

from waport import codec
from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.domain.records import (
    Contact,
    Direction,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    inbound_event,
    status_event,
)
from waport.domain.status import UNSENT, MessageStatus, StatusChange, advance
from waport.ports import AttemptOutcome, Failed, Release, Retry, Sent

__all__ = [
    "EPOCH",
    "DocCache",
    "apply_change",
    "claim",
    "events_for",
    "finish",
    "from_us",
    "LocalRateLimits",
    "MESSAGE_CHANGES",
    "MESSAGE_COLUMNS",
    "message_changes",
    "message_row",
    "PendingWrites",
    "inbound_event",
    "merge_contact",
    "opens_template_window",
    "status_event",
    "to_us",
]


def apply_change(record: MessageRecord, change: StatusChange, **also: Any) -> MessageRecord | None:
    """The record after ``change`` (and the fields in ``also``, in the same rebuild);
    ``None`` when the change does not move it forward."""
    result = advance(record.history, change)
    if result is None:
        return None
    status, history = result
    fields = {"status": status, "history": history, "error": change.error or record.error}
    if status.final and record.attempting_since is not None:
        # the provider has spoken about a message whose attempt never recorded its outcome
        fields["attempting_since"] = None
    return attrs.evolve(record, **(fields | also))


def claim(record: MessageRecord, now: datetime) -> MessageRecord | None:
    """Mark an unsent, unclaimed outbound message as being attempted at ``now``."""
    if (
        record.direction != Direction.OUTBOUND
        or record.status not in UNSENT
        or record.attempting_since is not None
    ):
        return None
    history = record.history
    status = record.status
    if status == MessageStatus.SCHEDULED:
        status = MessageStatus.PENDING
        history = (*history, StatusChange(status=status, at=now))
    return attrs.evolve(
        record, status=status, history=history, attempting_since=now, attempts=record.attempts + 1
    )


def finish(
    record: MessageRecord, outcome: AttemptOutcome, stashed: Iterable[StatusChange] = ()
) -> tuple[MessageRecord, list[StatusChange]]:
    """Apply an attempt's outcome (and, after a send, any statuses that arrived early).

    Returns the final record and the changes that moved it forward, in order: the
    store enqueues ``events_for`` them and notes template windows. A recovery outcome
    (``claimed_at`` set) for a claim that is no longer the current one changes nothing.
    """
    guard = outcome.claimed_at if isinstance(outcome, Failed | Release) else None
    if guard is not None and record.attempting_since != guard:
        return record, []
    changes: list[StatusChange] = []

    def step(change: StatusChange) -> None:
        nonlocal record
        updated = apply_change(record, change)
        if updated is not None:
            record = updated
            changes.append(change)

    # the outcome's fields and its status change in one rebuild (this runs on every send)
    if isinstance(outcome, Sent):
        record = _outcome_step(
            record,
            StatusChange(status=MessageStatus.SENT, at=outcome.at),
            changes,
            attempting_since=None,
            provider=outcome.provider,
            provider_message_id=outcome.provider_message_id,
            due_at=None,
        )
        for change in sorted(stashed, key=lambda c: c.status.rank):
            step(change)
    elif isinstance(outcome, Retry):
        record = attrs.evolve(
            record, attempting_since=None, due_at=outcome.due_at, error=outcome.error
        )
    elif isinstance(outcome, Failed):
        record = _outcome_step(
            record,
            StatusChange(status=outcome.status, at=outcome.at, error=outcome.error),
            changes,
            attempting_since=None,
            due_at=None,
            error=outcome.error,
        )
    elif isinstance(outcome, Release):
        attempts = record.attempts if outcome.count_attempt else max(0, record.attempts - 1)
        record = attrs.evolve(
            record, attempting_since=None, due_at=outcome.due_at, attempts=attempts
        )
    return record, changes


def _outcome_step(
    record: MessageRecord, change: StatusChange, changes: list[StatusChange], **fields: Any
) -> MessageRecord:
    """``record`` with an outcome's ``fields`` and its status ``change`` (noted in
    ``changes`` if it moved the status: a webhook may have got further first)."""
    updated = apply_change(record, change, **fields)
    if updated is None:
        return attrs.evolve(record, **fields)
    changes.append(change)
    return updated


def events_for(record: MessageRecord, changes: Sequence[StatusChange]) -> list[OutboxEvent]:
    """The outbound webhook events owed for ``changes`` of ``record``."""
    return [event for change in changes if (event := status_event(record, change)) is not None]


def opens_template_window(record: MessageRecord, change: StatusChange) -> bool:
    """True when ``change`` is a template reaching ``sent`` (the window policy may count it)."""
    return (
        change.status == MessageStatus.SENT
        and record.direction == Direction.OUTBOUND
        and record.category not in (None, "SERVICE")
    )


def merge_contact(old: Contact | None, new: Contact) -> Contact:
    """Upsert rule: labels are merged, metadata keys overwritten, a missing name kept."""
    if old is None:
        return attrs.evolve(new, labels=tuple(sorted(set(new.labels))))
    return Contact(
        workspace_id=new.workspace_id,
        recipient=new.recipient,
        name=new.name if new.name is not None else old.name,
        labels=tuple(sorted(set(old.labels) | set(new.labels))),
        metadata={**old.metadata, **new.metadata},
        updated_at=new.updated_at,
    )


@attrs.define
class LocalRateLimits:
    """A ``RateLimitStore`` that keeps its GCRA buckets in this process.

    A bucket is one timestamp, and losing it on a restart only lets one burst through
    again, so a store whose writes go through a single process (memory, SQLite) answers
    from memory instead of paying a database round trip per request. A store shared by
    several gateway processes (PostgreSQL) must keep the buckets in the database.
    """

    _tats: dict[str, datetime] = attrs.Factory(dict)

    async def hit(self, key: str, rate: RateLimit, *, now: datetime, cost: int = 1) -> RateDecision:
        decision = gcra(self._tats.get(key), now, rate, cost=cost)
        if decision.allowed:
            self._tats[key] = decision.tat
        return decision

    async def purge(self, now: datetime) -> int:
        dead = [key for key, tat in self._tats.items() if tat <= now]
        for key in dead:
            del self._tats[key]
        return len(dead)


# ----------------------------------------------------------------------------- for SQL stores

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@overload
def to_us(when: datetime) -> int: ...
@overload
def to_us(when: None) -> None: ...
def to_us(when: datetime | None) -> int | None:
    """A datetime as integer microseconds since the epoch (exact, sortable)."""
    return None if when is None else (when - EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


MESSAGE_COLUMNS = (
    "id",
    "workspace_id",
    "sender_id",
    "contact",
    "direction",
    "status",
    "created_us",
    "due_us",
    "expires_us",
    "attempting_us",
    "provider",
    "provider_message_id",
    "broadcast_id",
    "initiated",
    "doc",
)
"""The columns of a new ``messages`` row, in the order of ``message_row``."""

MESSAGE_CHANGES = ("status", "due_us", "attempting_us", "provider", "provider_message_id", "doc")
"""The columns a later write of a message sets, in the order of ``message_changes``."""


def message_row(r: MessageRecord, doc: str) -> tuple[Any, ...]:
    """A new ``messages`` row: the indexed fields beside the whole document ``doc``."""
    return (
        r.id,
        r.workspace_id,
        r.sender_id,
        str(r.contact),
        r.direction.value,
        r.status.value,
        to_us(r.created_at),
        to_us(r.due_at),
        to_us(r.expires_at),
        to_us(r.attempting_since),
        r.provider,
        r.provider_message_id,
        r.broadcast_id,
        r.initiated,
        doc,
    )


def message_changes(r: MessageRecord, doc: str) -> tuple[Any, ...]:
    """The values of ``MESSAGE_CHANGES`` for a stored message, then its id (for the WHERE)."""
    return (
        r.status.value,
        to_us(r.due_at),
        to_us(r.attempting_since),
        r.provider,
        r.provider_message_id,
        doc,
        r.id,
    )


@attrs.define
class DocCache:
    """Decoded message documents, keyed by the document text itself, so a changed row can
    never be answered with a stale record. Owned by one store."""

    limit: int = 4096
    _decoded: OrderedDict[str, MessageRecord] = attrs.Factory(OrderedDict)

    def load(self, doc: str) -> MessageRecord:
        record = self._decoded.get(doc)
        if record is None:
            record = codec.loads(doc, MessageRecord)
            self.remember(doc, record)
        return record

    def remember(self, doc: str, record: MessageRecord) -> None:
        self._decoded[doc] = record
        if len(self._decoded) > self.limit:
            self._decoded.popitem(last=False)


@attrs.define
class PendingWrites:
    """The writes a ``Store.transaction()`` block collects (the ``Transaction`` port);
    each store applies them atomically when the block exits cleanly."""

    messages: list[MessageRecord] = attrs.Factory(list)
    claims: list[IdempotencyRecord] = attrs.Factory(list)
    contacts: list[Contact] = attrs.Factory(list)

    def add_messages(self, records: Sequence[MessageRecord]) -> None:
        self.messages.extend(records)

    def claim_idempotency(self, record: IdempotencyRecord) -> None:
        self.claims.append(record)

    def upsert_contact(self, contact: Contact) -> None:
        self.contacts.append(contact)
