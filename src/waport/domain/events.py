"""Provider-neutral events (what webhooks and the sandbox report) and the outbound
webhook vocabulary (``message.sent`` ...) with its payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from waport.domain.recipients import Recipient
from waport.domain.status import ErrorDetail, MessageStatus
from waport.domain.templates import TemplateCategory, TemplateStatus


@attrs.frozen(kw_only=True)
class InboundMessage:
    """A message a contact sent to one of our senders, normalised across providers.

    ``kind`` is ``text``, ``image``, ``video``, ``audio``, ``document``, ``sticker``,
    ``location``, ``contacts``, ``button_reply``, ``list_reply``, ``button``,
    ``reaction``, ``order``, ``system``, ``unsupported``, ``flow_reply``, or ``unknown``
    (a kind waport does not know yet: ``payload`` keeps the provider's ``type`` and
    whole object, so nothing is dropped).
    ``payload`` holds the kind's details (media id and MIME, reply id and title,
    emoji and target ...); ``raw`` the provider's own object, for debugging.
    """

    provider: str
    provider_message_id: str
    sender_id: str
    contact: Recipient | None
    """Who wrote (the chat: a phone, or a group). ``None`` when the provider named the
    contact only by an ``alias`` that waport must resolve."""
    received_at: datetime
    kind: str
    text: str | None = None
    contact_name: str | None = None
    reply_to: str | None = None
    """The provider id of the message this one answers, if any."""
    author: Recipient | None = None
    """In a group, the participant who wrote."""
    alias: str | None = None
    """Another id the provider gave this contact (a WhatsApp-Web ``@lid``)."""
    referral: Mapping[str, Any] | None = None
    """The ad or post that started the conversation (Click-to-WhatsApp): its source
    URL, id and type, headline, body, media and ``ctwa_clid``, as the provider gave them."""
    flow_reply: Mapping[str, Any] | None = None
    """What a customer filled in a WhatsApp Flow: ``name``, ``body`` and ``response``
    (the answers, parsed from the provider's JSON)."""
    user_id: str | None = None
    """The writer's business-scoped user id (Meta's BSUID), when the provider gave it."""
    username: str | None = None
    """The writer's WhatsApp username, if they set one (then Meta may withhold the number)."""
    payload: Mapping[str, Any] = attrs.field(factory=dict)
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class StatusUpdate:
    """The provider's word on one of our outbound messages."""

    provider: str
    provider_message_id: str
    status: MessageStatus
    at: datetime
    recipient: str | None = None
    message_id: str | None = None
    """Our message id, when the provider echoes it back (Meta's biz_opaque_callback_data)."""
    error: ErrorDetail | None = None
    pricing: Mapping[str, Any] | None = None
    conversation: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class TemplateUpdate:
    """The provider's word on one of a sender's templates: reviewed (approved, rejected,
    paused, disabled ...), rated, or moved to another category. Only what changed is set."""

    provider: str
    sender_ids: tuple[str, ...]
    """The senders whose catalogue holds it (Meta: every number of the account)."""
    name: str
    language: str
    at: datetime
    provider_id: str | None = None
    status: TemplateStatus | None = None
    quality: str | None = None
    category: TemplateCategory | None = None
    reason: str | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class SenderUpdate:
    """The provider's word on one of our senders: its session (WAHA's ``session.status``),
    its number's quality and messaging limit, or its account (Meta). Only what it said
    is set; ``available`` None leaves the sender's availability as it was."""

    provider: str
    sender_ids: tuple[str, ...]
    """The senders it may concern (Meta: every number of the account, narrowed by ``phone``)."""
    at: datetime
    phone: str | None = None
    """The number it names (Meta names the display number, not its id)."""
    available: bool | None = None
    state: str | None = None
    quality: str | None = None
    messaging_limit: str | None = None
    reason: str | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


ProviderEvent = InboundMessage | StatusUpdate | TemplateUpdate | SenderUpdate


# Outbound webhook event types, per status reached.
STATUS_EVENTS: Final[Mapping[MessageStatus, str]] = {
    MessageStatus.SENT: "message.sent",
    MessageStatus.DELIVERED: "message.delivered",
    MessageStatus.READ: "message.read",
    MessageStatus.PLAYED: "message.read",
    MessageStatus.FAILED: "message.failed",
    MessageStatus.EXPIRED: "message.failed",
}
RECEIVED: Final = "message.received"
REPLY: Final = "message.reply"
MEDIA_READY: Final = "media.ready"
MEDIA_FAILED: Final = "media.failed"
OPTED_OUT: Final = "contact.opted_out"
OPTED_IN: Final = "contact.opted_in"
TEMPLATE_UPDATED: Final = "template.updated"
SENDER_UPDATED: Final = "sender.updated"
EVENT_TYPES: Final = (
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "message.reply",
    "message.received",
    MEDIA_READY,
    MEDIA_FAILED,
    OPTED_OUT,
    OPTED_IN,
    TEMPLATE_UPDATED,
    SENDER_UPDATED,
)


def status_payload(
    *,
    message_id: str,
    status: MessageStatus,
    at: datetime,
    to: Recipient,
    sender_id: str,
    provider_message_id: str | None,
    error: ErrorDetail | None,
    broadcast_id: str | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "message_id": message_id,
        "status": status.value,
        "timestamp": at.isoformat(),
        "to": str(to),
        "sender_id": sender_id,
        "provider_message_id": provider_message_id,
    }
    if broadcast_id:
        data["broadcast_id"] = broadcast_id
    if metadata:
        data["metadata"] = dict(metadata)
    if error is not None:
        data["error"] = {"code": error.code, "message": error.message}
    return data


def writer_details(message: InboundMessage) -> dict[str, Any]:
    """Who wrote, beyond the chat: ``contact`` (``user_id``, ``username``) when the
    provider named them, and ``group`` (``id``, ``participant``) for a group's message."""
    out: dict[str, Any] = {}
    if message.user_id is not None or message.username is not None:
        out["contact"] = {"user_id": message.user_id, "username": message.username}
    if message.contact is not None and message.contact.kind == "group":
        participant = str(message.author) if message.author is not None else None
        out["group"] = {"id": str(message.contact), "participant": participant}
    return out


def inbound_payload(
    *, message_id: str, message: InboundMessage, reply_to_message_id: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "message_id": message_id,
        "from": str(message.contact) if message.contact is not None else message.alias,
        "sender_id": message.sender_id,
        "provider_message_id": message.provider_message_id,
        "timestamp": message.received_at.isoformat(),
        "kind": message.kind,
        "text": message.text,
    }
    if message.contact_name:
        data["contact_name"] = message.contact_name
    if message.author is not None:
        data["author"] = str(message.author)
    if message.payload:
        data["content"] = dict(message.payload)
    if message.referral is not None:
        data["referral"] = dict(message.referral)
    if message.flow_reply is not None:
        data["flow_reply"] = dict(message.flow_reply)
    data.update(writer_details(message))
    if reply_to_message_id is not None:
        data["reply_to_message_id"] = reply_to_message_id
    if message.reply_to is not None:
        data["reply_to_provider_message_id"] = message.reply_to
    return data
