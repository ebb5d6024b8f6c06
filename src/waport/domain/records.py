"""The things waport keeps: messages with their history, workspaces, senders, keys,
contacts, idempotency records and outbox events. Plain frozen values; stores
persist them, the service changes them with ``attrs.evolve``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from waport.domain.consent import ConsentChange, ConsentRules
from waport.domain.events import (
    MEDIA_FAILED,
    MEDIA_READY,
    OPTED_IN,
    OPTED_OUT,
    RECEIVED,
    REPLY,
    STATUS_EVENTS,
    InboundMessage,
    inbound_payload,
    status_payload,
)
from waport.domain.inbound_media import provider_media, stored_media_id
from waport.domain.messages import JsonScalar, OutboundMessage
from waport.domain.recipients import Recipient
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@attrs.frozen(kw_only=True)
class MessageRecord:
    """A message as stored: content, status with its history, and dispatch state."""

    id: str
    workspace_id: str
    sender_id: str
    contact: Recipient
    direction: Direction
    status: MessageStatus
    history: tuple[StatusChange, ...]
    created_at: datetime
    message: OutboundMessage | None = None
    inbound: InboundMessage | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    broadcast_id: str | None = None
    category: str | None = None
    """The template category (MARKETING, UTILITY, AUTHENTICATION) or SERVICE for free-form."""
    initiated: bool = False
    """A business-initiated send outside a window: it counts toward the messaging limit."""
    due_at: datetime | None = None
    """When the dispatcher should next attempt it (scheduled time, pacing slot or retry time)."""
    attempting_since: datetime | None = None
    """Set (committed) before a provider call and cleared with its outcome: a restart can tell
    "never tried" from "maybe sent"."""
    attempts: int = 0
    error: ErrorDetail | None = None
    webhook_url: str | None = None
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict)
    reply_to: str | None = None
    """For an inbound message: our id of the outbound message it answers."""
    erased_at: datetime | None = None
    """When its contact was erased (``lifecycle.erase``): no content, a pseudonym."""

    @property
    def expires_at(self) -> datetime | None:
        return self.message.expires_at if self.message is not None else None


@attrs.frozen(kw_only=True)
class Workspace:
    id: str
    name: str = ""
    webhook_url: str | None = None
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    messaging_tier: int | None = 250
    """Unique contacts reachable outside a window per moving 24 h; ``None`` is unlimited."""
    template_opens_window: bool = False
    billing_suspended: bool = False
    balance: int | None = None
    """Prepaid balance in the smallest currency unit; ``None`` when billing is unlimited."""
    default_sender_id: str | None = None
    """The sender a send (and a window check) without ``sender_id`` uses; ``None``: the
    first active one."""
    consent: ConsentRules | None = None
    """Its opt-out keywords, blocked categories and confirmation; ``None``: the gateway's."""
    category_pacing: Mapping[str, tuple[float, float]] | None = None
    """Seconds between two sends of a category from one sender (a random gap in the
    range); ``None``: the gateway's ``Policy.category_pacing``."""
    max_sends_per_second: float | None = None
    """At most this many sends a second from each of its senders (and no more than the
    provider allows); ``None``: the provider's rate."""


@attrs.frozen(kw_only=True)
class SenderHealth:
    """What the provider last said of a sender (see ``waport.domain.sender_health``)."""

    available: bool = True
    """False while the provider says it cannot send (a WhatsApp-Web session not
    ``WORKING``, a disabled account): its sends fail fast with PROVIDER_UNAVAILABLE."""
    state: str | None = None
    """The provider's own word: WAHA's session status, Meta's account event."""
    quality: str | None = None
    """Meta's word on the number's quality (``FLAGGED``, ``UNFLAGGED``, ``UPGRADE`` ...)."""
    messaging_limit: str | None = None
    """Meta's messaging limit for the number (``TIER_1K``, ``TIER_UNLIMITED`` ...)."""
    reason: str | None = None
    at: datetime | None = None
    """When the provider said what it last said of availability, state and reason."""
    number_at: datetime | None = None
    """When it last said the quality or messaging limit."""


@attrs.frozen(kw_only=True)
class Sender:
    """A phone number (or web session) of a workspace."""

    id: str
    workspace_id: str
    phone: str | None = None
    name: str = ""
    active: bool = True
    health: SenderHealth | None = None
    """The provider's latest word on it; ``None``: nothing said yet (taken as healthy)."""


OPERATOR = "operator"
"""The scope that manages workspaces (``/v1/workspaces``); it implies every other."""
SCOPES = frozenset(
    {
        OPERATOR,
        "messages:send",
        "messages:read",
        "broadcasts:send",
        "templates:read",
        "templates:write",
        "admin",
    }
)


@attrs.frozen(kw_only=True)
class ApiKey:
    """An API key as stored: the public id, a digest of the whole key, and its limits."""

    id: str
    workspace_id: str
    digest: str = attrs.field(repr=False)
    scopes: frozenset[str]
    senders: frozenset[str] | None = None
    """When set, the key may only send from these senders (a number-scoped key)."""
    rate_per_minute: int | None = None
    label: str = ""
    hint: str = ""
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        """An operator key may do anything; an admin key anything but the operator's."""
        if OPERATOR in self.scopes:
            return True
        return scope != OPERATOR and ("admin" in self.scopes or scope in self.scopes)

    def may_use(self, sender_id: str | None) -> bool:
        """Whether this key may act on, or see, what belongs to ``sender_id`` (a key
        limited to some senders sees nothing of the others, nor sender-less resources)."""
        return self.senders is None or (sender_id is not None and sender_id in self.senders)

    def covers(self, senders: frozenset[str] | None) -> bool:
        """Whether a key limited to ``senders`` (None: unlimited) is no wider than this
        one: what a limited admin key may create, list or revoke."""
        return self.senders is None or (senders is not None and senders <= self.senders)


