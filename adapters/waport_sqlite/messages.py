"""The message store on SQLite: it loads and persists what ``waport.domain.lifecycle`` decides."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import anyio
import attrs

from waport import codec, sqlkit, storekit
from waport.domain.erasure import Erasure
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import PatchAction
from waport.domain.listing import Conversation, ConversationQuery, MessageQuery
from waport.domain.recipients import Recipient, stored_recipient
from waport.domain.records import (
    MessageRecord,
)
from waport.domain.status import StatusChange
from waport.ports import AttemptOutcome, Sent, StatusPatch, StatusResult
from waport_sqlite import erase
from waport_sqlite.engine import (
    Conn,
    _Reader,
    _Writer,
    from_us,
    us,
)
from waport_sqlite.known import WINDOW_KINDS
from waport_sqlite.rows import (
    SQL,
    _by_provider,
    _Docs,
    _enqueue,
    _get_message,
    _insert_message,
    _note_window,
    _save,
    _update_message,
    _written_or_read,
)

# ----------------------------------------------------------------------------- sub-stores


@attrs.define
class _Part:
    _r: _Reader
    _w: _Writer
    _docs: _Docs


class _Messages(_Part):
    async def get(self, message_id: str) -> MessageRecord | None:
        return await self._r.point(lambda c: _get_message(c, self._docs, message_id))

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None:
        return await self._r.point(
            lambda c: _by_provider(c, self._docs, provider, provider_message_id)
        )

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            return [self._docs.load(row) for row in c.execute(SQL.by_broadcast, (broadcast_id,))]

        return await self._r.call(read)

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        kinds = WINDOW_KINDS if include_templates else WINDOW_KINDS[:1]
        if sender_id is None:  # any sender's: not kept in ``Known``

            def read_any(c: Conn) -> int | None:
                marks = ", ".join("?" * len(kinds))
                row = c.execute(
                    f"SELECT MAX(last_us) FROM windows WHERE workspace_id = ? AND contact = ? AND kind IN ({marks})",
                    (workspace_id, str(contact), *kinds),
                ).fetchone()
                return row[0] if row else None

            last = await self._r.point(read_any)
            return None if last is None else from_us(last)
        known = self._w.known_now()
        key = (workspace_id, str(contact), sender_id)
        hit, last = known.window(key, kinds)
        if not hit:

            def read(c: Conn) -> dict[str, int]:
                rows = c.execute(
                    "SELECT kind, last_us FROM windows WHERE workspace_id = ? AND contact = ? AND sender_id = ?",
                    key,
                )
                return dict(rows.fetchall())

            found = await self._r.point(read)
            known.windows_read(key, found)
            last = max((found[kind] for kind in kinds if kind in found), default=None)
        return None if last is None else from_us(last)

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        def read(c: Conn) -> int:
            row = c.execute(
                "SELECT COUNT(DISTINCT contact) FROM messages WHERE initiated = 1 AND workspace_id = ? AND created_us > ?",
                (workspace_id, us(since)),
            ).fetchone()
            return int(row[0])

        return await self._r.call(read)

    async def leaves_window(self, workspace_id: str, since: datetime, rank: int) -> datetime | None:
        def read(c: Conn) -> datetime | None:
            row = c.execute(SQL.leaves_window, (workspace_id, us(since), rank)).fetchone()
            return None if row is None else from_us(row[0])

        return await self._r.call(read)

    async def initiated_contacts(
        self, workspace_id: str, since: datetime, contacts: Collection[Recipient]
    ) -> set[Recipient]:
        wanted = [str(c) for c in contacts]

        def read(c: Conn) -> set[Recipient]:
            found: set[Recipient] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = c.execute(
                    f"SELECT DISTINCT contact FROM messages WHERE initiated = 1 AND workspace_id = ? AND created_us > ? AND contact IN ({marks})",
                    (workspace_id, us(since), *chunk),
                )
                found.update(stored_recipient(value) for (value,) in rows)
            return found

        return await self._r.call(read)

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        def write(c: Conn) -> list[bool]:
            results = []
            for r in records:
                if r.inbound is None:
                    raise WaportError(ErrorCode.INTERNAL, "record_inbound takes inbound messages")
                if not _insert_message(c, self._w, self._docs, r):
                    results.append(False)
                    continue
                _note_window(c, self._w, r, r.created_at, "inbound")
                _enqueue(c, storekit.inbound_event(r))
                results.append(True)
            return results

        return await self._w.call(write)

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        def write(c: Conn) -> list[StatusResult]:
            results = []
            for patch in patches:
                record = _get_message(c, self._docs, patch.message_id) if patch.message_id else None
                key = patch.provider_key
                if record is None and key is not None:
                    record = _by_provider(c, self._docs, *key, "outbound")
                decision = storekit.decide_patch(record, patch)
                if decision.action is PatchAction.STASH and key is not None:
                    self._w.known.stash_empty = False  # at once: for this batch too
                    c.execute(
                        SQL.stash, (*key, patch.change.status.value, codec.dumps(patch.change))
                    )
                elif (
                    decision.action is PatchAction.WRITE
                    and decision.record is not None
                    and record is not None
                ):
                    _save(
                        c,
                        self._w,
                        self._docs,
                        before=record,
                        after=decision.record,
                        changes=decision.changes,
                    )
                results.append(decision.result)
            return results

        return await self._w.call(write)

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        def write(c: Conn) -> MessageRecord | None:
            row = c.execute(SQL.claimable, (message_id,)).fetchone()
            if row is None:
                return None
            record = self._docs.load(row)
            claimed = storekit.claim(record, now)
            if claimed is not None:
                _update_message(c, self._w, self._docs, record, claimed)
            return claimed

        return await self._w.call(write)

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        def write(c: Conn) -> MessageRecord:
            record = _written_or_read(c, self._w, self._docs, message_id)
            if record is None:
                raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {message_id}")
            stashed: list[StatusChange] = []
            if isinstance(outcome, Sent) and not self._w.known.stash_empty:
                rows = c.execute(
                    SQL.take_stash, (outcome.provider, outcome.provider_message_id)
                ).fetchall()
                stashed = [codec.loads(doc, StatusChange) for (doc,) in rows]
            after, changes = storekit.finish(record, outcome, stashed)
            return _save(c, self._w, self._docs, before=record, after=after, changes=changes)

        return await self._w.call(write)

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(SQL.due, (us(now), us(now), limit))
            return [self._docs.load(row) for row in rows]

        return await self._r.call(read)

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(SQL.in_flight, (us(started_before), limit))
            return [self._docs.load(row) for row in rows]

        return await self._r.call(read)

    async def page(self, query: MessageQuery) -> Sequence[MessageRecord]:
        sql, args = sqlkit.page_query(query)

        def read(c: Conn) -> list[MessageRecord]:
            return [self._docs.load(row) for row in c.execute(sql, args)]

        return await self._r.call(read)

    async def conversations(self, query: ConversationQuery) -> Sequence[Conversation]:
        sql, args = sqlkit.conversation_page_query(query)

        def read(c: Conn) -> list[Conversation]:
            return [
                Conversation(
                    contact=row[0], sender_id=row[1], unread=row[2], last=self._docs.load(row[3:])
                )
                for row in c.execute(sql, args)
            ]

        return await self._r.call(read)

    async def contact_span(
        self, workspace_id: str, contact: Recipient
    ) -> tuple[datetime, datetime] | None:
        def read(c: Conn) -> tuple[datetime, datetime] | None:
            first, last = c.execute(SQL.contact_span, (workspace_id, str(contact))).fetchone()
            return None if first is None else (from_us(first), from_us(last))

        return await self._r.point(read)

    async def media_in_use(self, media_ids: Collection[str]) -> set[str]:
        wanted = set(media_ids)

        def read(c: Conn) -> set[str]:
            used: set[str] = set()
            for (doc,) in c.execute(SQL.unsent_with_media):
                used |= sqlkit.media_ids_in(doc) & wanted
            return used

        return await self._r.call(read)

    async def inbound_since(self, since: datetime, *, limit: int) -> Sequence[MessageRecord]:
        def read(c: Conn) -> list[MessageRecord]:
            rows = c.execute(SQL.inbound_since, (us(since), limit))
            return [self._docs.load(row) for row in rows]

        return await self._r.call(read)

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        cutoff = us(before)

        def write(c: Conn) -> int:
            gone = c.execute(SQL.purgeable, (cutoff, limit)).fetchall()
            ids = [(row[0],) for row in gone]
            c.executemany("DELETE FROM outbox WHERE message_id = ?", ids)
            c.executemany("DELETE FROM messages WHERE id = ?", ids)
            c.execute("DELETE FROM windows WHERE last_us < ?", (cutoff,))
            for pair in sorted({(row[1], row[2]) for row in gone}):
                c.execute(SQL.forget_conversations, pair)
                c.execute(SQL.refill_conversations, pair)
            self._w.after_commit(self._w.known.forget)
            for contact in {row[2] for row in gone}:
                c.execute(
                    """DELETE FROM contacts WHERE recipient = ? AND opted_out = 0 AND NOT EXISTS
                       (SELECT 1 FROM messages m WHERE m.contact = contacts.recipient
                        AND m.workspace_id = contacts.workspace_id)""",
                    (contact,),
                )
                if (
                    c.execute("SELECT 1 FROM messages WHERE contact = ?", (contact,)).fetchone()
                    is None
                ):
                    c.execute("DELETE FROM aliases WHERE recipient = ?", (contact,))
            return len(gone)

        return await self._w.call(write, slow=True)

    async def erase_contact(self, workspace_id: str, erasure: Erasure) -> Sequence[MessageRecord]:
        def write(c: Conn) -> list[MessageRecord]:
            erased = erase.erase(c, self._docs, workspace_id, erasure)
            self._w.after_commit(self._w.known.forget)
            return erased

        erased = await self._w.call(write, slow=True)
        path = erase.database_path(self._w.conn)
        await anyio.to_thread.run_sync(erase.checkpoint, path)
        return erased

    async def counts(self) -> Mapping[str, int]:
        return await self._r.call(lambda c: dict(c.execute(SQL.counts).fetchall()))
