"""The other sub-stores on PostgreSQL: idempotency, rate limits, API keys, workspaces, contacts, templates, outbox."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import attrs

from waport import codec, ledgersql, sqlkit, storekit
from waport.domain import ledger
from waport.domain.consent import ConsentChange
from waport.domain.contacts import ContactPatch, ContactQuery, heard_of, patch_contact
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.ratelimit import RateDecision, RateLimit, gcra
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
from waport_postgres.buckets import HITS, Hit
from waport_postgres.rows import (
    _EVENT_COLUMNS,
    LEDGER,
    Conn,
    _enqueue,
    _load_event,
    _Part,
    us,
)


class _Idempotency(_Part):
    async def get(self, scope: str, key: str, *, now: datetime) -> IdempotencyRecord | None:
        rows = await self._fetch(
            "SELECT doc FROM idempotency WHERE scope = $1 AND key = $2 AND expires_us > $3",
            scope,
            key,
            us(now),
        )
        return codec.loads(rows[0]["doc"], IdempotencyRecord) if rows else None

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        async def write(c: Conn) -> None:
            doc = await c.fetchval(
                "SELECT doc FROM idempotency WHERE scope = $1 AND key = $2 FOR UPDATE", scope, key
            )
            if doc is not None:
                record = attrs.evolve(codec.loads(doc, IdempotencyRecord), response=response)
                await c.execute(
                    "UPDATE idempotency SET doc = $1 WHERE scope = $2 AND key = $3",
                    codec.dumps(record),
                    scope,
                    key,
                )

        await self._write(write)

    async def purge(self, now: datetime) -> int:
        status = await self._exec("DELETE FROM idempotency WHERE expires_us <= $1", us(now))
        return int(status.split()[-1])


@attrs.define
class _RateLimits(_Part):
    """GCRA buckets in a table, so every process enforces the same limit. One bucket is
    one timestamp (TAT). Concurrent hits of a process go together, in the group commit's
    transaction after its other writes (``waport_postgres.buckets``): their buckets
    locked, the domain's ``gcra`` deciding each in turn, the moved ones written; so
    concurrent processes never over-admit."""

    async def hit(self, key: str, rate: RateLimit, *, now: datetime, cost: int = 1) -> RateDecision:
        if cost > rate.capacity:  # never fits, whatever the bucket holds: no bucket made
            return gcra(None, now, rate, cost=cost)
        decision: RateDecision = await self._write_together(HITS, Hit(key, rate, now, cost))
        return decision

    async def purge(self, now: datetime) -> int:
        status = await self._exec("DELETE FROM rate_limits WHERE tat_us <= $1", us(now))
        return int(status.split()[-1])


class _ApiKeys(_Part):
    async def add(self, key: ApiKey) -> None:
        inserted = await self._one(
            "INSERT INTO api_keys (id, workspace_id, created_us, doc) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING TRUE",
            key.id,
            key.workspace_id,
            us(key.created_at),
            codec.dumps(key),
        )
        if not inserted:
            raise WaportError(ErrorCode.VALIDATION_FAILED, "an API key with this id exists", "id")

    async def get(self, key_id: str) -> ApiKey | None:
        rows = await self._fetch("SELECT doc FROM api_keys WHERE id = $1", key_id)
        return codec.loads(rows[0]["doc"], ApiKey) if rows else None

    async def list(self, workspace_id: str | None = None) -> Sequence[ApiKey]:
        rows = await self._fetch(
            "SELECT doc FROM api_keys WHERE $1::text IS NULL OR workspace_id = $1"
            " ORDER BY created_us, id",
            workspace_id,
        )
        return [codec.loads(row["doc"], ApiKey) for row in rows]

    async def revoke(self, key_id: str, *, at: datetime) -> bool:
        async with self._tx() as c:
            doc = await c.fetchval("SELECT doc FROM api_keys WHERE id = $1 FOR UPDATE", key_id)
            if doc is None:
                return False
            key = codec.loads(doc, ApiKey)
            if key.revoked_at is not None:
                return False
            await c.execute(
                "UPDATE api_keys SET doc = $1 WHERE id = $2",
                codec.dumps(attrs.evolve(key, revoked_at=at)),
                key_id,
            )
            return True


class _Workspaces(_Part):
    async def put(self, workspace: Workspace) -> None:
        await self._exec(
            "INSERT INTO workspaces (id, balance, doc) VALUES ($1, $2, $3)"
            f" ON CONFLICT (id) DO UPDATE SET {ledgersql.KEEP_BALANCE}, doc = excluded.doc",
            workspace.id,
            workspace.balance,
            codec.dumps(workspace),
        )

    async def get(self, workspace_id: str) -> Workspace | None:
        rows = await self._fetch("SELECT doc, balance FROM workspaces WHERE id = $1", workspace_id)
        if not rows:
            return None
        return attrs.evolve(codec.loads(rows[0]["doc"], Workspace), balance=rows[0]["balance"])

    async def list(self) -> Sequence[Workspace]:
        rows = await self._fetch("SELECT doc, balance FROM workspaces ORDER BY id")
        return [
            attrs.evolve(codec.loads(row["doc"], Workspace), balance=row["balance"]) for row in rows
        ]

    async def put_sender(self, sender: Sender) -> None:
        await self._exec(
            "INSERT INTO senders (id, workspace_id, doc) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id,"
            " doc = excluded.doc",
            sender.id,
            sender.workspace_id,
            codec.dumps(sender),
        )

    async def get_sender(self, sender_id: str) -> Sender | None:
        rows = await self._fetch("SELECT doc FROM senders WHERE id = $1", sender_id)
        return codec.loads(rows[0]["doc"], Sender) if rows else None

    async def senders(self, workspace_id: str) -> Sequence[Sender]:
        rows = await self._fetch(
            "SELECT doc FROM senders WHERE workspace_id = $1 ORDER BY id", workspace_id
        )
        return [codec.loads(row["doc"], Sender) for row in rows]

    async def credit(self, entry: LedgerEntry) -> int:
        async with self._tx() as c:
            moved = await c.fetchval(
                LEDGER.move, *ledgersql.move_args(entry.workspace_id, entry.amount)
            )
            if moved is None:
                ledger.apply(await c.fetchval(LEDGER.balance, entry.workspace_id), entry.amount)
                raise ledger.insufficient(entry.amount)
            await c.execute(LEDGER.insert, *ledgersql.insert_args(entry))
            return int(moved)

    async def ledger(
        self, workspace_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[LedgerEntry]:
        cursor = None if after is None else (us(after[0]), after[1])
        following, args = ledgersql.page_args(workspace_id, cursor, limit + 1)
        rows = await self._fetch(LEDGER.next_page if following else LEDGER.first_page, *args)
        return [codec.loads(row["doc"], LedgerEntry) for row in rows]


async def _locked_contact(c: Conn, workspace_id: str, recipient: Recipient) -> Contact | None:
    """The contact, its row locked until the transaction ends (created empty if new)."""
    await c.execute(
        "INSERT INTO contacts (workspace_id, recipient, doc) VALUES ($1, $2, '')"
        " ON CONFLICT DO NOTHING",
        workspace_id,
        str(recipient),
    )
    doc = await c.fetchval(
        "SELECT doc FROM contacts WHERE workspace_id = $1 AND recipient = $2 FOR UPDATE",
        workspace_id,
        str(recipient),
    )
    return codec.loads(doc, Contact) if doc else None


async def _write_contact(c: Conn, contact: Contact) -> None:
    await c.execute(
        "UPDATE contacts SET doc = $1, opted_out = $2 WHERE workspace_id = $3 AND recipient = $4",
        codec.dumps(contact),
        contact.opted_out,
        contact.workspace_id,
        str(contact.recipient),
    )


async def _upsert_contact(c: Conn, contact: Contact) -> Contact:
    old = await _locked_contact(c, contact.workspace_id, contact.recipient)
    merged = storekit.merge_contact(old, contact)
    await _write_contact(c, merged)
    return merged


class _Contacts(_Part):
    async def upsert(self, contact: Contact) -> Contact:
        async with self._tx() as c:
            return await _upsert_contact(c, contact)

    async def get(self, workspace_id: str, recipient: Recipient) -> Contact | None:
        rows = await self._fetch(
            "SELECT doc FROM contacts WHERE workspace_id = $1 AND recipient = $2",
            workspace_id,
            str(recipient),
        )
        return codec.loads(rows[0]["doc"], Contact) if rows and rows[0]["doc"] else None

    async def set_consent(
        self, workspace_id: str, recipient: Recipient, change: ConsentChange
    ) -> Contact | None:
        async with self._tx() as c:
            old = await _locked_contact(c, workspace_id, recipient)
            after = storekit.change_consent(old, workspace_id, recipient, change)
            if after is not None:
                await _write_contact(c, after)
            elif old is None:  # nothing to keep: drop the empty row made for the lock
                await c.execute(
                    "DELETE FROM contacts WHERE workspace_id = $1 AND recipient = $2 AND doc = ''",
                    workspace_id,
                    str(recipient),
                )
            return after

    async def patch(
        self, workspace_id: str, recipient: Recipient, patch: ContactPatch, at: datetime
    ) -> Contact:
        async with self._tx() as c:
            old = await _locked_contact(c, workspace_id, recipient)
            after = patch_contact(old, workspace_id, recipient, patch, at)
            await _write_contact(c, after)
            return after

    async def page(self, query: ContactQuery) -> Sequence[Contact]:
        sql, args = sqlkit.contact_page_query(query, postgres=True)
        return [
            codec.loads(doc, Contact)
            if (doc := row["doc"]) is not None
            else heard_of(query.workspace_id, stored_recipient(row[0]), storekit.from_us(row[2]))
            for row in await self._fetch(sql, *args)
        ]

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        await self._exec(
            "INSERT INTO aliases (alias, recipient) VALUES ($1, $2)"
            " ON CONFLICT (alias) DO UPDATE SET recipient = excluded.recipient",
            alias,
            str(recipient),
        )

    async def resolve_alias(self, alias: str) -> Recipient | None:
        rows = await self._fetch("SELECT recipient FROM aliases WHERE alias = $1", alias)
        return stored_recipient(rows[0]["recipient"]) if rows else None


class _Templates(_Part):
    async def _put(self, c: Conn, spec: TemplateSpec) -> None:
        await c.execute(
            "INSERT INTO templates (sender_id, name, language, doc) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (sender_id, name, language) DO UPDATE SET doc = excluded.doc",
            spec.sender_id,
            spec.name,
            spec.language,
            codec.dumps(spec),
        )

    async def replace(self, sender_id: str, specs: Sequence[TemplateSpec]) -> None:
        async with self._tx() as c:
            await c.execute("DELETE FROM templates WHERE sender_id = $1", sender_id)
            for spec in specs:
                await self._put(c, attrs.evolve(spec, sender_id=sender_id))

    async def put(self, spec: TemplateSpec) -> None:
        async with self._tx() as c:
            await self._put(c, spec)

    async def get(self, sender_id: str, name: str, language: str) -> TemplateSpec | None:
        rows = await self._fetch(
            "SELECT doc FROM templates WHERE sender_id = $1 AND name = $2 AND language = $3",
            sender_id,
            name,
            language,
        )
        return codec.loads(rows[0]["doc"], TemplateSpec) if rows else None

    async def delete(self, sender_id: str, name: str) -> int:
        async with self._tx() as c:
            done = await c.execute(
                "DELETE FROM templates WHERE sender_id = $1 AND name = $2", sender_id, name
            )
        return int(done.split()[-1])

    async def list(self, sender_ids: Collection[str]) -> Sequence[TemplateSpec]:
        rows = await self._fetch(
            "SELECT doc FROM templates WHERE sender_id = ANY($1::text[])"
            " ORDER BY sender_id, name, language",
            sorted(set(sender_ids)),
        )
        return [codec.loads(row["doc"], TemplateSpec) for row in rows]


class _Outbox(_Part):
    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> Sequence[OutboxEvent]:
        at = us(now)
        leased_until = now + lease
        rows = await self._fetch(
            f"UPDATE outbox SET leased_us = $1 WHERE id IN ("
            " SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.due_us <= $2"
            "  AND (o.leased_us IS NULL OR o.leased_us <= $2)"
            "  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.message_id = o.message_id"
            "   AND p.state = 'pending' AND (p.seq, p.created_us, p.id) < (o.seq, o.created_us, o.id))"
            "  ORDER BY o.due_us, o.id LIMIT $3 FOR UPDATE SKIP LOCKED"
            f") RETURNING {_EVENT_COLUMNS}",
            us(leased_until),
            at,
            limit,
        )
        events = [_load_event(row) for row in rows]
        return sorted(events, key=lambda e: (e.due_at, e.id))

    async def delivered(self, event_id: str, *, at: datetime) -> None:
        await self._exec(
            "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, leased_us = NULL"
            " WHERE id = $1",
            event_id,
        )

    async def failed(
        self, event_id: str, *, at: datetime, due_at: datetime | None, error: str
    ) -> None:
        if due_at is None:
            await self._exec(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, leased_us = NULL,"
                " last_error = $1 WHERE id = $2",
                error,
                event_id,
            )
        else:
            await self._exec(
                "UPDATE outbox SET attempts = attempts + 1, leased_us = NULL, last_error = $1,"
                " due_us = $2 WHERE id = $3",
                error,
                us(due_at),
                event_id,
            )

    async def kill_url(self, url: str, *, error: str) -> int:
        status = await self._exec(
            "UPDATE outbox SET state = 'dead', last_error = $1, leased_us = NULL"
            " WHERE url = $2 AND state = 'pending'",
            error,
            url,
        )
        return int(status.split()[-1])

    async def get(self, event_id: str) -> OutboxEvent | None:
        rows = await self._fetch(f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE id = $1", event_id)
        return _load_event(rows[0]) if rows else None

    async def for_message(self, message_id: str) -> Sequence[OutboxEvent]:
        rows = await self._fetch(
            f"SELECT {_EVENT_COLUMNS} FROM outbox WHERE message_id = $1 ORDER BY seq, id",
            message_id,
        )
        return [_load_event(row) for row in rows]

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        async with self._tx() as c:
            for event in events:
                await _enqueue(c, event)

    async def pending_count(self) -> int:
        rows = await self._fetch("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        return int(rows[0]["n"])