@attrs.frozen(kw_only=True)
class Contact:
    workspace_id: str
    recipient: Recipient
    name: str | None = None
    labels: tuple[str, ...] = ()
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict)
    updated_at: datetime
    consent: tuple[ConsentChange, ...] = ()
    """Opt-out changes, oldest first (``waport.domain.consent``)."""

    @property
    def opted_out(self) -> bool:
        return bool(self.consent) and self.consent[-1].opted_out


@attrs.frozen(kw_only=True)
class MediaObject:
    """Bytes in the media store: what a record references instead of holding them."""

    id: str
    workspace_id: str
    sha256: str
    size: int
    mime_type: str
    filename: str | None = None
    created_at: datetime


@attrs.frozen(kw_only=True)
class StoredResponse:
    """An HTTP answer kept for idempotent replay."""

    status: int
    body: bytes
    content_type: str = "application/json"


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    scope: str
    """The API key (and workspace) the key belongs to."""
    key: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    locked_until: datetime
    """While the first request runs; after it, a crashed owner's claim is recovered."""
    message_ids: tuple[str, ...] = ()
    response: StoredResponse | None = None


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@attrs.frozen(kw_only=True)
class OutboxEvent:
    """One outbound webhook owed: delivered at least once, in order per ``message_id``."""

    id: str
    workspace_id: str
    message_id: str
    type: str
    url: str
    payload: Mapping[str, Any]
    created_at: datetime
    due_at: datetime
    seq: int = 0
    """Order within one message: events of a message go out by increasing seq."""
    attempts: int = 0
    state: OutboxState = OutboxState.PENDING
    last_error: str | None = None
    leased_until: datetime | None = None


def _event(
    record: MessageRecord,
    kind: str,
    event_id: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    seq: int,
) -> OutboxEvent:
    """An event of ``record`` for its webhook URL, in the envelope every event shares."""
    assert record.webhook_url is not None  # noqa: S101 - the callers checked
    return OutboxEvent(
        id=event_id,
        workspace_id=record.workspace_id,
        message_id=record.id,
        type=kind,
        url=record.webhook_url,
        payload={"id": event_id, "type": kind, "created_at": at.isoformat(), "data": data},
        created_at=at,
        due_at=at,
        seq=seq,
    )


def status_event(record: MessageRecord, change: StatusChange) -> OutboxEvent | None:
    """The outbound webhook a status change owes, or ``None`` (no URL, or no event for it).

    The id is derived from the message and the status, so the same change can never
    enqueue two events, and a receiver sees one ``webhook-id`` however often it is
    redelivered.
    """
    kind = STATUS_EVENTS.get(change.status)
    if kind is None or record.webhook_url is None or record.direction != Direction.OUTBOUND:
        return None
    event_id = f"evt_{record.id}_{change.status.value}"
    data = status_payload(
        message_id=record.id,
        status=change.status,
        at=change.at,
        to=record.contact,
        sender_id=record.sender_id,
        provider_message_id=record.provider_message_id,
        error=change.error,
        broadcast_id=record.broadcast_id,
        metadata=record.metadata,
    )
    return _event(record, kind, event_id, data, at=change.at, seq=change.status.rank)


def media_event(
    record: MessageRecord, media: Mapping[str, Any], at: datetime
) -> OutboxEvent | None:
    """``media.ready`` or ``media.failed`` for an inbound message's media (``media`` as
    the API shows it, with its ``status``), after its ``message.received``. One of
    each at most per message: the id is derived from the message and the outcome."""
    if record.inbound is None or record.webhook_url is None:
        return None
    kind = MEDIA_READY if media.get("status") == "ready" else MEDIA_FAILED
    event_id = f"evt_{record.id}_{kind.replace('.', '_')}"
    data = {
        "message_id": record.id,
        "from": str(record.contact),
        "sender_id": record.sender_id,
        "media": dict(media),
    }
    return _event(record, kind, event_id, data, at=at, seq=1)  # after message.received


def consent_event(record: MessageRecord, contact: Contact) -> OutboxEvent | None:
    """``contact.opted_out`` or ``contact.opted_in`` after the inbound message that said
    it (its keyword), following its ``message.received``."""
    if record.inbound is None or record.webhook_url is None or not contact.consent:
        return None
    change = contact.consent[-1]
    kind = OPTED_OUT if change.opted_out else OPTED_IN
    event_id = f"evt_{record.id}_{kind.replace('.', '_')}"
    data = {
        "contact": str(contact.recipient),
        "opted_out": change.opted_out,
        "message_id": record.id,
        "sender_id": record.sender_id,
        "text": record.inbound.text,
        "at": change.at.isoformat(),
    }
    return _event(record, kind, event_id, data, at=change.at, seq=2)  # after media.*


def inbound_event(record: MessageRecord) -> OutboxEvent | None:
    """The ``message.received`` (or ``message.reply``) event of a new inbound message."""
    if record.inbound is None or record.webhook_url is None:
        return None
    kind = REPLY if record.reply_to is not None else RECEIVED
    event_id = f"evt_{record.id}_received"
    data = inbound_payload(
        message_id=record.id, message=record.inbound, reply_to_message_id=record.reply_to
    )
    media = provider_media(record.inbound)
    if media is not None:  # fetched after this event: media.status is pending here
        data["media"] = {
            "id": stored_media_id(record.id),
            "mime_type": media.mime_type,
            "filename": media.filename,
            "caption": media.caption,
            "status": "pending",
        }
    return _event(record, kind, event_id, data, at=record.created_at, seq=0)
