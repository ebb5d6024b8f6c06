"""The message store on PostgreSQL: it loads and persists what ``waport.domain.lifecycle`` decides."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Final, NamedTuple

import asyncpg
import attrs

from waport import codec, erasesql, sqlkit, storekit
from waport.domain import lifecycle
from waport.domain.erasure import Erasure
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.listing import Conversation, ConversationQuery, MessageQuery
from waport.domain.recipients import Recipient, stored_recipient
from waport.domain.records import (
    MessageRecord,
)
from waport.domain.status import StatusChange
from waport.ports import AttemptOutcome, Sent, StatusPatch, StatusResult
from waport_postgres import statuses
from waport_postgres.coalesce import Coalesced
from waport_postgres.rows import (
    SENT_TAKING_STASH,
    SQL,
    Conn,
    Writes,
    _as_store_error,
    _by_provider,
    _enqueue,
    _get_message,
    _insert_message,
    _lock_key,
    _note_window,
    _Part,
    _refund,
    _update_message,
    from_us,
    us,
)

ERASE: Final = erasesql.EraseStatements.for_postgres()


class WindowAsk(NamedTuple):
    """One send's question for ``last_inbound``: its window's latest time."""

    workspace_id: str
    contact: str
    sender_id: str | None  # None: any sender's
    include_templates: bool


WINDOWS: Final = (
    "SELECT (SELECT MAX(w.last_us) FROM windows w"
    " WHERE w.workspace_id = q.workspace_id AND w.contact = q.contact"
    " AND (q.sender_id IS NULL OR w.sender_id = q.sender_id)"
    " AND (w.kind = 'inbound' OR (q.templates AND w.kind = 'template'))) AS last"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[]) WITH ORDINALITY"
    " AS q(workspace_id, contact, sender_id, templates, i) ORDER BY q.i"
)
"""Many sends' windows in one statement (``Coalesced``), in the order asked."""


async def read_windows(c: Conn, asks: Sequence[WindowAsk]) -> list[int | None]:
    """The latest time (µs) of each ask's window, or None where it has none."""
    rows = await c.fetch(WINDOWS, *(list(column) for column in zip(*asks, strict=True)))
    return [row["last"] for row in rows]


