"""WAHA's wire format: request bodies for its HTTP API, and its webhook envelope.

chatId, session, ack levels and ``@lid`` appear only here. Provider message ids are
kept in one canonical form, the bare WhatsApp id (``3EB0C767D71D...``), because WAHA
serialises one message differently per chat spelling (``true_123@c.us_ID`` vs
``true_456@lid_ID``); the bare id lets duplicate events collapse into one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, ProviderEvent, SenderUpdate, StatusUpdate
from waport.domain.limits import MediaKind
from waport.domain.media import kind_from_mime
from waport.domain.messages import (
    ButtonsMessage,
    CallButton,
    ContactCards,
    CopyButton,
    ListMessage,
    Location,
    Media,
    MediaData,
    MediaStream,
    MediaUrl,
    OutboundMessage,
    Reaction,
    ReplyButton,
    Text,
    UrlButton,
)
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.status import ErrorDetail, MessageStatus

log = logging.getLogger("waport.web")
PROVIDER: Final = "web"
_USER_JID: Final = re.compile(r"([1-9][0-9]{7,14})@(c\.us|s\.whatsapp\.net)")
ACKS: Final[Mapping[int, MessageStatus | None]] = {
    -1: MessageStatus.FAILED,
    0: None,  # PENDING: not yet on WhatsApp's server
    1: MessageStatus.SENT,
    2: MessageStatus.DELIVERED,
    3: MessageStatus.READ,
    4: MessageStatus.PLAYED,
}

WORKING: Final = "WORKING"
"""The one WAHA session status in which a session can send."""


def chat_id(recipient: Recipient) -> str:
    """A recipient as a WAHA chatId: ``<digits>@c.us``, or the group / channel JID."""
    return f"{recipient.value}@c.us" if recipient.kind == "phone" else recipient.value


def bare_id(message_id: str) -> str:
    """The WhatsApp id inside a WAHA message id (``{fromMe}_{chatId}_{id}[_{participant}]``)."""
    parts = message_id.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):  # noqa: PLR2004 - fromMe, chat, id
        return parts[2]
    return message_id


STREAMED: Final = "<waport: the media's base64, streamed>"
"""Stands for a ``MediaStream``'s base64 in a request body until it is sent."""


def client_message_id(client_id: str) -> str:
    """A stable WhatsApp-style id for a waport message, so a retry re-uses it."""
    return "3EB0" + hashlib.sha256(client_id.encode()).hexdigest()[:28].upper()


def _file(media: Media) -> dict[str, Any]:
    source = media.source
    mimetype = (
        media.mime
        or {
            MediaKind.IMAGE: "image/jpeg",
            MediaKind.VIDEO: "video/mp4",
            MediaKind.AUDIO: "audio/ogg; codecs=opus",
            MediaKind.DOCUMENT: "application/octet-stream",
            MediaKind.STICKER: "image/webp",
        }[media.kind]
    )
    out: dict[str, Any] = {"mimetype": mimetype}
    if isinstance(source, MediaUrl):
        out["url"] = source.url
    elif isinstance(source, MediaData | MediaStream):
        import base64

        out["data"] = (
            STREAMED
            if isinstance(source, MediaStream)  # spliced in while the body is sent
            else base64.b64encode(source.data).decode("ascii")
        )
        out["filename"] = media.filename or f"file.{media.kind.value}"
    else:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED,
            "WhatsApp-Web sends media by URL or inline data, not by provider media id",
            "media.id",
        )
    if media.filename and "filename" not in out:
        out["filename"] = media.filename
    return out


VOICE_PATH: Final = "/api/sendVoice"
_MEDIA_ENDPOINTS: Final[Mapping[MediaKind, str]] = {
    MediaKind.IMAGE: "/api/sendImage",
    MediaKind.DOCUMENT: "/api/sendFile",
    MediaKind.AUDIO: VOICE_PATH,
    MediaKind.VIDEO: "/api/sendVideo",
}


def _vcard(card: Any) -> dict[str, Any]:
    phone = card.phones[0] if card.phones else None
    out: dict[str, Any] = {
        "fullName": card.name.formatted_name,
        "phoneNumber": phone.phone if phone else "",
    }
    if card.org is not None and card.org.company:
        out["organization"] = card.org.company
    if phone is not None and phone.wa_id:
        out["whatsappId"] = phone.wa_id
    return out


def _button(button: Any) -> dict[str, Any]:
    if isinstance(button, ReplyButton):
        return {"type": "reply", "text": button.title, "id": button.id}
    if isinstance(button, UrlButton):
        return {"type": "url", "text": button.title, "url": button.url}
    if isinstance(button, CallButton):
        return {"type": "call", "text": button.title, "phoneNumber": button.phone}
    if isinstance(button, CopyButton):
        return {"type": "copy", "text": button.title, "copyCode": button.code}
    raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "unknown button")  # pragma: no cover


