"""Events in = events out: any webhook body built from Meta's documented shapes (every
inbound message type, a user known only by id, a group's message, statuses, template
and account changes, across several entries and changes) parses into exactly one event
per item, in order, none dropped and none invented."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from waport.domain.events import InboundMessage, SenderUpdate, StatusUpdate, TemplateUpdate
from waport.testing import FakeClock
from waport_meta.fake import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, sign
from waport_meta.provider import MetaCloudProvider

NUMBER = "16505551234"
BSUID = "US.13491208655302741918"
SHAPES: dict[str, dict[str, Any]] = {
    "text": {"text": {"body": "hi"}},
    "image": {"image": {"id": "1", "mime_type": "image/jpeg", "sha256": "x", "caption": "c"}},
    "audio": {"audio": {"id": "2", "mime_type": "audio/ogg", "voice": True}},
    "document": {"document": {"id": "3", "mime_type": "application/pdf", "filename": "a.pdf"}},
    "sticker": {"sticker": {"id": "4", "mime_type": "image/webp", "animated": False}},
    "video": {"video": {"id": "5", "mime_type": "video/mp4"}},
    "location": {"location": {"latitude": 1.5, "longitude": 2.5, "name": "Shop"}},
    "contacts": {"contacts": [{"name": {"formatted_name": "Ana"}, "phones": []}]},
    "interactive": {
        "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Yes"}}
    },
    "list": {"interactive": {"type": "list_reply", "list_reply": {"id": "r", "title": "Row"}}},
    "flow": {
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"a": 1}'},
        }
    },
    "button": {"button": {"payload": "p", "text": "Stop"}},
    "reaction": {"reaction": {"message_id": "wamid.X", "emoji": "👍"}},
    "order": {"order": {"catalog_id": "c", "product_items": []}},
    "system": {
        "system": {"body": "changed", "wa_id": "16505550000", "type": "user_changed_number"}
    },
    "unsupported": {"errors": [{"code": 131051, "title": "Message type unknown"}]},
    "request_welcome": {},
    "edit": {
        "edit": {
            "original_message_id": "wamid.O",
            "message": {"type": "text", "text": {"body": "fixed"}},
        }
    },
    "revoke": {"revoke": {"original_message_id": "wamid.O"}},
    "poll_vote": {"poll_vote": {"option": "B"}},  # a type waport does not know: kept whole
}
TYPE_OF = {"list": "interactive", "flow": "interactive"}
KIND_OF = {
    "interactive": "button_reply",
    "list": "list_reply",
    "flow": "flow_reply",
    "edit": "edited",
    "revoke": "revoked",
    "poll_vote": "unknown",
}
"""The kind waport gives each shape (the rest keep Meta's type)."""


@st.composite
def messages(draw: st.DrawFn, n: int) -> dict[str, Any]:
    shape = draw(st.sampled_from(sorted(SHAPES)))
    message: dict[str, Any] = {
        "_kind": KIND_OF.get(shape, shape),
        "id": f"wamid.IN{n}",
        "timestamp": "1767000000",
        "type": TYPE_OF.get(shape, shape),
        **SHAPES[shape],
    }
    who = draw(st.sampled_from(["number", "user", "group"]))
    if who == "user":
        message["from_user_id"] = BSUID
    else:
        message["from"] = NUMBER
    if who == "group":
        message["group_id"] = "Y2FwaV9ncm91cDox"
    return message


@st.composite
def statuses(draw: st.DrawFn, n: int) -> dict[str, Any]:
    status = draw(st.sampled_from(["sent", "delivered", "read", "failed"]))
    item: dict[str, Any] = {
        "id": f"wamid.OUT{n}",
        "status": status,
        "timestamp": "1767000000",
        "recipient_id": NUMBER,
    }
    if status == "failed":
        item["errors"] = [{"code": 131047, "title": "Re-engagement message"}]
    return item


ACCOUNT = [
    (
        "message_template_status_update",
        {
            "event": "APPROVED",
            "message_template_id": 1,
            "message_template_name": "a",
            "message_template_language": "en",
        },
    ),
    ("phone_number_quality_update", {"display_phone_number": "1555", "event": "FLAGGED"}),
    ("account_update", {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "X"}}),
]


@st.composite
def bodies(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[type, str | None]]]:
    """A webhook body and, in order, the events it must give (type, provider id)."""
    counter = iter(range(10**6))
    entries: list[dict[str, Any]] = []
    expected: list[tuple[type, str | None]] = []
    for _ in range(draw(st.integers(1, 3))):
        changes: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 3)) == 0:
                field, value = draw(st.sampled_from(ACCOUNT))
                changes.append({"field": field, "value": value})
                kind = TemplateUpdate if field.startswith("message_template") else SenderUpdate
                expected.append((kind, None))
                continue
            inbound = [draw(messages(next(counter))) for _ in range(draw(st.integers(0, 4)))]
            outbound = [draw(statuses(next(counter))) for _ in range(draw(st.integers(0, 4)))]
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                "contacts": [
                    {"profile": {"name": "Ana"}, "wa_id": NUMBER},
                    {"profile": {"name": "Bo", "username": "@bo"}, "user_id": BSUID},
                ],
                "messages": inbound,
                "statuses": outbound,
            }
            changes.append({"field": "messages", "value": value})
            expected += [(InboundMessage, f"{m['id']} {m.pop('_kind')}") for m in inbound]
            expected += [(StatusUpdate, s["id"]) for s in outbound]
        entries.append({"id": WABA_ID, "time": 1767000000, "changes": changes})
    return {"object": "whatsapp_business_account", "entry": entries}, expected


PROVIDER = MetaCloudProvider(
    http=None,  # type: ignore[arg-type] - webhook parsing makes no calls
    clock=FakeClock(),
    token="t",
    phone_number_ids=(PHONE_NUMBER_ID,),
    waba_id=WABA_ID,
    app_secret=APP_SECRET,
)


@given(bodies())
@settings(max_examples=150)
def test_every_documented_item_gives_exactly_one_event_in_order(
    case: tuple[dict[str, Any], list[tuple[type, str | None]]],
) -> None:
    body, expected = case
    raw = json.dumps(body).encode()
    events = PROVIDER.parse_webhook(sign(raw), raw)
    got = [
        (type(e), f"{e.provider_message_id} {e.kind}")
        if isinstance(e, InboundMessage)
        else (type(e), getattr(e, "provider_message_id", None))
        for e in events
    ]
    assert got == expected
    for event in events:
        if isinstance(event, InboundMessage):
            assert event.contact is not None
            if event.contact.kind == "group":
                assert event.author is not None  # the participant, never the chat
            if event.contact.kind == "user":
                assert (event.user_id, event.username) == (BSUID, "@bo")
