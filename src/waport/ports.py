"""What the core needs from the outside world, as ``typing.Protocol`` interfaces.

Ports take and return domain types and raise only ``WaportError``. They hold
behaviour only: lifetimes belong to each adapter's plugin (``open()`` is an async
context manager), so nothing here is called ``close``. Every adapter of a port
passes the same contract suite from ``waport.testing.contracts``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

from waport.domain.consent import ConsentChange
from waport.domain.contacts import ContactPatch, ContactQuery
from waport.domain.erasure import Erasure
from waport.domain.events import InboundMessage, ProviderEvent, StatusUpdate
from waport.domain.ledger import LedgerEntry
from waport.domain.lifecycle import (
    AttemptOutcome,
    Failed,
    Release,
    Retry,
    Sent,
    StatusPatch,
    StatusResult,
)
from waport.domain.listing import Conversation, ConversationQuery, MessageQuery
from waport.domain.ratelimit import RateDecision, RateLimit
from waport.domain.recipients import Recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    MediaObject,
    MessageRecord,
    OutboxEvent,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.templates import TemplateSpec
from waport.provider_port import (
    ALL_BUTTONS,
    ALL_INTERACTIVE,
    Capabilities,
    EventSource,
    MediaDownload,
    MediaDownloader,
    NumberCheck,
    Provider,
    SandboxControl,
    SendReceipt,
    SubscriptionHandshake,
    TemplateAdmin,
    WebhookReceiver,
)

# ----------------------------------------------------------------------------- time and ids


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class UrlGuard(Protocol):
    """Decides whether a URL a caller gave may be used: a message's ``webhook_url``
    (kind ``"webhook"``: waport will POST to it) or a media URL (kind ``"media"``: the
    provider will fetch it). Raises a ``WaportError`` naming ``param`` to refuse."""

    async def check(self, url: str, *, param: str, kind: str) -> None: ...


class IdSource(Protocol):
    def new_id(self, prefix: str) -> str:
        """A new unique id such as ``msg_01J...``."""
        ...


# ----------------------------------------------------------------------------- stores


class MessageStore(Protocol):
    async def get(self, message_id: str) -> MessageRecord | None: ...

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> MessageRecord | None: ...

    async def by_broadcast(self, broadcast_id: str) -> Sequence[MessageRecord]: ...

    async def last_inbound(
        self,
        workspace_id: str,
        contact: Recipient,
        sender_id: str | None,
        *,
        include_templates: bool = False,
    ) -> datetime | None:
        """The latest window-opening event from ``contact`` (to ``sender_id``, or any sender)."""
        ...

    async def count_initiated(self, workspace_id: str, since: datetime) -> int:
        """Unique contacts reached by business-initiated sends after ``since`` (exclusive)."""
        ...

    async def leaves_window(self, workspace_id: str, since: datetime, rank: int) -> datetime | None:
        """Of the contacts reached by business-initiated sends after ``since``, the latest
        such send to the ``rank``-th (from 0) to leave the moving window, ordered by that
        time; ``None`` when fewer were reached. (When the messaging tier has room again.)"""
        ...

    async def initiated_contacts(
        self, workspace_id: str, since: datetime, contacts: Collection[Recipient]
    ) -> set[Recipient]:
        """Which of ``contacts`` were already reached by a business-initiated send after ``since``."""
        ...

    async def record_inbound(self, records: Sequence[MessageRecord]) -> Sequence[bool]:
        """Store inbound messages once per (provider, provider id); True for each new one.
        A new one enqueues its ``message.received``/``message.reply`` event."""
        ...

    async def apply_statuses(self, patches: Sequence[StatusPatch]) -> Sequence[StatusResult]:
        """Merge statuses forward only; each change that advances is kept in the history
        and enqueues its outbound event, in the same transaction."""
        ...

    async def claim(self, message_id: str, *, now: datetime) -> MessageRecord | None:
        """Mark an unsent message as being attempted (``attempting_since``); ``None`` if it
        is not claimable (already claimed, sent or final)."""
        ...

    async def finish(self, message_id: str, outcome: AttemptOutcome) -> MessageRecord:
        """Record an attempt's outcome and release the claim."""
        ...

    async def due(self, now: datetime, *, limit: int) -> Sequence[MessageRecord]:
        """Unsent, unclaimed messages whose ``due_at`` or ``expires_at`` has come."""
        ...

    async def in_flight(self, *, started_before: datetime, limit: int) -> Sequence[MessageRecord]:
        """Claimed messages whose attempt began before ``started_before`` (a crash suspect)."""
        ...

    async def page(self, query: MessageQuery) -> Sequence[MessageRecord]:
        """Messages of ``query`` newest first (created time, then id), strictly after its
        cursor: up to ``query.limit + 1`` (one more tells that another page follows)."""
        ...

    async def conversations(self, query: ConversationQuery) -> Sequence[Conversation]:
        """One row per (contact, sender) with its latest message and unread count, by
        latest activity (newest first), after the cursor: up to ``query.limit + 1``."""
        ...

    async def contact_span(
        self, workspace_id: str, contact: Recipient
    ) -> tuple[datetime, datetime] | None:
        """When the first and the last message with ``contact`` were created (either way)."""
        ...

    async def media_in_use(self, media_ids: Collection[str]) -> set[str]:
        """Those of ``media_ids`` that a message not sent yet refers to (retention keeps
        them)."""
        ...

    async def inbound_since(self, since: datetime, *, limit: int) -> Sequence[MessageRecord]:
        """Inbound messages received at or after ``since``, the newest first (contacts'
        media to fetch again after a restart)."""
        ...

    async def purge_before(self, before: datetime, *, limit: int) -> int:
        """Retention: delete up to ``limit`` finished messages created before ``before``
        (inbound ones, and outbound ones no longer queued or in flight with no webhook
        still owed), their delivered webhooks, window entries older than ``before``, and
        the contacts and aliases no remaining message refers to. Returns how many
        messages went; call again while it returns ``limit``."""
        ...

    async def erase_contact(self, workspace_id: str, erasure: Erasure) -> Sequence[MessageRecord]:
        """Erase ``erasure.recipient`` from the workspace, in one transaction: each of
        its messages as ``lifecycle.erase`` decides, their webhook events scrubbed (the
        owed ones dead), its windows, contact row and aliases gone, its conversations
        under the pseudonym, and stored idempotent answers naming its messages
        scrubbed. Returns its messages as erased (their inbound media are the caller's
        to delete). Erasing an unknown contact changes nothing."""
        ...

    async def counts(self) -> Mapping[str, int]:
        """Messages per status (for metrics)."""
        ...