def request_for(
    message: OutboundMessage,
    *,
    session: str,
    client_id: str,
    reply_to: str | None,
    message_ids: bool,
) -> tuple[str, str, dict[str, Any]]:
    """(method, path, body) of the WAHA call that sends ``message``."""
    content = message.content
    body: dict[str, Any] = {"session": session, "chatId": chat_id(message.to)}
    if reply_to is not None:
        body["reply_to"] = reply_to
    pregenerated = client_message_id(client_id) if message_ids else None
    if isinstance(content, Text):
        body["text"] = content.body
        body["linkPreview"] = content.preview_url
        if pregenerated:
            body["id"] = pregenerated
        return "POST", "/api/sendText", body
    if isinstance(content, Media):
        endpoint = _MEDIA_ENDPOINTS.get(content.kind)
        if endpoint is None:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"WhatsApp-Web cannot send {content.kind} media",
                "media.type",
            )
        body["file"] = _file(content)
        if content.caption is not None:
            body["caption"] = content.caption
        if content.kind in (MediaKind.AUDIO, MediaKind.VIDEO):
            body["convert"] = (
                content.kind == MediaKind.AUDIO and "ogg" not in body["file"]["mimetype"]
            )
        return "POST", endpoint, body
    if isinstance(content, Location):
        body.update(
            latitude=content.latitude,
            longitude=content.longitude,
            title=content.name or content.address or "",
        )
        if pregenerated:
            body["id"] = pregenerated
        return "POST", "/api/sendLocation", body
    if isinstance(content, ContactCards):
        body["contacts"] = [_vcard(card) for card in content.cards]
        if pregenerated:
            body["id"] = pregenerated
        return "POST", "/api/sendContactVcard", body
    if isinstance(content, Reaction):
        target = content.message_id
        if not target.startswith(("true_", "false_")):
            target = f"false_{chat_id(message.to)}_{target}"  # WAHA wants the serialised id
        return (
            "PUT",
            "/api/reaction",
            {"session": session, "messageId": target, "reaction": content.emoji},
        )
    if isinstance(content, ButtonsMessage):
        header = getattr(content.header, "text", "") if content.header is not None else ""
        body.update(
            header=header,
            body=content.body,
            footer=content.footer or "",
            buttons=[_button(b) for b in content.buttons],
        )
        return "POST", "/api/sendButtons", body
    if isinstance(content, ListMessage):
        body["message"] = {
            "title": content.header.text if content.header else "",
            "description": content.body,
            "footer": content.footer or "",
            "button": content.button,
            "sections": [
                {
                    "title": section.title or "",
                    "rows": [
                        {
                            "title": row.title,
                            "rowId": row.id,
                            **({"description": row.description} if row.description else {}),
                        }
                        for row in section.rows
                    ],
                }
                for section in content.sections
            ],
        }
        return "POST", "/api/sendList", body
    raise WaportError(
        ErrorCode.FEATURE_NOT_SUPPORTED,
        f"WhatsApp-Web cannot send {message.mode} messages",
        message.mode,
    )


def sent_id(body: Any, fallback: str | None) -> str | None:
    """The bare id of a sent message, read defensively from any engine's answer."""
    if isinstance(body, Mapping):
        value = body.get("id")
        if isinstance(value, str) and value:
            return bare_id(value)
        if isinstance(value, Mapping):
            if isinstance(value.get("_serialized"), str):
                return bare_id(value["_serialized"])
            if isinstance(value.get("id"), str):
                return str(value["id"])
        key = body.get("key")
        if isinstance(key, Mapping) and isinstance(key.get("id"), str):
            return str(key["id"])
    return fallback


# ----------------------------------------------------------------------------- webhooks


def _recipient(jid: Any) -> tuple[Recipient | None, str | None]:
    """A chat id as (recipient, alias): ``@lid`` ids are aliases waport must resolve."""
    if not isinstance(jid, str) or not jid:
        return None, None
    if jid.endswith("@lid"):
        return None, jid
    try:
        return parse_recipient(jid, param="from"), None
    except WaportError:
        return None, None


def _phone_behind(payload: Mapping[str, Any]) -> Recipient | None:
    """The phone number an event reveals beside an ``@lid`` (engine-specific fields)."""
    data = payload.get("_data")
    candidates: list[Any] = []
    if isinstance(data, Mapping):
        key = data.get("key")
        if isinstance(key, Mapping):
            candidates += [key.get("remoteJidAlt"), key.get("participantAlt"), key.get("senderPn")]
        candidates += [data.get("senderPn"), data.get("remoteJidAlt")]
    for candidate in candidates:
        if isinstance(candidate, str) and (match := _USER_JID.fullmatch(candidate)):
            return Recipient("phone", match.group(1))
    return None


