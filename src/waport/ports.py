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

import attrs

from waport.domain.consent import ConsentChange
from waport.domain.contacts import ContactPatch, ContactQuery
from waport.domain.errors import ErrorCode
from waport.domain.events import InboundMessage, ProviderEvent, StatusUpdate
from waport.domain.lifecycle import (
    AttemptOutcome,
    Failed,
    Release,
    Retry,
    Sent,
    StatusPatch,
    StatusResult,
)
from waport.domain.limits import MediaKind
from waport.domain.listing import Conversation, ConversationQuery, MessageQuery
from waport.domain.messages import MODES, MediaData, MediaStream, OutboundMessage
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
from waport.domain.templates import BoundTemplate, TemplateSpec

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


# ----------------------------------------------------------------------------- provider


ALL_INTERACTIVE = frozenset({"buttons", "list", "cta_url", "catalog", "product", "product_list"})
ALL_BUTTONS = frozenset({"reply", "url", "call", "copy"})


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a provider can do, as data. The service checks it before any I/O."""

    modes: frozenset[str] = frozenset(MODES)
    interactive_types: frozenset[str] = ALL_INTERACTIVE
    button_types: frozenset[str] = ALL_BUTTONS
    media_kinds: frozenset[MediaKind] = frozenset(MediaKind)
    groups: bool = False
    channels: bool = False
    base64_media: bool = True
    templates: bool = True
    window_applies: bool = True
    """Whether Meta's 24-hour customer-service window governs free-form sends."""
    max_rps: float = 80.0
    """Messages per second one sender may send (a million or more, or ``inf``: unpaced)."""
    pair_rate: RateLimit | None = None
    """Messages to one recipient from one sender (Meta: about 1 per 6 s, short bursts)."""
    client_message_ids: bool = False
    """The provider de-duplicates by our message id, so re-sending after a crash is safe."""
    send_timeout: float | None = None
    """Seconds within which ``send`` returns or raises on its own (its transport's
    deadline), if the provider guarantees one. When this is at most
    ``Policy.provider_timeout``, the Messenger sets no deadline of its own around the
    call: one timer per send instead of two."""
    mark_read: bool = True
    typing: bool = False
    reply: bool = True
    fetches_urls_locally: bool = False
    """The provider fetches media URLs from inside your network (a WhatsApp-Web server
    beside the gateway), so the gateway refuses private addresses in them; Meta fetches
    from its own servers and the sandbox fetches nothing."""
    uploaded_media_ttl: timedelta | None = None
    """How long an id from ``upload_media`` stays usable (Meta: 30 days). Set, media
    from waport's media store is uploaded once per sender and sent by that id while it
    lasts (a broadcast uploads its header once); ``None``: the bytes go with each send."""
    streams_media: bool = False
    """Whether ``send`` and ``upload_media`` take media of waport's media store as a
    ``MediaStream`` (read in chunks while sending, so a 100 MB document is never held
    in memory); otherwise they get it as ``MediaData``, whole."""


@attrs.frozen(kw_only=True)
class SendReceipt:
    provider_message_id: str
    accepted_at: datetime
    provider_status: str | None = None
    """What the provider said beyond "accepted" (e.g. Meta's held_for_quality_assessment)."""


class SandboxControl(Protocol):
    """The remote control of a simulated provider (see ``waport_memory.SandboxProvider``)."""

    def inbound(
        self,
        *,
        contact: Recipient,
        sender_id: str,
        text: str,
        at: datetime,
        reply_to: str | None = None,
        media: MediaData | None = None,
    ) -> InboundMessage:
        """A contact writes to a sender (answering the provider's message ``reply_to``),
        or sends ``media`` with ``text`` as its caption; returns the event to ingest."""
        ...

    def script(
        self,
        *,
        to: Recipient | None = None,
        fail_with: ErrorCode | None = None,
        delay_ms: int = 0,
        retry_after: float | None = None,
        times: int = 1,
        senders: frozenset[str] | None = None,
    ) -> None:
        """Script the next outcome(s): a failure for a recipient (or any), a delay, taken
        only by sends from ``senders`` (None: any sender)."""
        ...


