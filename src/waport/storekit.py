"""What store adapters share beside the lifecycle: time as integer microseconds, the
unit-of-work's pending writes, an in-process rate-limit store and the media intake.
The SQL both SQL stores run is in ``waport.sqlkit``.

A store persists; ``waport.domain.lifecycle`` decides (claim, finish, status patches,
recovery, retention, idempotency). Its functions are re-exported here for store
authors who import them from the kit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.lifecycle import (
    apply_change,
    change_consent,
    claim,
    decide_patch,
    events_for,
    finish,
    merge_contact,
    opens_template_window,
)
from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.domain.records import (
    Contact,
    IdempotencyRecord,
    MediaObject,
    MessageRecord,
    inbound_event,
    status_event,
)

__all__ = [
    "EPOCH",
    "apply_change",
    "change_consent",
    "claim",
    "decide_patch",
    "events_for",
    "finish",
    "from_us",
    "LocalRateLimits",
    "Intake",
    "PendingWrites",
    "media_not_found",
    "inbound_event",
    "merge_contact",
    "opens_template_window",
    "status_event",
    "to_us",
]


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


@attrs.define
class PendingWrites:
    """The writes a ``Store.transaction()`` block collects (the ``Transaction`` port);
    each store applies them atomically when the block exits cleanly."""

    messages: list[MessageRecord] = attrs.Factory(list)
    claims: list[IdempotencyRecord] = attrs.Factory(list)
    contacts: list[Contact] = attrs.Factory(list)
    debits: list[LedgerEntry] = attrs.Factory(list)

    def add_messages(self, records: Sequence[MessageRecord]) -> None:
        self.messages.extend(records)

    def claim_idempotency(self, record: IdempotencyRecord) -> None:
        self.claims.append(record)

    def upsert_contact(self, contact: Contact) -> None:
        self.contacts.append(contact)

    def debit(self, entries: Sequence[LedgerEntry]) -> None:
        self.debits.extend(entries)

    def debit_totals(self) -> dict[str, int]:
        """What the debits take from each workspace."""
        totals: dict[str, int] = {}
        for entry in self.debits:
            totals[entry.workspace_id] = totals.get(entry.workspace_id, 0) + entry.amount
        return totals


# ----------------------------------------------------------------------------- media stores


@attrs.define
class Intake:
    """What a media store's ``put`` counts while bytes stream in: the size (refused with
    ``MEDIA_TOO_LARGE`` as soon as it passes ``max_size``) and the sha256."""

    max_size: int
    size: int = 0
    _sha: Any = attrs.field(factory=hashlib.sha256, init=False)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_size:
            raise WaportError(
                ErrorCode.MEDIA_TOO_LARGE, f"the media may be at most {self.max_size} bytes"
            )
        self._sha.update(chunk)

    @property
    def sha256(self) -> str:
        return str(self._sha.hexdigest())

    def media(
        self,
        *,
        media_id: str,
        workspace_id: str,
        mime_type: str,
        created_at: datetime,
        filename: str | None,
    ) -> MediaObject:
        """The media object of the bytes taken in."""
        return MediaObject(
            id=media_id,
            workspace_id=workspace_id,
            sha256=self.sha256,
            size=self.size,
            mime_type=mime_type,
            filename=filename,
            created_at=created_at,
        )


def media_not_found() -> WaportError:
    return WaportError(ErrorCode.NOT_FOUND, "no such media", "media_id")