class IdempotencyStore(Protocol):
    async def get(self, scope: str, key: str, *, now: datetime) -> IdempotencyRecord | None:
        """The live record, or ``None`` (never stored, or expired)."""
        ...

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None: ...

    async def purge(self, now: datetime) -> int: ...


class RateLimitStore(Protocol):
    async def hit(self, key: str, rate: RateLimit, *, now: datetime, cost: int = 1) -> RateDecision:
        """Atomically decide one request against the GCRA state kept under ``key``."""
        ...

    async def purge(self, now: datetime) -> int: ...


class ApiKeyStore(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def list(self, workspace_id: str | None = None) -> Sequence[ApiKey]: ...

    async def revoke(self, key_id: str, *, at: datetime) -> bool: ...


class WorkspaceStore(Protocol):
    async def put(self, workspace: Workspace) -> None:
        """Create or change a workspace. A prepaid balance is the ledger's: ``put``
        changes it only when the billing mode changes (``None`` makes the workspace
        unlimited; a number makes an unlimited one prepaid, starting there)."""
        ...

    async def get(self, workspace_id: str) -> Workspace | None: ...

    async def list(self) -> Sequence[Workspace]: ...

    async def put_sender(self, sender: Sender) -> None: ...

    async def get_sender(self, sender_id: str) -> Sender | None: ...

    async def senders(self, workspace_id: str) -> Sequence[Sender]: ...

    async def credit(self, entry: LedgerEntry) -> int:
        """Apply an operator's credit (or debit: a negative amount) and keep its entry;
        the new balance. ``INSUFFICIENT_BALANCE`` when a debit would take it below zero,
        ``VALIDATION_FAILED`` (``billing``) for an unlimited or unknown workspace."""
        ...

    async def ledger(
        self, workspace_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[LedgerEntry]:
        """The workspace's entries newest first (time, then id), strictly after the
        cursor ``after`` (an entry's time and id): up to ``limit + 1``."""
        ...


class ContactStore(Protocol):
    async def upsert(self, contact: Contact) -> Contact:
        """Create or update; labels are merged, metadata keys overwritten."""
        ...

    async def get(self, workspace_id: str, recipient: Recipient) -> Contact | None: ...

    async def set_consent(
        self, workspace_id: str, recipient: Recipient, change: ConsentChange
    ) -> Contact | None:
        """Opt the contact out or in (creating it if unknown); the contact after, or
        ``None`` when a newer change was made since (``lifecycle.change_consent``). A
        contact who opted out outlives retention."""
        ...

    async def patch(
        self, workspace_id: str, recipient: Recipient, patch: ContactPatch, at: datetime
    ) -> Contact:
        """Apply an API change (``contacts.patch_contact``), creating the contact if new."""
        ...

    async def page(self, query: ContactQuery) -> Sequence[Contact]:
        """Contacts of ``query`` by number, after its cursor (``contacts.matches``): up to
        ``query.limit + 1``."""
        ...

    async def link_alias(self, alias: str, recipient: Recipient) -> None:
        """Remember that a provider alias (a WhatsApp-Web ``@lid``) is this recipient."""
        ...

    async def resolve_alias(self, alias: str) -> Recipient | None: ...


class TemplateStore(Protocol):
    async def replace(self, sender_id: str, specs: Sequence[TemplateSpec]) -> None:
        """The sender's whole catalogue (a sync)."""
        ...

    async def put(self, spec: TemplateSpec) -> None: ...

    async def get(self, sender_id: str, name: str, language: str) -> TemplateSpec | None: ...

    async def delete(self, sender_id: str, name: str) -> int:
        """Forget the sender's template ``name`` in every language; returns how many."""
        ...

    async def list(self, sender_ids: Collection[str]) -> Sequence[TemplateSpec]: ...


class OutboxStore(Protocol):
    async def claim(self, now: datetime, *, limit: int, lease: timedelta) -> Sequence[OutboxEvent]:
        """Lease due events; per message only the earliest undelivered one is claimable,
        so a message's events go out in order. Concurrent claims never share an event."""
        ...

    async def delivered(self, event_id: str, *, at: datetime) -> None: ...

    async def failed(
        self, event_id: str, *, at: datetime, due_at: datetime | None, error: str
    ) -> None:
        """Record a failed delivery; ``due_at`` is the next try, ``None`` marks it dead."""
        ...

    async def kill_url(self, url: str, *, error: str) -> int:
        """Mark every pending event for ``url`` dead (the receiver answered 410 Gone)."""
        ...

    async def get(self, event_id: str) -> OutboxEvent | None: ...

    async def for_message(self, message_id: str) -> Sequence[OutboxEvent]: ...

    async def pending_count(self) -> int: ...

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        """Queue events that no message change carries (an inbound message's media
        fetched); an event whose id is queued already is left as it is."""
        ...


class MediaStore(Protocol):
    """Blobs by id and sha256, streamed in and out: never held whole in memory, never
    inside a record. Identical bytes are kept once (content-addressed)."""

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        media_id: str,
        workspace_id: str,
        mime_type: str,
        created_at: datetime,
        max_size: int,
        filename: str | None = None,
    ) -> MediaObject:
        """Store the bytes ``chunks`` yields; ``MEDIA_TOO_LARGE`` as soon as they pass
        ``max_size`` (nothing is kept then)."""
        ...

    async def get(self, media_id: str) -> MediaObject | None: ...

    def read(self, media_id: str, *, chunk_size: int = 65_536) -> AsyncIterator[bytes]:
        """The bytes in chunks of at most ``chunk_size``; ``NOT_FOUND`` for an unknown id."""
        ...

    async def delete(self, media_id: str) -> bool:
        """Forget ``media_id`` (the bytes go when no other id holds them)."""
        ...

    async def created_before(
        self, before: datetime, *, after: str = "", limit: int
    ) -> Sequence[MediaObject]:
        """Media stored before ``before``, in id order from after the id ``after`` (for
        retention, a page at a time)."""
        ...


class Transaction(Protocol):
    """Writes collected in a unit of work; applied atomically when the block exits cleanly."""

    def add_messages(self, records: Sequence[MessageRecord]) -> None: ...

    def claim_idempotency(self, record: IdempotencyRecord) -> None:
        """Fails the whole transaction with ``IDEMPOTENCY_IN_PROGRESS`` if the key is taken."""
        ...

    def upsert_contact(self, contact: Contact) -> None: ...

    def debit(self, entries: Sequence[LedgerEntry]) -> None:
        """Debit the messages' prices (``ledger.debit``) with their rows: the whole
        transaction fails with ``INSUFFICIENT_BALANCE`` when a workspace's balance cannot
        cover its entries. An unlimited workspace is not debited and keeps no entry.
        Refunds are the stores' to write with the status change that owes them
        (``ledger.refund_owed``), once per message."""
        ...


class Store(Protocol):
    """All of waport's state, as one bundle with a unit of work."""

    @property
    def messages(self) -> MessageStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def rate_limits(self) -> RateLimitStore: ...
    @property
    def api_keys(self) -> ApiKeyStore: ...
    @property
    def workspaces(self) -> WorkspaceStore: ...
    @property
    def contacts(self) -> ContactStore: ...
    @property
    def templates(self) -> TemplateStore: ...
    @property
    def outbox(self) -> OutboxStore: ...
    @property
    def media(self) -> MediaStore: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Collect writes; commit them atomically on a clean exit, drop them on an exception."""
        ...


# ----------------------------------------------------------------------------- billing


class Billing(Protocol):
    async def reserve(self, workspace_id: str, *, category: str, count: int) -> None:
        """Reserve the cost of ``count`` messages; raise ``INSUFFICIENT_BALANCE`` or
        ``BILLING_SUSPENDED``."""
        ...

    async def refund(self, workspace_id: str, *, category: str, count: int) -> None: ...


__all__ = [
    "ALL_BUTTONS",
    "ALL_INTERACTIVE",
    "AttemptOutcome",
    "ApiKeyStore",
    "Billing",
    "Capabilities",
    "Clock",
    "ContactStore",
    "EventSource",
    "Failed",
    "IdSource",
    "IdempotencyStore",
    "InboundMessage",
    "MediaDownload",
    "MediaDownloader",
    "NumberCheck",
    "TemplateAdmin",
    "MediaStore",
    "MessageStore",
    "OutboxStore",
    "Provider",
    "ProviderEvent",
    "RateLimitStore",
    "Release",
    "Retry",
    "SandboxControl",
    "SendReceipt",
    "Sent",
    "StatusPatch",
    "StatusResult",
    "StatusUpdate",
    "SubscriptionHandshake",
    "Store",
    "TemplateStore",
    "Transaction",
    "WebhookReceiver",
    "WorkspaceStore",
]