def _seconds(value: Any, fallback_ms: Any, received: datetime | None = None) -> datetime:
    """The event's time: its own, else the envelope's, else when it was received (a
    delivery receipt without a time is still a receipt)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(float(value), UTC)
    if (
        isinstance(fallback_ms, int | float)
        and not isinstance(fallback_ms, bool)
        and fallback_ms > 0
    ):
        return datetime.fromtimestamp(float(fallback_ms) / 1000, UTC)
    if received is not None:
        return received
    raise ValueError("no timestamp")


def _kind(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    media = payload.get("media")
    # a media object says it (some engines leave hasMedia out); hasMedia false says not
    if payload.get("hasMedia", True) and isinstance(media, Mapping) and media:
        mime = str(media.get("mimetype") or "application/octet-stream")
        # named as the Cloud API names them, so both providers' events read alike
        details = {
            ours: media[theirs]
            for theirs, ours in (
                ("url", "url"),
                ("mimetype", "mime_type"),
                ("filename", "filename"),
            )
            if media.get(theirs)
        }
        return kind_from_mime(mime).value, details
    if isinstance(payload.get("location"), Mapping):
        return "location", dict(payload["location"])
    if payload.get("vCards"):
        return "contacts", {"vcards": payload["vCards"]}
    return "text", {}


def parse_envelope(envelope: Any, received: datetime | None = None) -> list[ProviderEvent]:
    """The events of one WAHA webhook envelope (``{event, session, payload, ...}``);
    ``received``: when it arrived, the time of an event that carries none."""
    if (
        not isinstance(envelope, Mapping)
        or not isinstance(envelope.get("event"), str)
        or not isinstance(envelope.get("payload"), Mapping)
    ):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "not a WAHA webhook envelope")
    event = envelope["event"]
    session = str(envelope.get("session") or "default")
    payload = envelope["payload"]
    try:
        if event in ("message", "message.any"):
            if payload.get("fromMe"):
                return []
            return [_inbound(payload, session, envelope.get("timestamp"))]
        if event == "message.reaction":
            if payload.get("fromMe"):
                return []
            return [_reaction(payload, session, envelope.get("timestamp"))]
        if event == "message.ack":
            update = _ack(payload, envelope.get("timestamp"), received)
            return [update] if update is not None else []
        if event == "session.status":
            return [_session(payload, session, envelope.get("timestamp"), received)]
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        log.warning("skipped an unreadable %s event: %s", event, type(exc).__name__)
    return []


def _inbound(payload: Mapping[str, Any], session: str, stamp: Any) -> InboundMessage:
    chat, alias = _recipient(payload["from"])
    author, author_alias = (
        _recipient(payload.get("participant")) if payload.get("participant") else (None, None)
    )
    if chat is None and alias is not None:
        chat = _phone_behind(payload)
    kind, details = _kind(payload)
    reply = payload.get("replyTo")
    reply_to = (
        bare_id(str(reply.get("id"))) if isinstance(reply, Mapping) and reply.get("id") else None
    )
    body = payload.get("body")
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=bare_id(str(payload["id"])),
        sender_id=session,
        contact=chat,
        alias=alias or author_alias,
        received_at=_seconds(payload.get("timestamp"), stamp),
        kind=kind,
        text=str(body) if isinstance(body, str) and body else None,
        author=author,
        reply_to=reply_to,
        payload=details,
        raw=payload,
    )


def _reaction(payload: Mapping[str, Any], session: str, stamp: Any) -> InboundMessage:
    chat, alias = _recipient(payload["from"])
    if chat is None and alias is not None:
        chat = _phone_behind(payload)
    found = payload.get("reaction")
    reaction: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    target = reaction.get("messageId")
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=bare_id(str(payload["id"])),
        sender_id=session,
        contact=chat,
        alias=alias,
        received_at=_seconds(payload.get("timestamp"), stamp),
        kind="reaction",
        text=None,
        reply_to=bare_id(str(target)) if target else None,
        payload={
            "emoji": reaction.get("text", ""),
            "message_id": bare_id(str(target)) if target else None,
        },
        raw=payload,
    )


def _session(
    payload: Mapping[str, Any], session: str, stamp: Any, received: datetime | None
) -> SenderUpdate:
    """``session.status``: a session sends only while ``WORKING`` (``STARTING``,
    ``SCAN_QR_CODE``, ``FAILED`` and ``STOPPED`` cannot)."""
    status = payload["status"]
    if not isinstance(status, str) or not status:
        raise TypeError("a session status is a string")
    return SenderUpdate(
        provider=PROVIDER,
        sender_ids=(session,),
        at=_seconds(None, stamp, received),
        available=status == WORKING,
        state=status,
        raw=payload,
    )


def _ack(
    payload: Mapping[str, Any], stamp: Any, received: datetime | None = None
) -> StatusUpdate | None:
    if not payload.get("fromMe", True):
        return None
    ack = payload["ack"]
    if isinstance(ack, bool) or not isinstance(ack, int) or ack not in ACKS:
        raise ValueError("unknown ack")
    status = ACKS[ack]
    if status is None:
        return None
    error = None
    if status == MessageStatus.FAILED:
        error = ErrorDetail(
            code=ErrorCode.PROVIDER_REJECTED,
            message="WhatsApp-Web reported a delivery error",
            provider=PROVIDER,
            provider_code=str(payload.get("ackName") or "ERROR"),
        )
    return StatusUpdate(
        provider=PROVIDER,
        provider_message_id=bare_id(str(payload["id"])),
        status=status,
        at=_seconds(payload.get("timestamp"), stamp, received),
        recipient=str(payload.get("to") or "") or None,
        error=error,
        raw=payload,
    )
