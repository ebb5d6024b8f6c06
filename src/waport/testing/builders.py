"""Builders for records the contract suites and harnesses need."""

from __future__ import annotations

from datetime import datetime, timedelta

from waport.domain.events import InboundMessage
from waport.domain.messages import OutboundMessage, Text
from waport.domain.recipients import Recipient
from waport.domain.records import Direction, IdempotencyRecord, MessageRecord
from waport.domain.status import MessageStatus, StatusChange


def outbound(
    message_id: str,
    *,
    at: datetime,
    to: str = "255712345678",
    workspace_id: str = "ws1",
    sender_id: str = "s1",
    webhook_url: str | None = "https://hooks.example.com/wa",
    status: MessageStatus = MessageStatus.PENDING,
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    broadcast_id: str | None = None,
    initiated: bool = False,
    category: str = "SERVICE",
) -> MessageRecord:
    recipient = Recipient("phone", to)
    return MessageRecord(
        id=message_id,
        workspace_id=workspace_id,
        sender_id=sender_id,
        contact=recipient,
        direction=Direction.OUTBOUND,
        status=status,
        history=(StatusChange(status=status, at=at),),
        created_at=at,
        message=OutboundMessage(
            to=recipient, content=Text("hello"), sender_id=sender_id, expires_at=expires_at
        ),
        broadcast_id=broadcast_id,
        category=category,
        initiated=initiated,
        due_at=due_at if due_at is not None else at,
        webhook_url=webhook_url,
    )


def inbound(
    message_id: str,
    *,
    at: datetime,
    provider_message_id: str,
    contact: str = "255712345678",
    workspace_id: str = "ws1",
    sender_id: str = "s1",
    provider: str = "test",
    webhook_url: str | None = "https://hooks.example.com/wa",
) -> MessageRecord:
    recipient = Recipient("phone", contact)
    event = InboundMessage(
        provider=provider,
        provider_message_id=provider_message_id,
        sender_id=sender_id,
        contact=recipient,
        received_at=at,
        kind="text",
        text="hi",
    )
    return MessageRecord(
        id=message_id,
        workspace_id=workspace_id,
        sender_id=sender_id,
        contact=recipient,
        direction=Direction.INBOUND,
        status=MessageStatus.DELIVERED,
        history=(StatusChange(status=MessageStatus.DELIVERED, at=at),),
        created_at=at,
        inbound=event,
        provider=provider,
        provider_message_id=provider_message_id,
        webhook_url=webhook_url,
    )


def idempotency(
    scope: str,
    key: str,
    *,
    at: datetime,
    ttl: timedelta = timedelta(hours=24),
    fingerprint: str = "f",
) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        created_at=at,
        expires_at=at + ttl,
        locked_until=at + timedelta(seconds=30),
    )