@attrs.define
class _Messages(_Part):
    _windows: Coalesced[WindowAsk, int | None]

    async def get(self, message_id: str) -> MessageRecord | None:
        rows = await self._fetch(SQL.get_message, message_id)
        return self._docs.load(rows[0]) if rows else None

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None:
        async with self._pool.acquire() as c:
            return await _by_provider(c, self._docs, provider, provider_message_id)

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]:
        rows = await self._fetch(SQL.by_broadcast, broadcast_id)
        return [self._docs.load(row) for row in rows]

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        ask = WindowAsk(workspace_id, str(contact), sender_id, include_templates)
        try:
            last = await self._windows.get(ask)
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc
        return from_us(last) if last is not None else None

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        rows = await self._fetch(
            "SELECT COUNT(DISTINCT contact) AS n FROM messages WHERE initiated"
            " AND workspace_id = $1 AND created_us > $2",
            workspace_id,
            us(since),
        )
        return int(rows[0]["n"])

    async def leaves_window(self, workspace_id: str, since: datetime, rank: int) -> datetime | None:
        rows = await self._fetch(SQL.leaves_window, workspace_id, us(since), rank)
        return from_us(rows[0]["last"]) if rows else None

    async def initiated_contacts(
        self, workspace_id: str, since: datetime, contacts: Collection[Recipient]
    ) -> set[Recipient]:
        rows = await self._fetch(
            "SELECT DISTINCT contact FROM messages WHERE initiated AND workspace_id = $1"
            " AND created_us > $2 AND contact = ANY($3::text[])",
            workspace_id,
            us(since),
            [str(c) for c in contacts],
        )
        return {stored_recipient(row["contact"]) for row in rows}

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        if any(r.inbound is None for r in records):
            raise WaportError(ErrorCode.INTERNAL, "record_inbound takes inbound messages")
        # rows are locked in one order in every process: fewer deadlocks to retry
        order = sorted(range(len(records)), key=lambda i: (str(records[i].contact), records[i].id))

        async def write(c: Conn) -> list[bool]:
            results = [False] * len(records)
            for i in order:
                r = records[i]
                if await _insert_message(c, self._docs, r):
                    await _note_window(c, r, r.created_at, "inbound")
                    await _enqueue(c, storekit.inbound_event(r))
                    results[i] = True
            return results

        return await self._write(write)

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        return await self._write(lambda c: statuses.apply(c, self._docs, patches))

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        async def take(c: Conn) -> MessageRecord | None:
            row = await c.fetchrow(SQL.claimable + " FOR UPDATE SKIP LOCKED", message_id)
            if row is None:
                return None
            record = self._docs.load(row)
            claimed = storekit.claim(record, now)
            if claimed is not None:
                await _update_message(c, self._docs, record, claimed)
            return claimed

        return await self._write(take)

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        locks: tuple[str, ...] = ()
        if isinstance(outcome, Sent):
            locks = (_lock_key(outcome.provider, outcome.provider_message_id),)
        finished: MessageRecord = await self._write_together(
            self._finish_all, (message_id, outcome), locks=locks
        )
        return finished

    async def _finish_all(
        self, c: Conn, items: list[tuple[str, AttemptOutcome]]
    ) -> list[MessageRecord]:
        """A batch's outcomes (``GroupCommit.together``), their provider ids' locks held:
        the sent messages' rows and stashes in one statement, the writes in a few."""
        if len({message_id for message_id, _ in items}) < len(items):  # run alone instead
            raise WaportError(ErrorCode.INTERNAL, "one message finished twice in a batch")
        sent = {message_id: outcome for message_id, outcome in items if isinstance(outcome, Sent)}
        found: dict[str, tuple[MessageRecord, list[StatusChange]]] = {}
        if sent:
            rows = await c.fetch(
                SENT_TAKING_STASH,
                [o.provider for o in sent.values()],
                [o.provider_message_id for o in sent.values()],
                list(sent),
            )
            for row in rows:
                loaded = self._docs.load(tuple(row)[:-2])
                found[loaded.id] = (loaded, [codec.loads(d, StatusChange) for d in row["stashed"]])
        writes = Writes()
        finished = []
        for message_id, outcome in items:
            record: MessageRecord | None
            if isinstance(outcome, Sent):
                record, stashed = found.get(message_id, (None, []))
            else:
                record, stashed = await _get_message(c, self._docs, message_id, lock=True), []
            if record is None:
                raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {message_id}")
            after, changes = storekit.finish(record, outcome, stashed)
            writes.write(record, after, changes)
            finished.append(after)
        await writes.run(c, self._docs)
        return finished

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        rows = await self._fetch(SQL.due, us(now), us(now), limit)
        return [self._docs.load(row) for row in rows]

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        rows = await self._fetch(SQL.in_flight, us(started_before), limit)
        return [self._docs.load(row) for row in rows]

    async def page(self, query: MessageQuery) -> Sequence[MessageRecord]:
        sql, args = sqlkit.page_query(query, postgres=True)
        return [self._docs.load(row) for row in await self._fetch(sql, *args)]

    async def conversations(self, query: ConversationQuery) -> Sequence[Conversation]:
        sql, args = sqlkit.conversation_page_query(query, postgres=True)
        return [
            Conversation(
                contact=row[0],
                sender_id=row[1],
                unread=row[2],
                last=self._docs.load(tuple(row)[3:]),
            )
            for row in await self._fetch(sql, *args)
        ]

    async def contact_span(
        self, workspace_id: str, contact: Recipient
    ) -> tuple[datetime, datetime] | None:
        rows = await self._fetch(SQL.contact_span, workspace_id, str(contact))
        first, last = rows[0][0], rows[0][1]
        return None if first is None else (from_us(first), from_us(last))

    async def media_in_use(self, media_ids: Collection[str]) -> set[str]:
        wanted = set(media_ids)
        rows = await self._fetch(SQL.unsent_with_media)
        return {m for row in rows for m in sqlkit.media_ids_in(row["doc"])} & wanted

    async def inbound_since(self, since: datetime, *, limit: int) -> Sequence[MessageRecord]:
        rows = await self._fetch(SQL.inbound_since, us(since), limit)
        return [self._docs.load(row) for row in rows]

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        cutoff = us(before)
        async with self._tx() as c:
            gone = await c.fetch(SQL.purgeable + " FOR UPDATE SKIP LOCKED", cutoff, limit)
            ids = [row["id"] for row in gone]
            await c.execute("DELETE FROM outbox WHERE message_id = ANY($1::text[])", ids)
            await c.execute("DELETE FROM messages WHERE id = ANY($1::text[])", ids)
            await c.execute("DELETE FROM windows WHERE last_us < $1", cutoff)
            for workspace_id, contact in sorted({(r["workspace_id"], r["contact"]) for r in gone}):
                await c.execute(SQL.forget_conversations, workspace_id, contact)
                await c.execute(SQL.refill_conversations, workspace_id, contact)
            contacts = sorted({row["contact"] for row in gone})
            await c.execute(
                "DELETE FROM contacts WHERE recipient = ANY($1::text[]) AND NOT opted_out"
                " AND NOT EXISTS"
                " (SELECT 1 FROM messages m WHERE m.contact = contacts.recipient"
                "  AND m.workspace_id = contacts.workspace_id)",
                contacts,
            )
            await c.execute(
                "DELETE FROM aliases WHERE recipient = ANY($1::text[]) AND NOT EXISTS"
                " (SELECT 1 FROM messages m WHERE m.contact = aliases.recipient)",
                contacts,
            )
            return len(gone)

    async def erase_contact(self, workspace_id: str, erasure: Erasure) -> Sequence[MessageRecord]:
        number, alias = str(erasure.recipient), str(erasure.alias)
        async with self._tx() as c:
            rows = await c.fetch(ERASE.messages + " FOR UPDATE", number, workspace_id)
            found = [self._docs.load(row) for row in rows]
            erased = [lifecycle.erase(record, erasure) for record in found]
            await c.executemany(ERASE.rewrite_message, [erasesql.message_args(r) for r in erased])
            for before, record in zip(found, erased, strict=True):
                await _refund(c, record, record.history[len(before.history) :])
            events = await c.fetch(ERASE.events, alias, workspace_id)
            await c.executemany(
                ERASE.rewrite_event,
                [erasesql.event_args(row["doc"], row["state"], erasure) for row in events],
            )
            await c.execute(ERASE.forget_windows, workspace_id, number)
            await c.execute(ERASE.rename_conversations, alias, workspace_id, number)
            await c.execute(ERASE.forget_contact, workspace_id, number)
            await c.execute(ERASE.forget_aliases, number)
            ids = {r.id for r in erased}
            for row in await c.fetch(ERASE.idempotency + " FOR UPDATE"):
                scrubbed = erasesql.idempotency_doc(row["doc"], ids, erasure)
                if scrubbed is not None:
                    await c.execute(ERASE.rewrite_idempotency, scrubbed, row["scope"], row["key"])
        for record in erased:
            self._docs.rewritten(record)
        return erased

    async def counts(self) -> Mapping[str, int]:
        rows = await self._fetch(SQL.counts)
        return {row[0]: int(row[1]) for row in rows}
