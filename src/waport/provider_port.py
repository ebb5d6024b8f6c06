"""The provider port: one WhatsApp channel and its roles (webhooks, subscription
handshake, events, sandbox control, downloads), with what it declares it can do.
Re-exported by ``waport.ports``, where every port is named."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from waport.domain.errors import ErrorCode
from waport.domain.events import InboundMessage, ProviderEvent
from waport.domain.limits import MediaKind
from waport.domain.messages import MODES, MediaData, MediaStream, OutboundMessage
from waport.domain.ratelimit import RateLimit
from waport.domain.recipients import Recipient
from waport.domain.template_drafts import TemplateDraft
from waport.domain.templates import BoundTemplate, TemplateSpec

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
    user_ids: bool = False
    """Whether it sends to a WhatsApp user by business-scoped user id (Meta's BSUIDs,
    for users who show a username instead of their number)."""
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


class NumberCheck(Protocol):
    """A provider's role that tells whether a number has WhatsApp (WAHA's check-exists)."""

    async def on_whatsapp(self, recipient: Recipient, *, sender: str) -> bool:
        """Whether ``recipient`` (a phone) has a WhatsApp account, asked through ``sender``."""
        ...


class TemplateAdmin(Protocol):
    """A provider's role that creates and deletes templates (Meta's ``message_templates``);
    their review comes back later as ``TemplateUpdate`` events."""

    async def create_template(self, draft: TemplateDraft, *, sender: str) -> TemplateSpec:
        """Submit ``draft`` (checked already) for review; returns its catalogue entry with
        the provider's id and status (usually ``PENDING``)."""
        ...

    async def delete_template(self, name: str, *, sender: str) -> None:
        """Delete the template ``name`` in every language."""
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

    @property
    def numbers(self) -> NumberCheck | None:
        """Its number-check role (is this number on WhatsApp?), if it can tell."""
        ...

    @property
    def template_admin(self) -> TemplateAdmin | None:
        """Its template-management role (create, delete), if it has one."""
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
