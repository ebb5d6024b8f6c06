"""The other sub-stores on SQLite: idempotency, API keys, workspaces, contacts, templates, outbox."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import attrs

from waport import codec, ledgersql, sqlkit, storekit
from waport.domain import ledger
from waport.domain.consent import ConsentChange
from waport.domain.contacts import ContactPatch, ContactQuery, heard_of, patch_contact
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.recipients import Recipient, stored_recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    OutboxEvent,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.templates import TemplateSpec
from waport_sqlite.engine import (
    Conn,
    us,
)
from waport_sqlite.messages import _Part
from waport_sqlite.rows import (
    _EVENT_COLUMNS,
    LEDGER,
    _enqueue,
    _load_event,
)


class _Idempotency(_Part):
    async def get(self, scope: str, key: str, *, now: datetime) -> IdempotencyRecord | None:
        def read(c: Conn) -> IdempotencyRecord | None:
            row = c.execute(
                "SELECT doc FROM idempotency WHERE scope = ? AND key = ? AND expires_us > ?",
                (scope, key, us(now)),
            ).fetchone()
            return codec.loads(row[0], IdempotencyRecord) if row else None

        return await self._r.point(read)

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        def write(c: Conn) -> None:
            row = c.execute(
                "SELECT doc FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is not None:
                record = attrs.evolve(codec.loads(row[0], IdempotencyRecord), response=response)
                c.execute(
                    "UPDATE idempotency SET doc = ? WHERE scope = ? AND key = ?",
                    (codec.dumps(record), scope, key),
                )

        await self._w.call(write)

    async def purge(self, now: datetime) -> int:
        return await self._w.call(
            lambda c: (
                c.execute("DELETE FROM idempotency WHERE expires_us <= ?", (us(now),)).rowcount
            ),
            slow=True,  # a day's worth of keys at once
        )


class _ApiKeys(_Part):
    async def add(self, key: ApiKey) -> None:
        def write(c: Conn) -> None:
            try:
                c.execute(
                    "INSERT INTO api_keys (id, workspace_id, created_us, doc) VALUES (?, ?, ?, ?)",
                    (key.id, key.workspace_id, us(key.created_at), codec.dumps(key)),
                )
            except sqlite3.IntegrityError:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, "an API key with this id exists", "id"
                ) from None

        await self._w.call(write)

    async def get(self, key_id: str) -> ApiKey | None:
        def read(c: Conn) -> ApiKey | None:
            row = c.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            return codec.loads(row[0], ApiKey) if row else None

        return await self._r.point(read)

    async def list(self, workspace_id: str | None = None) -> Sequence[ApiKey]:
        def read(c: Conn) -> list[ApiKey]:
            if workspace_id is None:
                rows = c.execute("SELECT doc FROM api_keys ORDER BY created_us, id")
            else:
                rows = c.execute(
                    "SELECT doc FROM api_keys WHERE workspace_id = ? ORDER BY created_us, id",
                    (workspace_id,),
                )
            return [codec.loads(doc, ApiKey) for (doc,) in rows]

        return await self._r.call(read)

    async def revoke(self, key_id: str, *, at: datetime) -> bool:
        def write(c: Conn) -> bool:
            row = c.execute("SELECT doc FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            if row is None:
                return False
            key = codec.loads(row[0], ApiKey)
            if key.revoked_at is not None:
                return False
            c.execute(
                "UPDATE api_keys SET doc = ? WHERE id = ?",
                (codec.dumps(attrs.evolve(key, revoked_at=at)), key_id),
            )
            return True

        return await self._w.call(write)


class _Workspaces(_Part):
    async def put(self, workspace: Workspace) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO workspaces (id, balance, doc) VALUES (?, ?, ?)"
                f" ON CONFLICT (id) DO UPDATE SET {ledgersql.KEEP_BALANCE}, doc = excluded.doc",
                (workspace.id, workspace.balance, codec.dumps(workspace)),
            )
        )

    async def get(self, workspace_id: str) -> Workspace | None:
        def read(c: Conn) -> Workspace | None:
            row = c.execute(
                "SELECT doc, balance FROM workspaces WHERE id = ?", (workspace_id,)
            ).fetchone()
            return attrs.evolve(codec.loads(row[0], Workspace), balance=row[1]) if row else None

        return await self._r.point(read)

    async def list(self) -> Sequence[Workspace]:
        def read(c: Conn) -> list[Workspace]:
            rows = c.execute("SELECT doc, balance FROM workspaces ORDER BY id")
            return [
                attrs.evolve(codec.loads(doc, Workspace), balance=balance) for doc, balance in rows
            ]

        return await self._r.call(read)

    async def put_sender(self, sender: Sender) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO senders (id, workspace_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, doc = excluded.doc",
                (sender.id, sender.workspace_id, codec.dumps(sender)),
            )
        )

    async def get_sender(self, sender_id: str) -> Sender | None:
        def read(c: Conn) -> Sender | None:
            row = c.execute("SELECT doc FROM senders WHERE id = ?", (sender_id,)).fetchone()
            return codec.loads(row[0], Sender) if row else None

        return await self._r.point(read)

    async def senders(self, workspace_id: str) -> Sequence[Sender]:
        def read(c: Conn) -> list[Sender]:
            rows = c.execute(
                "SELECT doc FROM senders WHERE workspace_id = ? ORDER BY id", (workspace_id,)
            )
            return [codec.loads(doc, Sender) for (doc,) in rows]

        return await self._r.call(read)

    async def credit(self, entry: LedgerEntry) -> int:
        def write(c: Conn) -> int:
            moved = c.execute(
                LEDGER.move, ledgersql.move_args(entry.workspace_id, entry.amount)
            ).fetchone()
            if moved is None:
                found = c.execute(LEDGER.balance, (entry.workspace_id,)).fetchone()
                ledger.apply(None if found is None else found[0], entry.amount)
                raise ledger.insufficient(entry.amount)
            c.execute(LEDGER.insert, ledgersql.insert_args(entry))
            return int(moved[0])

        return await self._w.call(write)

    async def ledger(
        self, workspace_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[LedgerEntry]:
        cursor = None if after is None else (us(after[0]), after[1])
        following, args = ledgersql.page_args(workspace_id, cursor, limit + 1)
        sql = LEDGER.next_page if following else LEDGER.first_page
        return await self._r.call(
            lambda c: [codec.loads(doc, LedgerEntry) for (doc,) in c.execute(sql, args)]
        )


class _Contacts(_Part):
    async def upsert(self, contact: Contact) -> Contact:
        return await self._w.call(lambda c: _upsert_contact(c, contact))

    async def get(self, workspace_id: str, recipient: Recipient) -> Contact | None:
        return await self._r.point(lambda c: _read_contact(c, workspace_id, recipient))

    async def set_consent(
        self, workspace_id: str, recipient: Recipient, change: ConsentChange
    ) -> Contact | None:
        def write(c: Conn) -> Contact | None:
            old = _read_contact(c, workspace_id, recipient)
            after = storekit.change_consent(old, workspace_id, recipient, change)
            if after is not None:
                _write_contact(c, after)
            return after

        return await self._w.call(write)

    async def patch(
        self, workspace_id: str, recipient: Recipient, patch: ContactPatch, at: datetime
    ) -> Contact:
        def write(c: Conn) -> Contact:
            old = _read_contact(c, workspace_id, recipient)
            after = patch_contact(old, workspace_id, recipient, patch, at)
            _write_contact(c, after)
            return after

        return await self._w.call(write)

    async def page(self, query: ContactQuery) -> Sequence[Contact]:
        sql, args = sqlkit.contact_page_query(query)

        def read(c: Conn) -> list[Contact]:
            return [
                codec.loads(doc, Contact)
                if doc is not None
                else heard_of(query.workspace_id, stored_recipient(number), storekit.from_us(last))
                for number, doc, last in c.execute(sql, args)
            ]

        return await self._r.call(read)

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT INTO aliases (alias, recipient) VALUES (?, ?) ON CONFLICT (alias) DO UPDATE SET recipient = excluded.recipient",
                (alias, str(recipient)),
            )
        )

    async def resolve_alias(self, alias: str) -> Recipient | None:
        def read(c: Conn) -> Recipient | None:
            row = c.execute("SELECT recipient FROM aliases WHERE alias = ?", (alias,)).fetchone()
            return stored_recipient(row[0]) if row else None

        return await self._r.point(read)


def _upsert_contact(c: Conn, contact: Contact) -> Contact:
    row = c.execute(
        "SELECT doc FROM contacts WHERE workspace_id = ? AND recipient = ?",
        (contact.workspace_id, str(contact.recipient)),
    ).fetchone()
    merged = storekit.merge_contact(codec.loads(row[0], Contact) if row else None, contact)
    _write_contact(c, merged)
    return merged


def _write_contact(c: Conn, contact: Contact) -> None:
    c.execute(
        "INSERT INTO contacts (workspace_id, recipient, doc, opted_out) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (workspace_id, recipient) DO UPDATE SET doc = excluded.doc,"
        " opted_out = excluded.opted_out",
        (contact.workspace_id, str(contact.recipient), codec.dumps(contact), contact.opted_out),
    )


def _read_contact(c: Conn, workspace_id: str, recipient: Recipient) -> Contact | None:
    row = c.execute(
        "SELECT doc FROM contacts WHERE workspace_id = ? AND recipient = ?",
        (workspace_id, str(recipient)),
    ).fetchone()
    return codec.loads(row[0], Contact) if row else None


class _Templates(_Part):
    async def replace(self, sender_id: str, specs: Sequence[TemplateSpec]) -> None:
        def write(c: Conn) -> None:
            c.execute("DELETE FROM templates WHERE sender_id = ?", (sender_id,))
            for spec in specs:
                owned = attrs.evolve(spec, sender_id=sender_id)
                c.execute(
                    "INSERT OR REPLACE INTO templates (sender_id, name, language, doc) VALUES (?, ?, ?, ?)",
                    (sender_id, owned.name, owned.language, codec.dumps(owned)),
                )

        await self._w.call(write)

    async def put(self, spec: TemplateSpec) -> None:
        await self._w.call(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO templates (sender_id, name, language, doc) VALUES (?, ?, ?, ?)",
                (spec.sender_id, spec.name, spec.language, codec.dumps(spec)),
            )
        )

    async def get(self, sender_id: str, name: str, language: str) -> TemplateSpec | None:
        def read(c: Conn) -> TemplateSpec | None:
            row = c.execute(
                "SELECT doc FROM templates WHERE sender_id = ? AND name = ? AND language = ?",
                (sender_id, name, language),
            ).fetchone()
            return codec.loads(row[0], TemplateSpec) if row else None

        return await self._r.point(read)

    async def delete(self, sender_id: str, name: str) -> int:
        def write(c: Conn) -> int:
            gone = c.execute(
                "DELETE FROM templates WHERE sender_id = ? AND name = ?", (sender_id, name)
            )
            return int(gone.rowcount)

        return await self._w.call(write)

    async def list(self, sender_ids: Collection[str]) -> Sequence[TemplateSpec]:
        wanted = sorted(set(sender_ids))

        def read(c: Conn) -> list[TemplateSpec]:
            if not wanted:
                return []
            marks = ",".join("?" * len(wanted))
            rows = c.execute(
                f"SELECT doc FROM templates WHERE sender_id IN ({marks}) ORDER BY sender_id, name, language",
                wanted,
            )
            return [codec.loads(doc, TemplateSpec) for (doc,) in rows]

        return await self._r.call(read)


class _Outbox(_Part):
    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> Sequence[OutboxEvent]:
        def write(c: Conn) -> list[OutboxEvent]:
            rows = c.execute(
                f"SELECT o.id, {', '.join('o.' + col for col in _EVENT_COLUMNS.split(', '))} FROM outbox o"
                " WHERE o.state = 'pending' AND o.due_us <= ? AND (o.leased_us IS NULL OR o.leased_us <= ?)"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.message_id = o.message_id AND p.state = 'pending'"
                "  AND (p.seq, p.created_us, p.id) < (o.seq, o.created_us, o.id))"
                " ORDER BY o.due_us, o.id LIMIT ?",
                (us(now), us(now), limit),
            ).fetchall()
            leased_until = now + lease
            events = []
            for row in rows:
                c.execute(
                    "UPDATE outbox SET leased_us = ? WHERE id = ?", (us(leased_until), row[0])
                )
                events.append(attrs.evolve(_load_event(row[1:]), leased_until=leased_until))
            return events

        return await self._w.call(write)

    async def delivered(self, event_id: str, *, at: datetime) -> None:
        await self._w.call(
            lambda c: c.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, leased_us = NULL WHERE id = ?",
                (event_id,),
            )
        )

    async def failed(
        self, event_id: str, *, at: datetime, due_at: datetime | None, error: str
    ) -> None:
        params: tuple[object, ...]
        if due_at is None:
            sql, params = (
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, leased_us = NULL, last_error = ? WHERE id = ?",
                (error, event_id),
            )
        else:
            sql, params = (
                "UPDATE outbox SET attempts = attempts + 1, leased_us = NULL, last_error = ?, due_us = ? WHERE id = ?",
                (error, us(due_at), event_id),
            )
        await self._w.call(lambda c: c.execute(sql, params))

    async def kill_url(self, url: str, *, error: str) -> int:
        return await self._w.call(
            lambda c: (
                c.execute(
                    "UPDATE outbox SET state = 'dead', last_error = ?, leased_us = NULL WHERE url = ? AND state = 'pending'",
                    (error, url),
                ).rowcount
            )
        )

    async def get(self, event_id: str) -> OutboxEvent | None:
        def read(c: Conn) -> OutboxEvent | None:
            row = c.execute(
                f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE id = ?", (event_id,)
            ).fetchone()
            return _load_event(row) if row else None

        return await self._r.point(read)

    async def for_message(self, message_id: str) -> Sequence[OutboxEvent]:
        def read(c: Conn) -> list[OutboxEvent]:
            rows = c.execute(
                f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE message_id = ? ORDER BY seq, id",
                (message_id,),
            )
            return [_load_event(row) for row in rows]

        return await self._r.call(read)

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        def write(c: Conn) -> None:
            for event in events:
                _enqueue(c, event)

        await self._w.call(write)

    async def pending_count(self) -> int:
        return await self._r.call(
            lambda c: int(
                c.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
            )
        )
