"""PostgresStore: every store port on PostgreSQL, shared by many gateway processes.

The driver, chosen deliberately
-------------------------------
asyncpg: a native asyncio driver with its own connection pool and the binary protocol,
so a round trip costs the event loop little and no thread hop (psycopg 3's async mode
is the other mature choice; asyncpg is faster per query and needs nothing else).

What several processes share, and how it stays correct
-------------------------------------------------------
* **Claims.** A message is claimed by ``SELECT ... FOR UPDATE SKIP LOCKED`` on an
  unsent, unclaimed row and an update that records ``attempting_us`` in the same
  transaction: one process wins, the others skip it. A claim older than the attempt
  lease belongs to a process that died, and the dispatcher recovers it under the same
  rules as on SQLite (re-send only where the provider de-duplicates).
* **Outbound webhooks** are leased the same way (``FOR UPDATE SKIP LOCKED``), still
  in order per message.
* **Rate limits, idempotency records and the outbox** live in tables, so a limit
  holds across processes (GCRA: one timestamp per bucket, updated under a row lock).
* **Status updates** lock the message row; a status that arrives before the send
  that produced its provider id is recorded is stashed under an advisory lock on that
  provider id, which the send's outcome takes too, so the two never miss each other.
* Workers find work by short polling (``dispatch_interval_seconds``); no LISTEN.

Migrations are forward-only and run under an advisory lock at open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import asyncpg
import attrs

from waport import codec, storekit
from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import PatchAction
from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    OutboxState,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.status import StatusChange
from waport.domain.templates import TemplateSpec
from waport.ports import AttemptOutcome, Sent, StatusPatch, StatusResult
from waport_postgres.schema import LATEST, MIGRATION_LOCK, MIGRATIONS

_PURGEABLE: Final = lifecycle.PURGEABLE_SQL.format(before="$1")
us = storekit.to_us
from_us = storekit.from_us
Conn = Any  # an asyncpg connection (asyncpg ships no type stubs)
UNSENT = ("scheduled", "pending")
T = TypeVar("T")
RETRIES = 5
"""How often a transaction that lost a deadlock or a serialisation race is retried."""


# ----------------------------------------------------------------------------- rows


_INSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({', '.join(storekit.MESSAGE_COLUMNS)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(storekit.MESSAGE_COLUMNS) + 1))})"
    " ON CONFLICT DO NOTHING RETURNING TRUE"
)
_UPDATE_MESSAGE: Final = (
    "UPDATE messages SET "
    + ", ".join(f"{c} = ${n}" for n, c in enumerate(storekit.MESSAGE_CHANGES, 1))
    + f" WHERE id = ${len(storekit.MESSAGE_CHANGES) + 1}"
)


async def _write_message(
    c: Conn, docs: storekit.DocCache, r: MessageRecord, *, insert: bool = False
) -> bool:
    """Insert (False when the row exists: a duplicate) or update one message."""
    doc = codec.dumps(r)
    docs.remember(doc, r)
    if insert:
        return bool(await c.fetchval(_INSERT_MESSAGE, *storekit.message_row(r, doc)))
    await c.execute(_UPDATE_MESSAGE, *storekit.message_changes(r, doc))
    return True


async def _get_message(
    c: Conn, docs: storekit.DocCache, message_id: str, *, lock: bool = False
) -> MessageRecord | None:
    doc = await c.fetchval(
        "SELECT doc FROM messages WHERE id = $1" + (" FOR UPDATE" if lock else ""), message_id
    )
    return docs.load(doc) if doc is not None else None


async def _by_provider(
    c: Conn,
    docs: storekit.DocCache,
    provider: str,
    pid: str,
    direction: str | None = None,
    *,
    lock: bool = False,
) -> MessageRecord | None:
    if direction is None:
        doc = await c.fetchval(
            "SELECT doc FROM messages WHERE provider = $1 AND provider_message_id = $2"
            " ORDER BY direction DESC LIMIT 1",
            provider,
            pid,
        )
    else:
        doc = await c.fetchval(
            "SELECT doc FROM messages WHERE provider = $1 AND provider_message_id = $2"
            " AND direction = $3" + (" FOR UPDATE" if lock else ""),
            provider,
            pid,
            direction,
        )
    return docs.load(doc) if doc is not None else None


async def _note_window(c: Conn, r: MessageRecord, at: datetime, kind: str) -> None:
    await c.execute(
        "INSERT INTO windows (workspace_id, contact, sender_id, kind, last_us)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, contact, sender_id, kind)"
        " DO UPDATE SET last_us = GREATEST(windows.last_us, excluded.last_us)",
        r.workspace_id,
        str(r.contact),
        r.sender_id,
        kind,
        us(at),
    )


async def _enqueue(c: Conn, event: OutboxEvent | None) -> None:
    if event is None:
        return
    await c.execute(
        "INSERT INTO outbox (id, message_id, seq, state, due_us, leased_us, attempts,"
        " last_error, url, created_us, doc) VALUES ($1, $2, $3, $4, $5, NULL, 0, NULL, $6, $7, $8)"
        " ON CONFLICT (id) DO NOTHING",
        event.id,
        event.message_id,
        event.seq,
        event.state.value,
        us(event.due_at),
        event.url,
        us(event.created_at),
        codec.dumps(event),
    )


async def _save(
    c: Conn, docs: storekit.DocCache, r: MessageRecord, changes: Sequence[StatusChange]
) -> MessageRecord:
    await _write_message(c, docs, r)
    for change in changes:
        if storekit.opens_template_window(r, change):
            await _note_window(c, r, change.at, "template")
    for event in storekit.events_for(r, changes):
        await _enqueue(c, event)
    return r


async def _provider_lock(c: Conn, provider: str, pid: str) -> None:
    """Serialises stashing a status with recording the send that owns its provider id."""
    await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{provider}:{pid}")


_EVENT_COLUMNS = "doc, state, due_us, leased_us, attempts, last_error"


def _load_event(row: Any) -> OutboxEvent:
    event = codec.loads(row["doc"], OutboxEvent)
    leased = row["leased_us"]
    return attrs.evolve(
        event,
        state=OutboxState(row["state"]),
        due_at=from_us(row["due_us"]),
        leased_until=from_us(leased) if leased is not None else None,
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


def _unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.UniqueViolationError)


# ----------------------------------------------------------------------------- sub-stores


@attrs.define
class _Part:
    _pool: Any
    _docs: storekit.DocCache

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        try:
            async with self._pool.acquire() as c, c.transaction():
                yield c
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn`` in a transaction, retried when PostgreSQL aborts it to break a deadlock
        between processes (webhook batches locking the same rows in another order)."""
        for attempt in range(RETRIES):
            try:
                async with self._pool.acquire() as c, c.transaction():
                    return await fn(c)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES - 1:
                    raise
            except (asyncpg.PostgresError, OSError) as exc:
                raise _as_store_error(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exec(self, sql: str, *args: Any) -> str:
        """One statement on its own (autocommit: atomic, and one round trip instead of
        BEGIN, the statement and COMMIT); returns the command status (``DELETE 3``)."""
        try:
            async with self._pool.acquire() as c:
                return str(await c.execute(sql, *args))
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _one(self, sql: str, *args: Any) -> Any:
        """One statement on its own, answering one value (``RETURNING x``), or None."""
        try:
            async with self._pool.acquire() as c:
                return await c.fetchval(sql, *args)
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        """One statement on its own, answering its rows."""
        try:
            async with self._pool.acquire() as c:
                return list(await c.fetch(sql, *args))
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc


def _as_store_error(error: BaseException) -> WaportError:
    if isinstance(error, WaportError):
        return error
    return WaportError(ErrorCode.INTERNAL, f"the store failed: {type(error).__name__}: {error}")


class _Messages(_Part):
    async def get(self, message_id: str) -> MessageRecord | None:
        rows = await self._fetch("SELECT doc FROM messages WHERE id = $1", message_id)
        return self._docs.load(rows[0]["doc"]) if rows else None

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None:
        async with self._pool.acquire() as c:
            return await _by_provider(c, self._docs, provider, provider_message_id)

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]:
        rows = await self._fetch(
            "SELECT doc FROM messages WHERE broadcast_id = $1 ORDER BY created_us, id",
            broadcast_id,
        )
        return [self._docs.load(row["doc"]) for row in rows]

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        kinds = ["inbound", "template"] if include_templates else ["inbound"]
        rows = await self._fetch(
            "SELECT MAX(last_us) AS last FROM windows WHERE workspace_id = $1 AND contact = $2"
            " AND ($3::text IS NULL OR sender_id = $3) AND kind = ANY($4::text[])",
            workspace_id,
            str(contact),
            sender_id,
            kinds,
        )
        last = rows[0]["last"] if rows else None
        return from_us(last) if last is not None else None

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        rows = await self._fetch(
            "SELECT COUNT(DISTINCT contact) AS n FROM messages WHERE initiated"
            " AND workspace_id = $1 AND created_us > $2",
            workspace_id,
            us(since),
        )
        return int(rows[0]["n"])

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
        return {parse_recipient(row["contact"]) for row in rows}

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        if any(r.inbound is None for r in records):
            raise WaportError(ErrorCode.INTERNAL, "record_inbound takes inbound messages")
        # rows are locked in one order in every process: fewer deadlocks to retry
        order = sorted(range(len(records)), key=lambda i: (str(records[i].contact), records[i].id))

        async def write(c: Conn) -> list[bool]:
            results = [False] * len(records)
            for i in order:
                r = records[i]
                if await _write_message(c, self._docs, r, insert=True):
                    await _note_window(c, r, r.created_at, "inbound")
                    await _enqueue(c, storekit.inbound_event(r))
                    results[i] = True
            return results

        return await self._run(write)

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        order = sorted(
            range(len(patches)),
            key=lambda i: (
                patches[i].provider or "",
                patches[i].provider_message_id or "",
                patches[i].message_id or "",
            ),
        )

        async def write(c: Conn) -> list[StatusResult]:
            results: list[StatusResult | None] = [None] * len(patches)
            for i in order:
                results[i] = await self._apply(c, patches[i])
            return [r for r in results if r is not None]

        return await self._run(write)

    async def _apply(self, c: Conn, patch: StatusPatch) -> StatusResult:
        key = patch.provider_key
        if key is not None:
            await _provider_lock(c, *key)
        record = (
            await _get_message(c, self._docs, patch.message_id, lock=True)
            if patch.message_id
            else None
        )
        if record is None and key is not None:
            record = await _by_provider(c, self._docs, *key, "outbound", lock=True)
        decision = storekit.decide_patch(record, patch)
        if decision.action is PatchAction.STASH and key is not None:
            await c.execute(
                "INSERT INTO status_stash (provider, provider_message_id, status, doc)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                *key,
                patch.change.status.value,
                codec.dumps(patch.change),
            )
        elif decision.action is PatchAction.WRITE and decision.record is not None:
            await _save(c, self._docs, decision.record, decision.changes)
        return decision.result

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        async with self._tx() as c:
            doc = await c.fetchval(
                "SELECT doc FROM messages WHERE id = $1 AND status = ANY($2::text[])"
                " AND attempting_us IS NULL FOR UPDATE SKIP LOCKED",
                message_id,
                list(UNSENT),
            )
            if doc is None:
                return None
            claimed = storekit.claim(self._docs.load(doc), now)
            if claimed is not None:
                await _write_message(c, self._docs, claimed)
            return claimed

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        async with self._tx() as c:
            stashed: list[StatusChange] = []
            if isinstance(outcome, Sent):
                await _provider_lock(c, outcome.provider, outcome.provider_message_id)
            record = await _get_message(c, self._docs, message_id, lock=True)
            if record is None:
                raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {message_id}")
            if isinstance(outcome, Sent):
                rows = await c.fetch(
                    "DELETE FROM status_stash WHERE provider = $1 AND provider_message_id = $2"
                    " RETURNING doc",
                    outcome.provider,
                    outcome.provider_message_id,
                )
                stashed = [codec.loads(row["doc"], StatusChange) for row in rows]
            record, changes = storekit.finish(record, outcome, stashed)
            return await _save(c, self._docs, record, changes)

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        at = us(now)
        rows = await self._fetch(
            "SELECT doc FROM ("
            " SELECT id, due_us, doc FROM messages WHERE status = ANY($1::text[])"
            "  AND attempting_us IS NULL AND direction = 'outbound' AND due_us <= $2"
            " UNION"
            " SELECT id, due_us, doc FROM messages WHERE status = ANY($1::text[])"
            "  AND attempting_us IS NULL AND expires_us IS NOT NULL AND expires_us <= $2"
            ") AS d ORDER BY due_us, id LIMIT $3",
            list(UNSENT),
            at,
            limit,
        )
        return [self._docs.load(row["doc"]) for row in rows]

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        rows = await self._fetch(
            "SELECT doc FROM messages WHERE attempting_us IS NOT NULL AND attempting_us < $1"
            " ORDER BY attempting_us, id LIMIT $2",
            us(started_before),
            limit,
        )
        return [self._docs.load(row["doc"]) for row in rows]

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        cutoff = us(before)
        async with self._tx() as c:
            gone = await c.fetch(
                f"SELECT id, contact FROM messages m WHERE {_PURGEABLE}"
                " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id"
                "  AND o.state = 'pending')"
                " ORDER BY created_us LIMIT $2 FOR UPDATE SKIP LOCKED",
                cutoff,
                limit,
            )
            ids = [row["id"] for row in gone]
            await c.execute("DELETE FROM outbox WHERE message_id = ANY($1::text[])", ids)
            await c.execute("DELETE FROM messages WHERE id = ANY($1::text[])", ids)
            await c.execute("DELETE FROM windows WHERE last_us < $1", cutoff)
            contacts = sorted({row["contact"] for row in gone})
            await c.execute(
                "DELETE FROM contacts WHERE recipient = ANY($1::text[]) AND NOT EXISTS"
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

    async def counts(self) -> Mapping[str, int]:
        rows = await self._fetch("SELECT status, COUNT(*) AS n FROM messages GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}


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
        async with self._tx() as c:
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

    async def purge(self, now: datetime) -> int:
        status = await self._exec("DELETE FROM idempotency WHERE expires_us <= $1", us(now))
        return int(status.split()[-1])


class _RateLimits(_Part):
    """GCRA buckets in a table, so every process enforces the same limit. One bucket is
    one timestamp (TAT); a hit is one atomic upsert that moves it only when the request
    fits, so concurrent processes never over-admit. The decision itself is the domain's
    ``gcra``, computed from the TAT the database saw."""

    async def hit(self, key: str, rate: RateLimit, *, now: datetime, cost: int = 1) -> RateDecision:
        step = rate.interval * cost
        if step > rate.interval * rate.capacity:  # never fits, whatever the bucket holds
            return gcra(None, now, rate, cost=cost)
        at, step_us = us(now), step // timedelta(microseconds=1)
        tolerance_us = (rate.interval * rate.capacity) // timedelta(microseconds=1)
        for _ in range(RETRIES):
            rows = await self._fetch(
                "INSERT INTO rate_limits AS r (key, tat_us) VALUES ($1, $2::bigint + $3::bigint)"
                " ON CONFLICT (key) DO UPDATE SET tat_us = GREATEST(r.tat_us, $2) + $3"
                " WHERE GREATEST(r.tat_us, $2) + $3 <= $2 + $4::bigint RETURNING tat_us",
                key,
                at,
                step_us,
                tolerance_us,
            )
            if rows:  # admitted: the TAT before this hit was the new one less its step
                return gcra(from_us(rows[0]["tat_us"] - step_us), now, rate, cost=cost)
            tat = await self._fetch("SELECT tat_us FROM rate_limits WHERE key = $1", key)
            if tat:
                decision = gcra(from_us(tat[0]["tat_us"]), now, rate, cost=cost)
                if not decision.allowed:
                    return decision
            # the bucket drained or vanished between the two statements: try again
        return gcra(from_us(at + tolerance_us), now, rate, cost=cost)  # pragma: no cover

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
            " ON CONFLICT (id) DO UPDATE SET balance = excluded.balance, doc = excluded.doc",
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

    async def adjust_balance(self, workspace_id: str, delta: int) -> int | None:
        balance = await self._one(
            "UPDATE workspaces SET balance = balance + $1 WHERE id = $2"
            " AND balance IS NOT NULL AND balance + $1 >= 0 RETURNING balance",
            delta,
            workspace_id,
        )
        return int(balance) if balance is not None else None


async def _upsert_contact(c: Conn, contact: Contact) -> Contact:
    await c.execute(
        "INSERT INTO contacts (workspace_id, recipient, doc) VALUES ($1, $2, '')"
        " ON CONFLICT DO NOTHING",
        contact.workspace_id,
        str(contact.recipient),
    )
    doc = await c.fetchval(
        "SELECT doc FROM contacts WHERE workspace_id = $1 AND recipient = $2 FOR UPDATE",
        contact.workspace_id,
        str(contact.recipient),
    )
    merged = storekit.merge_contact(codec.loads(doc, Contact) if doc else None, contact)
    await c.execute(
        "UPDATE contacts SET doc = $1 WHERE workspace_id = $2 AND recipient = $3",
        codec.dumps(merged),
        merged.workspace_id,
        str(merged.recipient),
    )
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

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        await self._exec(
            "INSERT INTO aliases (alias, recipient) VALUES ($1, $2)"
            " ON CONFLICT (alias) DO UPDATE SET recipient = excluded.recipient",
            alias,
            str(recipient),
        )

    async def resolve_alias(self, alias: str) -> Recipient | None:
        rows = await self._fetch("SELECT recipient FROM aliases WHERE alias = $1", alias)
        return parse_recipient(rows[0]["recipient"]) if rows else None


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

    async def pending_count(self) -> int:
        rows = await self._fetch("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        return int(rows[0]["n"])


# ----------------------------------------------------------------------------- transaction


@attrs.define
class _Transaction(storekit.PendingWrites):
    _docs: storekit.DocCache = attrs.field(kw_only=True)

    async def apply(self, c: Conn) -> None:
        for claim in self.claims:
            taken = await c.fetchval(
                "INSERT INTO idempotency (scope, key, expires_us, doc) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (scope, key) DO UPDATE SET expires_us = excluded.expires_us,"
                " doc = excluded.doc WHERE idempotency.expires_us <= $5 RETURNING TRUE",
                claim.scope,
                claim.key,
                us(claim.expires_at),
                codec.dumps(claim),
                us(claim.created_at),
            )
            if not taken:  # the statement's WHERE is lifecycle.may_take_key
                raise lifecycle.key_in_use()
        for record in self.messages:
            if not await _write_message(c, self._docs, record, insert=True):
                raise WaportError(ErrorCode.INTERNAL, f"message {record.id} could not be stored")
        for contact in self.contacts:
            await _upsert_contact(c, contact)


# ----------------------------------------------------------------------------- the store


@attrs.define
class PostgresStore:
    """All of waport's state in one PostgreSQL database, shared by any number of
    processes. Open it with ``open_postgres(dsn)``."""

    pool: Any
    messages: _Messages = attrs.field(init=False)
    idempotency: _Idempotency = attrs.field(init=False)
    rate_limits: _RateLimits = attrs.field(init=False)
    api_keys: _ApiKeys = attrs.field(init=False)
    workspaces: _Workspaces = attrs.field(init=False)
    contacts: _Contacts = attrs.field(init=False)
    templates: _Templates = attrs.field(init=False)
    outbox: _Outbox = attrs.field(init=False)
    _docs: storekit.DocCache = attrs.field(init=False, factory=storekit.DocCache)

    def __attrs_post_init__(self) -> None:
        parts = (self.pool, self._docs)
        self.messages = _Messages(*parts)
        self.idempotency = _Idempotency(*parts)
        self.rate_limits = _RateLimits(*parts)
        self.api_keys = _ApiKeys(*parts)
        self.workspaces = _Workspaces(*parts)
        self.contacts = _Contacts(*parts)
        self.templates = _Templates(*parts)
        self.outbox = _Outbox(*parts)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Transaction]:
        tx = _Transaction(docs=self._docs)
        yield tx
        try:
            async with self.pool.acquire() as c, c.transaction():
                await tx.apply(c)
        except (asyncpg.PostgresError, OSError) as exc:
            raise _as_store_error(exc) from exc


async def migrate(c: Conn) -> int:
    """Bring the schema to the latest version under an advisory lock; returns the
    version found."""
    await c.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await c.execute("CREATE TABLE IF NOT EXISTS waport_schema (version INTEGER NOT NULL)")
        found = await c.fetchval("SELECT MAX(version) FROM waport_schema") or 0
        if found > LATEST:
            raise WaportError(
                ErrorCode.INTERNAL,
                f"the database schema is version {found}, newer than this waport ({LATEST})",
            )
        for version in range(found, LATEST):
            async with c.transaction():
                await c.execute(MIGRATIONS[version])
                await c.execute("INSERT INTO waport_schema (version) VALUES ($1)", version + 1)
        return int(found)
    finally:
        await c.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


@asynccontextmanager
async def open_postgres(
    dsn: str, *, min_size: int = 2, max_size: int = 20, schema: str | None = None
) -> AsyncIterator[PostgresStore]:
    """Open a pool on ``dsn`` (a ``postgresql://`` URL), migrate, and yield the store.
    ``schema`` puts waport's tables in that schema (created if needed)."""
    settings = {"search_path": schema} if schema else None
    if schema:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings
        )
    except (asyncpg.PostgresError, OSError) as exc:
        raise WaportError(ErrorCode.INTERNAL, f"cannot open the database: {exc}") from exc
    try:
        async with pool.acquire() as c:
            await migrate(c)
        yield PostgresStore(pool=pool)
    finally:
        await pool.close()