class WebhookReceiver(Protocol):
    """A provider's receiving role: deliveries pushed to ``/webhooks/{name}``."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[ProviderEvent]:
        """Verify and parse one webhook delivery; raise INVALID_SIGNATURE or VALIDATION_FAILED."""
        ...


class SubscriptionHandshake(Protocol):
    """A provider's subscription handshake (``GET /webhooks/{name}``)."""

    def verify_subscription(self, query: Mapping[str, str]) -> str:
        """Answer the handshake (Meta's hub.challenge); raise FORBIDDEN."""
        ...


class EventSource(Protocol):
    """A provider's polling role: events it produced in process."""

    async def poll_events(self, now: datetime) -> Sequence[ProviderEvent]: ...


@attrs.frozen(kw_only=True)
class MediaDownload:
    """Media a contact sent, as the provider hands it over: its type, what the provider
    says of its size and digest, and the bytes in chunks (read them inside the block)."""

    mime_type: str
    size: int | None = None
    sha256: str | None = None
    chunks: AsyncIterator[bytes] = attrs.field(repr=False)


class MediaDownloader(Protocol):
    """A provider's downloading role: the bytes of media contacts sent."""

    def download_media(
        self, provider_media_id: str, *, sender: str
    ) -> AbstractAsyncContextManager[MediaDownload]:
        """Open the bytes of ``provider_media_id`` (``MEDIA_NOT_FOUND`` when the provider
        no longer has them, ``PROVIDER_UNAVAILABLE`` when it cannot be reached)."""
        ...


class Provider(Protocol):
    """One WhatsApp channel. Methods raise ``WaportError`` only; never transport errors."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def senders(self) -> Sequence[str]:
        """The sender ids this provider is configured for (phone number ids, sessions)."""
        ...

    @property
    def receiver(self) -> WebhookReceiver | None:
        """Its webhook receiver role (verify and parse deliveries), if it pushes events."""
        ...

    @property
    def handshake(self) -> SubscriptionHandshake | None:
        """Its subscription handshake role (Meta's ``hub.challenge``), if it has one."""
        ...

    @property
    def events(self) -> EventSource | None:
        """Its polling role (events produced in process, the sandbox's statuses), if any."""
        ...

    @property
    def sandbox(self) -> SandboxControl | None:
        """The remote control of a simulated provider; ``None`` for real ones."""
        ...

    @property
    def downloads(self) -> MediaDownloader | None:
        """Its downloading role (the bytes of media contacts sent), if it has one."""
        ...

    async def send(
        self,
        message: OutboundMessage,
        *,
        sender: str,
        client_id: str,
        template: BoundTemplate | None = None,
        reply_to: str | None = None,
    ) -> SendReceipt:
        """Send one message. ``client_id`` is waport's message id (echoed back where the
        provider allows); ``template`` holds a template's bound values; ``reply_to`` is
        the provider id of the message being answered."""
        ...

    async def mark_read(
        self, provider_message_id: str, *, sender: str, contact: Recipient, typing: bool = False
    ) -> None: ...

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        """Upload bytes (a ``MediaStream`` only if ``capabilities.streams_media``);
        returns a provider media id."""
        ...

    async def list_templates(self, sender: str) -> Sequence[TemplateSpec]: ...

    async def ping(self) -> None:
        """Raise ``PROVIDER_UNAVAILABLE`` when the provider cannot be reached."""
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
    async def put(self, workspace: Workspace) -> None: ...

    async def get(self, workspace_id: str) -> Workspace | None: ...

    async def list(self) -> Sequence[Workspace]: ...

    async def put_sender(self, sender: Sender) -> None: ...

    async def get_sender(self, sender_id: str) -> Sender | None: ...

    async def senders(self, workspace_id: str) -> Sequence[Sender]: ...

    async def adjust_balance(self, workspace_id: str, delta: int) -> int | None:
        """Add ``delta`` to a prepaid balance unless it would go below zero; the new balance,
        or ``None`` when refused (or the workspace has no balance)."""
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
