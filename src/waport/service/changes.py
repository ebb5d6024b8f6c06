"""What changed, as it is committed: the feed behind ``GET /v1/events/stream``.

``Changes`` numbers every committed change of a message (a send accepted, an attempt
finished, a status applied, a message received, a contact erased) and keeps the last
``capacity`` of them, so a reader that fell behind resumes from its last number (an
SSE ``Last-Event-ID``) or learns that it must reload (``Gap``). ``watch`` puts the
feed in front of a store: the store's writes are the only place a message changes, so
nothing is published twice or missed, whichever use case made the change. The one
change that is not a message write, an inbound message's media fetched into the media
store, is published by ``inbound_media.announce``.

The feed is this process's: with several gateway processes, a stream sees the changes
its own process committed (docs/guides/console.md says how to deploy for that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import anyio
import attrs

from waport.domain.erasure import Erasure
from waport.domain.lifecycle import AttemptOutcome, StatusPatch, StatusResult
from waport.domain.records import MessageRecord
from waport.ports import MessageStore, Store, Transaction

CAPACITY: Final = 8192


@attrs.frozen
class Change:
    """Message ``message_id`` of ``workspace_id`` and ``sender_id`` changed (number ``seq``)."""

    seq: int
    workspace_id: str
    sender_id: str
    message_id: str


@attrs.frozen
class Gap:
    """The changes after the reader's number are gone from the feed: reload, go on from ``seq``."""

    seq: int


@attrs.define
class Changes:
    """A bounded, numbered feed of committed message changes, with waiting readers."""

    capacity: int = CAPACITY
    _kept: deque[Change] = attrs.field(init=False)
    _last: int = attrs.field(default=0, init=False)
    _arrived: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    _waiting: int = attrs.field(default=0, init=False)
    closed: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self._kept = deque(maxlen=self.capacity)

    @property
    def last(self) -> int:
        return self._last

    def publish(self, records: Sequence[MessageRecord]) -> None:
        for record in records:
            self._last += 1
            self._kept.append(Change(self._last, record.workspace_id, record.sender_id, record.id))
        if records and self._waiting:  # nobody waits: no wake-up to make
            self._arrived.set()
            self._arrived = anyio.Event()

    def close(self) -> None:
        """Wake every reader for good (the process is stopping)."""
        self.closed = True
        self._arrived.set()

    def after(self, seq: int) -> list[Change] | Gap:
        """The changes numbered above ``seq``, oldest first."""
        if seq >= self._last:
            return []
        if not self._kept or seq < self._kept[0].seq - 1:
            return Gap(self._last)
        start = seq - self._kept[0].seq + 1
        return [self._kept[i] for i in range(start, len(self._kept))]

    async def wait(self, seq: int, *, within: float) -> None:
        """Until a change numbered above ``seq`` exists, the feed closes, or ``within``
        seconds pass (a reader writes its keepalive then)."""
        if self._last > seq or self.closed:
            return
        self._waiting += 1
        try:
            with anyio.move_on_after(within):
                await self._arrived.wait()
        finally:
            self._waiting -= 1


class _Messages:
    """A message store whose writes publish what they changed."""

    def __init__(self, inner: MessageStore, changes: Changes) -> None:
        self._inner = inner
        self._changes = changes

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        setattr(self, name, found)  # the next lookup is a plain attribute
        return found

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        flags = await self._inner.record_inbound(records)
        self._changes.publish([r for r, new in zip(records, flags, strict=False) if new])
        return flags

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        results = await self._inner.apply_statuses(patches)
        self._changes.publish([r.record for r in results if r.changed and r.record is not None])
        return results

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        record = await self._inner.finish(message_id, outcome)
        self._changes.publish([record])
        return record

    async def erase_contact(self, workspace_id: str, erasure: Erasure) -> Sequence[MessageRecord]:
        erased = await self._inner.erase_contact(workspace_id, erasure)
        self._changes.publish(erased)
        return erased


class _Store:
    """A store whose message writes, transactions included, publish to ``changes``."""

    def __init__(self, inner: Store, changes: Changes) -> None:
        self._inner = inner
        self._changes = changes
        self.messages: MessageStore = _Messages(inner.messages, changes)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        setattr(self, name, found)  # a store's parts do not change: look up once
        return found

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        return _Publishing(self._inner.transaction(), self._changes)


class _Publishing:
    """A transaction whose added messages are published once it has committed (a
    class, not a generator: it is on every send's path)."""

    __slots__ = ("_added", "_changes", "_inner")

    def __init__(self, inner: AbstractAsyncContextManager[Transaction], changes: Changes) -> None:
        self._inner = inner
        self._changes = changes
        self._added: list[MessageRecord] = []

    async def __aenter__(self) -> Transaction:
        return _Recording(await self._inner.__aenter__(), self._added)

    async def __aexit__(self, *exc: Any) -> bool | None:
        swallowed = await self._inner.__aexit__(*exc)
        if exc[0] is None:  # committed (a failed commit raised above)
            self._changes.publish(self._added)
        return swallowed


class _Recording:
    __slots__ = ("_added", "_inner")

    def __init__(self, inner: Transaction, added: list[MessageRecord]) -> None:
        self._inner = inner
        self._added = added

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add_messages(self, records: Sequence[MessageRecord]) -> None:
        self._inner.add_messages(records)
        self._added.extend(records)


def watch(store: Store, changes: Changes) -> Store:
    """``store`` with its message writes published to ``changes`` once committed."""
    return _Store(store, changes)


def visible(change: Change, workspace_id: str, senders: Collection[str] | None) -> bool:
    """Whether a key of ``workspace_id`` limited to ``senders`` (None: all) sees ``change``."""
    return change.workspace_id == workspace_id and (senders is None or change.sender_id in senders)
