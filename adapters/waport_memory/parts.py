"""The memory store's smaller sub-stores: idempotency, API keys, workspaces, contacts,
templates (each over the shared ``_State``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import attrs

from waport import storekit
from waport.domain import ledger
from waport.domain.consent import ConsentChange
from waport.domain.contacts import (
    ContactPatch,
    ContactQuery,
    heard_of,
    matches,
    patch_contact,
    spoken_with,
)
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.recipients import Recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.templates import TemplateSpec
from waport_memory.state import _State


@attrs.define
class _Idempotency:
    _s: _State

    async def get(self, scope: str, key: str, *, now: datetime) -> IdempotencyRecord | None:
        record = self._s.idempotency.get((scope, key))
        if record is None or record.expires_at <= now:
            return None
        return record

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        record = self._s.idempotency.get((scope, key))
        if record is not None:
            self._s.idempotency[(scope, key)] = attrs.evolve(record, response=response)

    async def purge(self, now: datetime) -> int:
        dead = [k for k, r in self._s.idempotency.items() if r.expires_at <= now]
        for k in dead:
            del self._s.idempotency[k]
        return len(dead)


@attrs.define
class _ApiKeys:
    _s: _State

    async def add(self, key: ApiKey) -> None:
        if key.id in self._s.keys:
            raise WaportError(ErrorCode.VALIDATION_FAILED, "an API key with this id exists", "id")
        self._s.keys[key.id] = key

    async def get(self, key_id: str) -> ApiKey | None:
        return self._s.keys.get(key_id)

    async def list(self, workspace_id: str | None = None) -> Sequence[ApiKey]:
        keys = [
            k
            for k in self._s.keys.values()
            if workspace_id is None or k.workspace_id == workspace_id
        ]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    async def revoke(self, key_id: str, *, at: datetime) -> bool:
        key = self._s.keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        self._s.keys[key_id] = attrs.evolve(key, revoked_at=at)
        return True


@attrs.define
class _Workspaces:
    _s: _State

    async def put(self, workspace: Workspace) -> None:
        old = self._s.workspaces.get(workspace.id)
        if old is not None and (old.balance is None) == (workspace.balance is None):
            workspace = attrs.evolve(workspace, balance=old.balance)  # the ledger's
        self._s.workspaces[workspace.id] = workspace

    async def get(self, workspace_id: str) -> Workspace | None:
        return self._s.workspaces.get(workspace_id)

    async def list(self) -> Sequence[Workspace]:
        return sorted(self._s.workspaces.values(), key=lambda w: w.id)

    async def put_sender(self, sender: Sender) -> None:
        self._s.senders[sender.id] = sender

    async def get_sender(self, sender_id: str) -> Sender | None:
        return self._s.senders.get(sender_id)

    async def senders(self, workspace_id: str) -> Sequence[Sender]:
        return sorted(
            (s for s in self._s.senders.values() if s.workspace_id == workspace_id),
            key=lambda s: s.id,
        )

    async def credit(self, entry: LedgerEntry) -> int:
        moved = self._s.move(entry.workspace_id, entry.amount)
        if moved is None:
            workspace = self._s.workspaces.get(entry.workspace_id)
            ledger.apply(None if workspace is None else workspace.balance, entry.amount)
            raise ledger.insufficient(entry.amount)
        self._s.book(entry)
        return moved

    async def ledger(
        self, workspace_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[LedgerEntry]:
        found = sorted(
            (
                e
                for e in self._s.ledger.values()
                if e.workspace_id == workspace_id and (after is None or (e.at, e.id) < after)
            ),
            key=lambda e: (e.at, e.id),
            reverse=True,
        )
        return found[: limit + 1]


@attrs.define
class _Contacts:
    _s: _State

    async def upsert(self, contact: Contact) -> Contact:
        key = (contact.workspace_id, contact.recipient)
        merged = storekit.merge_contact(self._s.contacts.get(key), contact)
        self._s.contacts[key] = merged
        return merged

    async def get(self, workspace_id: str, recipient: Recipient) -> Contact | None:
        return self._s.contacts.get((workspace_id, recipient))

    async def set_consent(
        self, workspace_id: str, recipient: Recipient, change: ConsentChange
    ) -> Contact | None:
        key = (workspace_id, recipient)
        after = storekit.change_consent(self._s.contacts.get(key), workspace_id, recipient, change)
        if after is not None:
            self._s.contacts[key] = after
        return after

    async def patch(
        self, workspace_id: str, recipient: Recipient, patch: ContactPatch, at: datetime
    ) -> Contact:
        key = (workspace_id, recipient)
        after = patch_contact(self._s.contacts.get(key), workspace_id, recipient, patch, at)
        self._s.contacts[key] = after
        return after

    async def page(self, query: ContactQuery) -> Sequence[Contact]:
        kept = self._s.contacts
        found = [
            c
            for (workspace_id, _), c in kept.items()
            if workspace_id == query.workspace_id and matches(c, query)
        ]
        if spoken_with(query):  # and the numbers there are messages with
            latest: dict[Recipient, datetime] = {}
            for m in self._s.messages.values():
                if m.workspace_id == query.workspace_id and m.contact.person:
                    latest[m.contact] = max(latest.get(m.contact, m.created_at), m.created_at)
            found.extend(
                contact
                for number, at in latest.items()
                if (query.workspace_id, number) not in kept
                and matches(contact := heard_of(query.workspace_id, number, at), query)
            )
        found.sort(key=lambda c: str(c.recipient))
        return found[: query.limit + 1]

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        self._s.aliases[alias] = recipient

    async def resolve_alias(self, alias: str) -> Recipient | None:
        return self._s.aliases.get(alias)


@attrs.define
class _Templates:
    _s: _State

    async def replace(self, sender_id: str, specs: Sequence[TemplateSpec]) -> None:
        for key in [k for k in self._s.templates if k[0] == sender_id]:
            del self._s.templates[key]
        for spec in specs:
            self._s.templates[(sender_id, spec.name, spec.language)] = attrs.evolve(
                spec, sender_id=sender_id
            )

    async def put(self, spec: TemplateSpec) -> None:
        self._s.templates[spec.key] = spec

    async def get(self, sender_id: str, name: str, language: str) -> TemplateSpec | None:
        return self._s.templates.get((sender_id, name, language))

    async def delete(self, sender_id: str, name: str) -> int:
        gone = [k for k in self._s.templates if k[0] == sender_id and k[1] == name]
        for key in gone:
            del self._s.templates[key]
        return len(gone)

    async def list(self, sender_ids: Collection[str]) -> Sequence[TemplateSpec]:
        wanted = set(sender_ids)
        return sorted(
            (t for k, t in self._s.templates.items() if k[0] in wanted), key=lambda t: t.key
        )
