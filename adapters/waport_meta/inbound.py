"""Reading Meta's inbound messages (the ``messages`` of a webhook's ``value``) into
``InboundMessage``: every documented kind, the ad referral that started a chat, a Flow's
answers, and any kind not known yet kept whole (``kind: "unknown"``), never dropped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from waport.domain.events import InboundMessage
from waport.domain.recipients import GROUP_PREFIX, Recipient, parse_recipient

PROVIDER: Final = "meta"

_MEDIA_KINDS: Final = ("image", "video", "audio", "document", "sticker")
_KNOWN_KINDS: Final = frozenset(
    {
        "text",
        *_MEDIA_KINDS,
        "interactive",
        "button",
        "reaction",
        "location",
        "contacts",
        "order",
        "system",
        "unsupported",
        "request_welcome",
        "edit",
        "revoke",
    }
)
_REFERRAL_FIELDS: Final = (
    "source_url",
    "source_id",
    "source_type",
    "headline",
    "body",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
    "ctwa_clid",
)


def _flow_reply(reply: Mapping[str, Any]) -> dict[str, Any]:
    """An ``nfm_reply``: the flow's name, the text shown, and the answers (Meta sends them
    as a JSON string; kept as given when it is not JSON)."""
    answers: Any = reply.get("response_json")
    if isinstance(answers, str):
        with contextlib.suppress(ValueError):
            answers = json.loads(answers)
    return {"name": reply.get("name"), "body": reply.get("body"), "response": answers}


def at_time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _writer(
    message: Mapping[str, Any], people: Mapping[str, Mapping[str, Any]]
) -> tuple[Recipient, Mapping[str, Any], str | None]:
    """Who wrote: their number, else (a user who shows a username) their business-scoped
    user id; the ``contacts`` entry that names them; and that user id."""
    number = message.get("from")
    user_id = message.get("from_user_id")
    person = people.get(str(number)) or people.get(str(user_id)) or {}
    user_id = user_id or person.get("user_id")
    if number:
        writer = parse_recipient(str(number), param="from")
    else:
        writer = parse_recipient(str(user_id), param="from_user_id")
        if writer.kind != "user":
            raise ValueError("a message without a number names its writer by user id")
    return writer, person, str(user_id) if user_id else None


def inbound(
    message: Mapping[str, Any], *, sender_id: str, people: Mapping[str, Mapping[str, Any]]
) -> InboundMessage:
    """One inbound message; ``people`` maps a number or user id to its ``contacts`` entry
    (profile name, username, user id). A Groups API message (``group_id``) is the group's,
    written by the participant: it opens no 1:1 window."""
    kind = str(message["type"])
    writer, person, user_id = _writer(message, people)
    contact, author = writer, None
    if message.get("group_id"):
        contact, author = parse_recipient(f"{GROUP_PREFIX}{message['group_id']}"), writer
    given = person.get("profile")
    profile: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    text: str | None = None
    payload: dict[str, Any] = {}
    flow: dict[str, Any] | None = None
    body = message.get(kind)
    if kind == "text" and isinstance(body, Mapping):
        text = str(body.get("body", ""))
    elif kind in _MEDIA_KINDS and isinstance(body, Mapping):
        payload = {
            k: body[k]
            for k in ("id", "mime_type", "sha256", "filename", "voice", "animated", "url")
            if k in body
        }
        text = str(body["caption"]) if "caption" in body else None
    elif kind == "interactive" and isinstance(body, Mapping):
        reply_type = str(body.get("type", ""))
        reply = body.get(reply_type)
        if reply_type == "nfm_reply" and isinstance(reply, Mapping):
            kind = "flow_reply"
            flow = _flow_reply(reply)
            text = str(flow["body"]) if flow["body"] else None
        elif isinstance(reply, Mapping):
            kind = reply_type
            payload = {k: reply[k] for k in ("id", "title", "description") if k in reply}
            text = str(reply.get("title", "")) or None
    elif kind == "button" and isinstance(body, Mapping):
        payload = {"payload": body.get("payload")}
        text = str(body.get("text", "")) or None
    elif kind == "reaction" and isinstance(body, Mapping):
        payload = {"message_id": body.get("message_id"), "emoji": body.get("emoji", "")}
    elif kind == "location" and isinstance(body, Mapping):
        payload = {
            k: body[k] for k in ("latitude", "longitude", "name", "address", "url") if k in body
        }
    elif kind in ("contacts", "order", "system") and body is not None:
        payload = {kind: body}
        if kind == "system" and isinstance(body, Mapping):
            text = str(body.get("body", "")) or None
    elif kind == "edit" and isinstance(body, Mapping):  # the writer changed a message
        kind, edited = "edited", body.get("message")
        payload = {"original_message_id": body.get("original_message_id"), "message": edited}
        if isinstance(edited, Mapping):
            new = edited.get(str(edited.get("type", "")))
            if isinstance(new, Mapping) and (new.get("body") or new.get("caption")):
                text = str(new.get("body") or new.get("caption"))
    elif kind == "revoke" and isinstance(body, Mapping):  # ... or deleted it for everyone
        kind, payload = "revoked", {"original_message_id": body.get("original_message_id")}
    elif kind == "unsupported":
        errors = message.get("errors") or []
        payload = {"errors": [e.get("code") for e in errors if isinstance(e, Mapping)]}
    elif kind not in _KNOWN_KINDS:  # kept whole, never dropped
        payload = {"type": kind, "object": dict(message)}
        kind = "unknown"
    referral = message.get("referral")
    context = message.get("context")
    reply_to = str(context["id"]) if isinstance(context, Mapping) and context.get("id") else None
    return InboundMessage(
        provider=PROVIDER,
        provider_message_id=str(message["id"]),
        sender_id=sender_id,
        contact=contact,
        received_at=at_time(message["timestamp"]),
        kind=kind,
        text=text,
        contact_name=str(profile["name"]) if profile.get("name") else None,
        author=author,
        user_id=user_id,
        username=str(profile["username"]) if profile.get("username") else None,
        reply_to=reply_to,
        referral=(
            {k: referral[k] for k in _REFERRAL_FIELDS if k in referral}
            if isinstance(referral, Mapping)
            else None
        ),
        flow_reply=flow,
        payload=payload,
        raw=message,
    )
