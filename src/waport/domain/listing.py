"""Listing messages: the filters of ``GET /v1/messages``, parsed and checked, and the
opaque cursor that walks them newest first.

Messages are ordered by (created time, id), newest first. A cursor names the last
message a page showed, and the next page is what comes strictly after it in that
order, so a walk never shows a message twice, and messages that arrive meanwhile
(newer) never shift it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.messages import MODES
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import MessageRecord
from waport.domain.status import MessageStatus

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_LIMIT: Final = 50
CURSOR_MAX: Final = 400
"""No cursor this API gives is longer."""
MAX_LIMIT: Final = 200
FILTERS: Final = (
    "contact", "sender_id", "direction", "status", "mode", "broadcast_id", "since", "until",
    "limit", "cursor",
)  # fmt: skip
DIRECTIONS: Final = ("inbound", "outbound")
INBOUND_MODES: Final[Mapping[str, str]] = {
    "image": "media",
    "video": "media",
    "audio": "media",
    "document": "media",
    "sticker": "media",
    "button_reply": "interactive",
    "list_reply": "interactive",
    "button": "interactive",
}
"""An inbound message's kind as the mode it would be sent in (others: the kind itself)."""


def pack(*parts: object) -> str:
    """An opaque cursor of ``parts`` (URL-safe; what ``unpack`` reads back)."""
    raw = ":".join(str(part) for part in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unpack(text: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor ``pack`` made (the last may hold ``:``);
    ``INVALID_CURSOR`` naming ``cursor`` for anything else."""
    refused = WaportError(ErrorCode.INVALID_CURSOR, "not a cursor this API gave", "cursor")
    if len(text) > CURSOR_MAX:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise refused from None
    parts = raw.split(":", count - 1)
    if len(parts) != count or not parts[-1]:
        raise refused
    return parts


def mode_of(record: MessageRecord) -> str:
    """The mode a message is listed under: its own (outbound) or its kind's (inbound)."""
    if record.message is not None:
        return record.message.mode
    if record.inbound is not None:
        return INBOUND_MODES.get(record.inbound.kind, record.inbound.kind)
    return ""


@attrs.frozen(kw_only=True)
class Cursor:
    """Where a page ended: the last message it showed."""

    created_us: int
    message_id: str

    @property
    def key(self) -> tuple[int, str]:
        return self.created_us, self.message_id

    @classmethod
    def at(cls, record: MessageRecord) -> Cursor:
        """The cursor just past ``record`` (its place in listings)."""
        micros = (record.created_at - EPOCH) // timedelta(microseconds=1)
        return cls(created_us=micros, message_id=record.id)

    def encode(self) -> str:
        return pack(self.created_us, self.message_id)

    @classmethod
    def decode(cls, text: str) -> Cursor:
        created, message_id = unpack(text, 2)
        if not created.isdigit():
            raise WaportError(ErrorCode.INVALID_CURSOR, "not a cursor this API gave", "cursor")
        return cls(created_us=int(created), message_id=message_id)


@attrs.frozen(kw_only=True)
class MessageQuery:
    """One page of a workspace's messages, filtered."""

    workspace_id: str
    senders: frozenset[str] | None = None
    """The senders the caller may see (a number-scoped key); None: all."""
    contact: Recipient | None = None
    sender_id: str | None = None
    direction: str | None = None
    status: MessageStatus | None = None
    mode: str | None = None
    broadcast_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"{name} must be an ISO 8601 time", name
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _one_of(params: Mapping[str, str], name: str, allowed: Collection[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"{name} must be one of {', '.join(sorted(allowed))}",
            name,
        )
    return value


def page_params(params: Mapping[str, str], known: Collection[str]) -> int:
    """Check a listing's query string: only ``known`` parameters, and ``limit`` from 1 to
    ``MAX_LIMIT`` (default ``DEFAULT_LIMIT``). The page size."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"unknown parameter {unknown[0]!r}; known: {', '.join(known)}",
            unknown[0],
        )
    limit = params.get("limit", str(DEFAULT_LIMIT))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise WaportError(ErrorCode.VALIDATION_FAILED, f"limit must be 1 to {MAX_LIMIT}", "limit")
    return int(limit)


def parse_message_query(
    params: Mapping[str, str], *, workspace_id: str, senders: frozenset[str] | None = None
) -> MessageQuery:
    """The query string of ``GET /v1/messages`` as a query (``VALIDATION_FAILED`` naming
    the parameter for anything it cannot mean)."""
    limit = page_params(params, FILTERS)
    status = _one_of(params, "status", [s.value for s in MessageStatus])
    contact = params.get("contact")
    since, until = _time(params, "since"), _time(params, "until")
    if since is not None and until is not None and until < since:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "until is before since", "until")
    cursor = params.get("cursor")
    return MessageQuery(
        workspace_id=workspace_id,
        senders=senders,
        contact=parse_recipient(contact, param="contact") if contact is not None else None,
        sender_id=params.get("sender_id"),
        direction=_one_of(params, "direction", DIRECTIONS),
        status=MessageStatus(status) if status is not None else None,
        mode=_one_of(params, "mode", MODES),
        broadcast_id=params.get("broadcast_id"),
        since=since,
        until=until,
        limit=limit,
        after=Cursor.decode(cursor) if cursor else None,
    )


# ----------------------------------------------------------------------------- conversations

CONVERSATION_FILTERS: Final = ("sender_id", "limit", "cursor")
READ_STATUSES: Final = frozenset({MessageStatus.READ, MessageStatus.PLAYED})


@attrs.frozen(kw_only=True)
class ConversationCursor:
    """Where a page of conversations ended: its last row's activity and key."""

    last_us: int
    contact: str
    sender_id: str

    @property
    def key(self) -> tuple[int, str, str]:
        return self.last_us, self.contact, self.sender_id

    def encode(self) -> str:
        return pack(self.last_us, self.sender_id, self.contact)

    @classmethod
    def decode(cls, text: str) -> ConversationCursor:
        last, sender_id, contact = unpack(text, 3)
        if not last.isdigit():
            raise WaportError(ErrorCode.INVALID_CURSOR, "not a cursor this API gave", "cursor")
        return cls(last_us=int(last), contact=contact, sender_id=sender_id)


@attrs.frozen(kw_only=True)
class ConversationQuery:
    workspace_id: str
    senders: frozenset[str] | None = None
    sender_id: str | None = None
    limit: int = DEFAULT_LIMIT
    after: ConversationCursor | None = None


@attrs.frozen(kw_only=True)
class Conversation:
    """One contact with one sender: the latest message either way, and how many inbound
    messages came after the newest one marked read."""

    contact: str
    sender_id: str
    last: MessageRecord
    unread: int

    @property
    def cursor(self) -> ConversationCursor:
        last_us = (self.last.created_at - EPOCH) // timedelta(microseconds=1)
        return ConversationCursor(last_us=last_us, contact=self.contact, sender_id=self.sender_id)


def unread_count(chat: Iterable[MessageRecord]) -> int:
    """The inbound messages of a chat after the newest one marked read (marking one read
    reads the ones before it, as WhatsApp does)."""
    inbound = [m for m in chat if m.inbound is not None]
    read = [m.created_at for m in inbound if m.status in READ_STATUSES]
    seen = max(read, default=None)
    return sum(1 for m in inbound if seen is None or m.created_at > seen)


def parse_conversation_query(
    params: Mapping[str, str], *, workspace_id: str, senders: frozenset[str] | None = None
) -> ConversationQuery:
    limit = page_params(params, CONVERSATION_FILTERS)
    cursor = params.get("cursor")
    return ConversationQuery(
        workspace_id=workspace_id,
        senders=senders,
        sender_id=params.get("sender_id"),
        limit=limit,
        after=ConversationCursor.decode(cursor) if cursor else None,
    )


def summary(record: MessageRecord, length: int = 100) -> str:
    """A line that says what a message was (a conversation's last message)."""
    if record.erased_at is not None:
        said = "[erased]"
    elif record.inbound is not None:
        said = record.inbound.text or f"[{record.inbound.kind}]"
    elif record.message is not None:
        content = record.message.content
        body = getattr(content, "body", None) or getattr(content, "caption", None)
        name = getattr(content, "name", None)
        if isinstance(body, str):
            said = body
        elif record.message.mode == "template" and isinstance(name, str):
            said = f"[template {name}]"
        else:
            said = f"[{record.message.mode}]"
    else:
        said = ""
    return said if len(said) <= length else said[: length - 1] + "…"
