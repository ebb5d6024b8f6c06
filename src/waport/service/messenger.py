"""The Messenger: one facade over waport's use cases, for integrators and the gateway.

Each use case lives in its own module and is a function over a ``Core`` (the ports
and the policy):

    send        waport.service.send       parse, check, persist, attempt one message
    attempt     waport.service.attempt    claim, pace, send, record the outcome
    broadcast   waport.service.broadcast  one template to many, rows persisted together
    read        waport.service.read       a message, a window, read receipts
    ingest      waport.service.ingest     provider events: inbound messages, statuses
    dispatch    waport.service.dispatch   due sends, retries, expiry, crash recovery
    templates   waport.service.templates  catalogue sync and listing, start-up bootstrap
    keys        waport.service.keys       API keys: issue, list, revoke, authenticate
    replay      waport.service.replay     Idempotency-Key replay of a stored answer

``Messenger`` owns the dispatcher's task group (``run_background=True``); tests leave it
off and call ``dispatch_once()`` with a fake clock.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from waport.domain.broadcast import BroadcastRequest
from waport.domain.events import ProviderEvent
from waport.domain.messages import OutboundMessage
from waport.domain.recipients import Recipient
from waport.domain.records import MediaObject, MessageRecord, Workspace
from waport.domain.templates import TemplateSpec
from waport.domain.window import WindowStatus
from waport.ports import Billing, Clock, IdSource, Provider, Store, UrlGuard
from waport.service import broadcast, contacts, dispatch, media, read, send, templates
from waport.service.billing import UnlimitedBilling
from waport.service.changes import Changes, watch
from waport.service.core import (
    DEFAULT_WORKSPACE,
    BroadcastResult,
    Core,
    DispatchReport,
    IdempotencyClaim,
    IngestReport,
    Policy,
    Scope,
    SendResult,
)
from waport.service.ingest import ingest
from waport.service.lookups import Lookups


def _scope(
    workspace_id: str | None,
    allowed_senders: frozenset[str] | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Scope:
    return Scope(workspace_id=workspace_id, senders=allowed_senders, idempotency=idempotency)


class Messenger:
    """waport's use cases. An async context manager owning the dispatcher's task group.

    ``url_guard`` checks callers' webhook and media URLs before a message is accepted
    (the gateway refuses private addresses with it); ``None`` accepts any http(s) URL.
    ``changes``: a feed that every committed message change is published to
    (``service.changes``; the gateway's event stream reads it). The collaborators live in ``core``: the attributes below read and write it.
    """

    def __init__(
        self,
        *,
        store: Store,
        provider: Provider,
        clock: Clock,
        ids: IdSource,
        billing: Billing | None = None,
        policy: Policy | None = None,
        rand: random.Random | None = None,
        run_background: bool = False,
        default_workspace: str = DEFAULT_WORKSPACE,
        url_guard: UrlGuard | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.core = Core(
            store=store if changes is None else watch(store, changes),
            provider=provider,
            clock=clock,
            ids=ids,
            billing=billing or UnlimitedBilling(),
            policy=policy or Policy(),
            rand=rand or random.Random(),  # noqa: S311 - jitter, not secrets
            default_workspace=default_workspace,
            url_guard=url_guard,
            changes=changes,
        )
        self.run_background = run_background
        self._tg: TaskGroup | None = None

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def provider(self) -> Provider:
        return self.core.provider

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def ids(self) -> IdSource:
        return self.core.ids

    @property
    def default_workspace(self) -> str:
        return self.core.default_workspace

    @property
    def url_guard(self) -> UrlGuard | None:
        return self.core.url_guard

    @property
    def policy(self) -> Policy:
        return self.core.policy

    @policy.setter
    def policy(self, value: Policy) -> None:
        self.core.policy = value

    @property
    def billing(self) -> Billing:
        return self.core.billing

    @billing.setter
    def billing(self, value: Billing) -> None:
        self.core.billing = value

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Messenger:
        await self.bootstrap()
        if self.run_background:
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
            await self._tg.start(self.run_dispatcher)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None

    async def bootstrap(self, workspace_id: str | None = None) -> Workspace:
        """Make sure the default workspace exists and owns the provider's senders."""
        return await templates.bootstrap(self.core, workspace_id)

    @property
    def lookups(self) -> Lookups:
        return self.core.lookups

    def invalidate(self) -> None:
        """Forget every cached lookup (after changing a workspace, sender, template or key)."""
        self.core.lookups.invalidate()

    # ------------------------------------------------------------------ use cases

    async def send(
        self,
        request: OutboundMessage | Mapping[str, Any],
        *,
        workspace_id: str | None = None,
        idempotency: IdempotencyClaim | None = None,
        allowed_senders: frozenset[str] | None = None,
        attempt: bool | None = None,
    ) -> SendResult:
        """Send one message (see ``waport.service.send``). ``attempt=False`` only stores it
        for the dispatcher; ``None`` follows ``Policy.inline_attempt``."""
        scope = _scope(workspace_id, allowed_senders, idempotency)
        return await send.send(self.core, request, scope, attempt=attempt)

    async def broadcast(
        self,
        request: BroadcastRequest | Mapping[str, Any],
        *,
        workspace_id: str | None = None,
        idempotency: IdempotencyClaim | None = None,
        allowed_senders: frozenset[str] | None = None,
        attempt: bool | None = None,
        progress: Callable[[MessageRecord], object] | None = None,
    ) -> BroadcastResult:
        """One template to 1-256 recipients (see ``waport.service.broadcast``);
        ``progress`` hears of each row as its attempt finishes."""
        scope = _scope(workspace_id, allowed_senders, idempotency)
        return await broadcast.broadcast(
            self.core, request, scope, attempt_rows=attempt, progress=progress
        )

    async def get_broadcast(
        self, broadcast_id: str, *, workspace_id: str | None = None
    ) -> BroadcastResult:
        return await broadcast.get_broadcast(self.core, broadcast_id, _scope(workspace_id))

    async def list_messages(
        self,
        *,
        workspace_id: str | None = None,
        allowed_senders: frozenset[str] | None = None,
        **filters: str,
    ) -> read.MessagePage:
        """A page of messages, newest first: the filters and ``cursor`` of
        ``GET /v1/messages`` (``contact``, ``sender_id``, ``direction``, ``status``,
        ``mode``, ``broadcast_id``, ``since``, ``until``, ``limit``), as strings."""
        scope = _scope(workspace_id, allowed_senders)
        return await read.list_messages(self.core, scope, filters)

    async def list_conversations(
        self,
        *,
        workspace_id: str | None = None,
        allowed_senders: frozenset[str] | None = None,
        **filters: str,
    ) -> read.ConversationPage:
        """A page of conversations, latest activity first: ``sender_id``, ``limit``,
        ``cursor`` as strings (``GET /v1/conversations``)."""
        scope = _scope(workspace_id, allowed_senders)
        return await read.list_conversations(self.core, scope, filters)

    async def get_contact(
        self, phone: str, *, workspace_id: str | None = None
    ) -> contacts.ContactDetail:
        """What waport knows of a contact (``GET /v1/contacts/{phone}``)."""
        return await contacts.get_contact(self.core, _scope(workspace_id), phone)

    async def patch_contact(
        self, phone: str, change: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> contacts.ContactDetail:
        """Change a contact: ``{"name", "labels": {"add", "remove"}, "attributes",
        "opted_out"}`` (``PATCH /v1/contacts/{phone}``)."""
        return await contacts.patch_contact(self.core, _scope(workspace_id), phone, change)

    async def list_contacts(
        self, *, workspace_id: str | None = None, **filters: str
    ) -> contacts.ContactPage:
        """A page of contacts by number: ``label``, ``opted_out``, ``q``, ``limit``,
        ``cursor`` as strings (``GET /v1/contacts``)."""
        return await contacts.list_contacts(self.core, _scope(workspace_id), filters)

    async def erase_contact(
        self, phone: str, *, workspace_id: str | None = None
    ) -> contacts.ErasedContact:
        """Erase a contact's personal data, keeping statuses for accounting
        (``DELETE /v1/contacts/{phone}``)."""
        return await contacts.erase_contact(self.core, _scope(workspace_id), phone)

    async def get_message(
        self,
        message_id: str,
        *,
        workspace_id: str | None = None,
        allowed_senders: frozenset[str] | None = None,
    ) -> MessageRecord:
        return await read.get_message(self.core, message_id, _scope(workspace_id, allowed_senders))

    async def window_status(
        self,
        to: Recipient | str,
        *,
        sender_id: str | None = None,
        workspace_id: str | None = None,
        allowed_senders: frozenset[str] | None = None,
    ) -> WindowStatus:
        scope = _scope(workspace_id, allowed_senders)
        return await read.get_window(self.core, to, scope, sender_id=sender_id)

    async def mark_read(
        self,
        message_id: str,
        *,
        workspace_id: str | None = None,
        typing: bool = False,
        allowed_senders: frozenset[str] | None = None,
    ) -> MessageRecord:
        """Mark an inbound message read (blue ticks)."""
        scope = _scope(workspace_id, allowed_senders)
        return await read.mark_read(self.core, message_id, scope, typing=typing)

    async def sync_templates(self, *, sender_id: str, workspace_id: str | None = None) -> int:
        """Replace a sender's template catalogue with the provider's."""
        return await templates.sync_templates(self.core, sender_id, _scope(workspace_id))

    async def list_templates(
        self, *, workspace_id: str | None = None, sender_id: str | None = None
    ) -> Sequence[TemplateSpec]:
        return await templates.list_templates(self.core, _scope(workspace_id), sender_id=sender_id)

    async def create_template(
        self, body: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> TemplateSpec:
        """Submit a template (the ``POST /v1/templates`` body) to the provider for review."""
        return await templates.create_template(self.core, _scope(workspace_id), body)

    async def delete_template(
        self, name: str, *, sender_id: str | None = None, workspace_id: str | None = None
    ) -> int:
        """Delete a template in every language; returns how many languages went."""
        return await templates.delete_template(self.core, _scope(workspace_id), name, sender_id)

    async def upload_media(
        self,
        data: bytes | AsyncIterable[bytes],
        *,
        mime_type: str,
        filename: str | None = None,
        workspace_id: str | None = None,
    ) -> MediaObject:
        """Keep media in the media store (streamed, checked against its kind's limits);
        send it by ``{"media": {"id": upload.id}}``."""
        chunks = media.chunks(data) if isinstance(data, bytes) else data
        scope = _scope(workspace_id)
        return await media.upload(self.core, scope, chunks, mime_type=mime_type, filename=filename)

    async def open_media(
        self, media_id: str, *, workspace_id: str | None = None
    ) -> tuple[MediaObject, AsyncIterator[bytes]]:
        """A media object of the workspace and its bytes, in chunks (``MEDIA_NOT_FOUND``)."""
        found = await media.find(self.core, _scope(workspace_id), media_id)
        return found, media.read(self.core, found.id)

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestReport:
        """Take provider events: inbound messages and status updates."""
        return await ingest(self.core, events)

    # ------------------------------------------------------------------ dispatch

    async def dispatch_once(self) -> DispatchReport:
        """One pass: provider events, crash recovery, expiry, due sends."""
        return await dispatch.dispatch_once(self.core)

    async def housekeeping(self) -> int:
        """Purge expired records and apply retention; how many messages went."""
        return await dispatch.housekeeping(self.core)

    def wake(self) -> None:
        self.core.wake()

    async def run_dispatcher(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        await dispatch.run_dispatcher(self.core, task_status=task_status)
