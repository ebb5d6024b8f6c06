"""The REST API's JSON shapes for waport's values."""

from __future__ import annotations

from typing import Any

from waport.domain.attachments import MediaStored
from waport.domain.events import writer_details
from waport.domain.listing import mode_of
from waport.domain.records import ApiKey, Direction, MediaObject, MessageRecord
from waport.domain.render import content_dict
from waport.domain.sources import media_of
from waport.domain.status import UNSENT, ErrorDetail, MessageStatus
from waport.domain.templates import TemplateSpec
from waport.domain.window import WindowStatus
from waport.service.core import BroadcastResult


def error_view(error: ErrorDetail | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message}


def message_view(record: MessageRecord, *, history: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message_id": record.id,
        "direction": record.direction.value,
        "status": record.status.value,
        "sender_id": record.sender_id,
        "provider_message_id": record.provider_message_id,
        "created_at": record.created_at.isoformat(),
        "error": error_view(record.error) if record.status.terminal else None,
    }
    if record.direction == Direction.OUTBOUND:
        out["to"] = str(record.contact)
        if record.message is not None:
            out["mode"] = record.message.mode
            if record.message.scheduled_at is not None:
                out["scheduled_at"] = record.message.scheduled_at.isoformat()
            if record.message.expires_at is not None:
                out["expires_at"] = record.message.expires_at.isoformat()
            if (
                record.status in UNSENT
                and record.due_at is not None
                and record.due_at > record.created_at
            ):
                out["not_before"] = record.due_at.isoformat()  # paced, scheduled or retried
            media = media_of(record.message)
            if media is not None and isinstance(media.source, MediaStored):
                stored = media.source
                out["media"] = {
                    "id": stored.media_id,
                    "mime_type": stored.mime,
                    "size": stored.size,
                    "sha256": stored.sha256,
                }
    else:
        out["from"] = str(record.contact)
        if record.inbound is not None:
            out["mode"] = mode_of(record)
            out["kind"] = record.inbound.kind
            out["text"] = record.inbound.text
            if record.inbound.referral is not None:
                out["referral"] = dict(record.inbound.referral)
            if record.inbound.flow_reply is not None:
                out["flow_reply"] = dict(record.inbound.flow_reply)
            out.update(writer_details(record.inbound))
            if record.inbound.kind == "unknown":
                out["content"] = dict(record.inbound.payload)  # the provider's own object
    if record.erased_at is not None:
        out["erased_at"] = record.erased_at.isoformat()
    if record.broadcast_id:
        out["broadcast_id"] = record.broadcast_id
    if record.metadata:
        out["metadata"] = dict(record.metadata)
    if record.reply_to:
        out["reply_to_message_id"] = record.reply_to
    if history:
        out["attempts"] = record.attempts
        out["history"] = [
            {
                "status": change.status.value,
                "at": change.at.isoformat(),
                **(
                    {
                        "error": {
                            "code": change.error.code,
                            "message": change.error.message,
                            "provider": change.error.provider,
                            "provider_code": change.error.provider_code,
                            "provider_message": change.error.provider_message,
                        }
                    }
                    if change.error
                    else {}
                ),
            }
            for change in record.history
        ]
        if record.message is not None:
            out["content"] = content_dict(record.message.content)
    return out


def send_envelope(record: MessageRecord) -> tuple[int, dict[str, Any]]:
    """200 ``sent`` when the provider accepted at once, 202 ``pending`` when queued."""
    if record.status.final and not record.status.terminal:
        return 200, {"status": "sent", "data": message_view(record)}
    return 202, {"status": "pending", "data": message_view(record)}


def broadcast_view(result: BroadcastResult) -> dict[str, Any]:
    summary = result.summary
    return {
        "broadcast_id": result.broadcast_id,
        "summary": {
            "total": summary.total,
            "sent": summary.sent,
            "pending": summary.pending,
            "failed": summary.failed,
        },
        "results": [
            {
                "message_id": row.id,
                "to": str(row.contact),
                "status": _row_status(row.status),
                "error": error_view(row.error) if row.status.terminal else None,
            }
            for row in result.rows
        ],
    }


def _row_status(status: MessageStatus) -> str:
    if status.terminal:
        return "failed"
    if status is MessageStatus.SCHEDULED:
        return "scheduled"
    return "sent" if status.final else "pending"


def broadcast_envelope(result: BroadcastResult) -> tuple[int, dict[str, Any]]:
    """207 ``partial`` when a row failed, 202 ``pending`` while no row has gone out yet
    (queued, scheduled or paced), 200 ``ok`` otherwise. The rows decide, so a replay
    answered from the stored rows has the first answer's status."""
    summary = result.summary
    view = broadcast_view(result)
    if summary.failed:
        return 207, {"status": "partial", "data": view}
    if not summary.sent:
        return 202, {"status": "pending", "data": view}
    return 200, {"status": "ok", "data": view}


def window_view(answer: WindowStatus) -> dict[str, Any]:
    return {
        "within_window": answer.within_window,
        "reason": answer.reason,
        "last_inbound_at": answer.last_inbound_at.isoformat() if answer.last_inbound_at else None,
        "hours_since_last_inbound": answer.hours_since_last_inbound,
        "expires_at": answer.expires_at.isoformat() if answer.expires_at else None,
    }


def template_view(spec: TemplateSpec) -> dict[str, Any]:
    return {
        "sender_id": spec.sender_id,
        "name": spec.name,
        "language": spec.language,
        "status": spec.status.value,
        "category": spec.category.value,
        "quality": spec.quality,
        "reason": spec.reason,
        "provider_id": spec.provider_id,
        "body": spec.body,
        "params": {
            "body": list(spec.body_params),
            "header": {
                "format": spec.header_format.value if spec.header_format else None,
                "params": list(spec.header_params),
            },
            "buttons": [
                {"index": b.index, "type": b.kind.value, "dynamic": b.dynamic} for b in spec.buttons
            ],
        },
    }


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "workspace_id": key.workspace_id,
        "scopes": sorted(key.scopes),
        "senders": sorted(key.senders) if key.senders is not None else None,
        "rate_per_minute": key.rate_per_minute,
        "label": key.label,
        "hint": key.hint,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def media_view(found: MediaObject) -> dict[str, object]:
    return {
        "media_id": found.id,
        "mime_type": found.mime_type,
        "size": found.size,
        "sha256": found.sha256,
        "filename": found.filename,
        "created_at": found.created_at.isoformat().replace("+00:00", "Z"),
    }


def page_body(data: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """A listing's answer: the page's items and the cursor of the next (null: the last)."""
    return {"status": "ok", "data": data, "next_cursor": next_cursor}
