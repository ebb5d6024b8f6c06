"""The sandbox's own webhook body: ``{"events": [...]}``, each a status or a text a
contact wrote, with its time (zoned)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, ProviderEvent, StatusUpdate
from waport.domain.recipients import parse_recipient
from waport.domain.status import MessageStatus


def event_from_json(item: Mapping[str, Any]) -> ProviderEvent:
    at = datetime.fromisoformat(item["at"])
    if at.tzinfo is None:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "sandbox event times carry a zone")
    if item["kind"] == "status":
        return StatusUpdate(
            provider="sandbox",
            provider_message_id=str(item["provider_message_id"]),
            status=MessageStatus(item["status"]),
            at=at,
            message_id=item.get("message_id"),
        )
    if item["kind"] == "inbound":
        return InboundMessage(
            provider="sandbox",
            provider_message_id=str(item["provider_message_id"]),
            sender_id=str(item["sender_id"]),
            contact=parse_recipient(item["from"]),
            received_at=at,
            kind="text",
            text=str(item.get("text", "")),
        )
    raise WaportError(ErrorCode.VALIDATION_FAILED, "unknown sandbox event kind")
