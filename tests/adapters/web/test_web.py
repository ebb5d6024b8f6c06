"""The WhatsApp-Web (WAHA) adapter: request shapes, engines, errors, webhooks, @lid aliases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from waport import (
    ErrorCode,
    InboundMessage,
    MessageStatus,
    StatusUpdate,
    WaportError,
    parse_recipient,
    parse_send_request,
)
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport.testing.strategies import json_values
from waport_memory import MemoryStore
from waport_web import wire
from waport_web.errors import from_response
from waport_web.fake import HMAC_KEY, SESSION, WebHarness, sign, web_harness

pytestmark = pytest.mark.anyio
TO = "+255 712 345 678"
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def harness() -> AsyncIterator[WebHarness]:
    async with web_harness() as h:
        yield h


async def send(
    h: WebHarness, body: dict[str, Any], client_id: str = "msg_1", reply_to: str | None = None
) -> tuple[str, dict[str, Any], str]:
    receipt = await h.provider.send(
        parse_send_request({"to": TO, **body}),
        sender=SESSION,
        client_id=client_id,
        reply_to=reply_to,
    )
    assert h.fake.invalid == []
    path, request = h.fake.sent[-1]
    return path, request, receipt.provider_message_id


async def test_text_and_replies(harness: WebHarness) -> None:
    path, body, pid = await send(
        harness, {"text": "hello"}, reply_to="false_255712345678@c.us_3EB0AA"
    )
    assert path == "/api/sendText"
    assert body == {
        "session": "default",
        "chatId": "255712345678@c.us",
        "text": "hello",
        "linkPreview": False,
        "reply_to": "false_255712345678@c.us_3EB0AA",
    }
    assert pid.startswith("3EB0")


@pytest.mark.parametrize(
    ("media", "path", "file", "extra"),
    [
        (
            {"type": "image", "url": "https://cdn.example.com/a.jpg", "caption": "c"},
            "/api/sendImage",
            {"mimetype": "image/jpeg", "url": "https://cdn.example.com/a.jpg"},
            {"caption": "c"},
        ),
        (
            {"type": "document", "url": "https://cdn.example.com/i.pdf", "filename": "i.pdf"},
            "/api/sendFile",
            {
                "mimetype": "application/octet-stream",
                "url": "https://cdn.example.com/i.pdf",
                "filename": "i.pdf",
            },
            {},
        ),
        (
            {
                "type": "audio",
                "url": "https://cdn.example.com/v.ogg",
                "voice": True,
                "mime_type": "audio/ogg; codecs=opus",
            },
            "/api/sendVoice",
            {"mimetype": "audio/ogg; codecs=opus", "url": "https://cdn.example.com/v.ogg"},
            {"convert": False},
        ),
        (
            {"type": "video", "url": "https://cdn.example.com/c.mp4", "caption": "clip"},
            "/api/sendVideo",
            {"mimetype": "video/mp4", "url": "https://cdn.example.com/c.mp4"},
            {"caption": "clip", "convert": False},
        ),
        (
            {"data": "data:image/png;base64,iVBORw0KGgo="},
            "/api/sendImage",
            {"mimetype": "image/png", "data": "iVBORw0KGgo=", "filename": "file.image"},
            {},
        ),
    ],
)
async def test_media_requests(
    harness: WebHarness,
    media: dict[str, Any],
    path: str,
    file: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    sent_path, body, _ = await send(harness, {"media": media})
    assert sent_path == path
    assert body == {"session": "default", "chatId": "255712345678@c.us", "file": file, **extra}


async def test_location_contacts_reaction_groups_channels(harness: WebHarness) -> None:
    _, location, _ = await send(
        harness, {"location": {"latitude": -6.8, "longitude": 39.28, "name": "Office"}}
    )
    assert location == {
        "session": "default",
        "chatId": "255712345678@c.us",
        "latitude": -6.8,
        "longitude": 39.28,
        "title": "Office",
    }
    _, contacts, _ = await send(
        harness,
        {
            "contacts": [
                {
                    "name": {"formatted_name": "Ana"},
                    "phones": [{"phone": "+255700000001", "wa_id": "255700000001"}],
                    "org": {"company": "Acme"},
                }
            ]
        },
    )
    assert contacts["contacts"] == [
        {
            "fullName": "Ana",
            "phoneNumber": "+255700000001",
            "organization": "Acme",
            "whatsappId": "255700000001",
        }
    ]
    path, reaction, _ = await send(harness, {"reaction": {"message_id": "3EB0FF", "emoji": "👍"}})
    assert (path, reaction) == (
        "/api/reaction",
        {"session": "default", "messageId": "false_255712345678@c.us_3EB0FF", "reaction": "👍"},
    )
    await harness.provider.send(
        parse_send_request({"to": "120363025246125486@g.us", "text": "hi group"}),
        sender=SESSION,
        client_id="g",
    )
    await harness.provider.send(
        parse_send_request({"to": "120363025246125486@newsletter", "text": "hi channel"}),
        sender=SESSION,
        client_id="c",
    )
    assert [b["chatId"] for _, b in harness.fake.sent[-2:]] == [
        "120363025246125486@g.us",
        "120363025246125486@newsletter",
    ]


async def test_capabilities_follow_a_changed_setting() -> None:
    """Capabilities are built once per configuration, and again when a setting changes."""
    async with web_harness() as h:
        first = h.provider.capabilities
        assert h.provider.capabilities is first
        assert "interactive" not in first.modes
        assert first.send_timeout == h.provider.timeout
        h.provider.interactive = True
        h.provider.timeout = 5.0
        changed = h.provider.capabilities
        assert "interactive" in changed.modes
        assert changed.send_timeout == 5.0


async def test_capabilities_by_configuration() -> None:
    async with web_harness(base64_media=False) as h:
        with pytest.raises(WaportError) as info:
            await h.provider.send(
                parse_send_request(
                    {"to": TO, "media": {"data": "data:image/png;base64,iVBORw0KGgo="}}
                ),
                sender=SESSION,
                client_id="m",
            )
        assert info.value.code == ErrorCode.BASE64_NOT_SUPPORTED
        assert h.fake.calls == 0
        caps = h.provider.capabilities
        assert (
            caps.templates,
            caps.window_applies,
            caps.groups,
            caps.channels,
            "interactive" in caps.modes,
        ) == (False, False, True, True, False)
    async with web_harness(interactive=True) as h:
        _, buttons, _ = await send(
            h,
            {
                "interactive": {
                    "type": "buttons",
                    "body": "Pick",
                    "footer": "f",
                    "buttons": [
                        {"id": "y", "title": "Yes"},
                        {"type": "url", "title": "Site", "url": "https://x.example"},
                    ],
                }
            },
        )
        assert buttons["buttons"] == [
            {"type": "reply", "text": "Yes", "id": "y"},
            {"type": "url", "text": "Site", "url": "https://x.example"},
        ]
        _, listing, _ = await send(
            h,
            {
                "interactive": {
                    "type": "list",
                    "body": "b",
                    "button": "Go",
                    "sections": [
                        {"title": "S", "rows": [{"id": "r", "title": "R", "description": "d"}]}
                    ],
                }
            },
        )
        assert listing["message"]["sections"] == [
            {"title": "S", "rows": [{"title": "R", "rowId": "r", "description": "d"}]}
        ]


@pytest.mark.parametrize("engine", ["NOWEB", "WEBJS", "GOWS"])
async def test_every_engines_answer_gives_the_same_bare_id(engine: str) -> None:
    async with web_harness(message_ids=True) as h:
        h.fake.engine = engine
        receipt = await h.provider.send(
            parse_send_request({"to": TO, "text": "x"}), sender=SESSION, client_id="msg_42"
        )
        assert receipt.provider_message_id == wire.client_message_id("msg_42")


async def test_pre_generated_ids_make_a_retry_safe() -> None:
    async with web_harness(message_ids=True) as h:
        message = parse_send_request({"to": TO, "text": "only once"})
        first = await h.provider.send(message, sender=SESSION, client_id="msg_7")
        again = await h.provider.send(message, sender=SESSION, client_id="msg_7")
        assert first.provider_message_id == again.provider_message_id
        assert len(h.fake.sent) == 1
        assert h.provider.capabilities.client_message_ids


async def test_session_not_working_and_unimplemented_methods(harness: WebHarness) -> None:
    harness.fake.status = "STARTING"
    with pytest.raises(WaportError) as info:
        await harness.provider.send(
            parse_send_request({"to": TO, "text": "x"}), sender=SESSION, client_id="m"
        )
    assert (info.value.code, info.value.retryable, info.value.provider_code) == (
        ErrorCode.PROVIDER_UNAVAILABLE,
        True,
        "422",
    )
    with pytest.raises(WaportError) as info:
        await harness.provider.ping()
    assert info.value.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert (
        from_response(
            422, {"statusCode": 422, "message": "The method is not implemented by the engine."}
        ).code
        == ErrorCode.FEATURE_NOT_SUPPORTED
    )
    assert from_response(422, {"message": "something else"}).code == ErrorCode.PROVIDER_REJECTED
    assert (
        from_response(
            404, {"error": {"code": 404, "key": "FILE_NOT_FOUND", "message": "no file"}}
        ).provider_message
        == "no file"
    )
    assert from_response(400, "x").code == ErrorCode.VALIDATION_FAILED
    assert from_response(403, None).code == ErrorCode.PROVIDER_AUTH_FAILED
    assert from_response(302, None).code == ErrorCode.PROVIDER_REJECTED
    for method in (harness.provider.list_templates(SESSION),):
        with pytest.raises(WaportError):
            await method


async def test_mark_read_and_typing(harness: WebHarness) -> None:
    await harness.provider.mark_read(
        "3EB0AB", sender=SESSION, contact=parse_recipient(TO), typing=True
    )
    assert harness.fake.seen == [
        {
            "path": "/api/sendSeen",
            "session": "default",
            "chatId": "255712345678@c.us",
            "messageIds": ["false_255712345678@c.us_3EB0AB"],
        },
        {"path": "/api/startTyping", "session": "default", "chatId": "255712345678@c.us"},
    ]


def _hook(h: WebHarness, event: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(h.fake.envelope(event, payload, at=AT)).encode()
    return sign(body), body


async def test_webhook_event_kinds(harness: WebHarness) -> None:
    provider = harness.provider
    base = {"timestamp": int(AT.timestamp()), "fromMe": False, "to": "15550000000@c.us"}
    cases = [
        (
            "message",
            {
                **base,
                "id": "false_255712345678@c.us_A1",
                "from": "255712345678@c.us",
                "body": "hi",
                "hasMedia": False,
                "replyTo": {"id": "true_255712345678@c.us_OUT1"},
            },
        ),
        (
            "message",
            {
                **base,
                "id": "false_255712345678@c.us_A2",
                "from": "255712345678@c.us",
                "body": "",
                "hasMedia": True,
                "media": {"url": "http://waha/files/a.jpg", "mimetype": "image/jpeg"},
            },
        ),
        (
            "message",
            {
                **base,
                "id": "false_255712345678@c.us_A3",
                "from": "255712345678@c.us",
                "location": {"latitude": 1.0, "longitude": 2.0},
            },
        ),
        (
            "message",
            {
                **base,
                "id": "false_255712345678@c.us_A4",
                "from": "255712345678@c.us",
                "vCards": ["BEGIN:VCARD..."],
            },
        ),
        (
            "message",
            {
                **base,
                "id": "false_120363@g.us_A5_255700000001@c.us",
                "from": "120363@g.us",
                "participant": "255700000001@c.us",
                "body": "in a group",
            },
        ),
        (
            "message",
            {
                **base,
                "id": "true_255712345678@c.us_ME",
                "from": "15550000000@c.us",
                "fromMe": True,
                "body": "ours",
            },
        ),
        (
            "message.reaction",
            {
                **base,
                "id": "false_255712345678@c.us_R1",
                "from": "255712345678@c.us",
                "reaction": {"text": "❤️", "messageId": "true_255712345678@c.us_OUT1"},
            },
        ),
        (
            "message.ack",
            {
                "id": "true_255712345678@c.us_OUT1",
                "from": "15550000000@c.us",
                "to": "255712345678@c.us",
                "fromMe": True,
                "ack": 3,
                "ackName": "READ",
            },
        ),
        (
            "message.ack",
            {"id": "true_255712345678@c.us_OUT1", "fromMe": True, "ack": 0, "ackName": "PENDING"},
        ),
        (
            "message.ack",
            {"id": "true_255712345678@c.us_OUT2", "fromMe": True, "ack": -1, "ackName": "ERROR"},
        ),
        ("session.status", {"status": "WORKING"}),
    ]
    events = [
        e
        for event, payload in cases
        for e in provider.parse_webhook(*_hook(harness, event, payload))
    ]
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    assert [e.kind for e in inbound] == [
        "text",
        "image",
        "location",
        "contacts",
        "text",
        "reaction",
    ]
    assert inbound[0].reply_to == "OUT1"
    assert inbound[1].payload == {"url": "http://waha/files/a.jpg", "mime_type": "image/jpeg"}
    assert (str(inbound[4].contact), str(inbound[4].author), inbound[4].provider_message_id) == (
        "120363@g.us",
        "255700000001",
        "A5",
    )
    assert inbound[5].payload == {"emoji": "❤️", "message_id": "OUT1"}
    assert [(s.provider_message_id, s.status) for s in statuses] == [
        ("OUT1", MessageStatus.READ),
        ("OUT2", MessageStatus.FAILED),
    ]
    assert statuses[1].error is not None
    assert statuses[1].error.provider_code == "ERROR"
    assert all(e.sender_id == SESSION for e in inbound)


async def test_a_bad_hmac_is_refused(harness: WebHarness) -> None:
    headers, body = harness.inbound_webhook(
        contact=parse_recipient(TO), text="x", provider_message_id="A", at=AT
    )
    for bad in ({"X-Webhook-Hmac": "00"}, {}, sign(body, "another-key")):
        with pytest.raises(WaportError) as info:
            harness.provider.parse_webhook(bad, body)
        assert info.value.code == ErrorCode.INVALID_SIGNATURE
    assert (
        len(
            harness.provider.parse_webhook({k.upper(): v.upper() for k, v in headers.items()}, body)
        )
        == 1
    )


async def test_lid_aliases_are_learned_and_duplicates_collapse(harness: WebHarness) -> None:
    """The same message arrives via its @lid and via the phone: stored once. Once an event
    reveals both, later @lid-only events resolve to the phone."""
    clock = FakeClock()
    store = MemoryStore()
    async with Messenger(
        store=store, provider=harness.provider, clock=clock, ids=SequentialIds()
    ) as messenger:
        base = {"timestamp": int(clock.now().timestamp()), "fromMe": False, "body": "hi"}
        via_lid = {
            **base,
            "id": "false_99887766@lid_M1",
            "from": "99887766@lid",
            "_data": {
                "key": {
                    "remoteJid": "99887766@lid",
                    "remoteJidAlt": "255712345678@s.whatsapp.net",
                    "id": "M1",
                }
            },
        }
        via_phone = {**base, "id": "false_255712345678@c.us_M1", "from": "255712345678@c.us"}
        events = [
            *harness.provider.parse_webhook(*_hook(harness, "message", via_lid)),
            *harness.provider.parse_webhook(*_hook(harness, "message", via_phone)),
        ]
        report = await messenger.ingest(events)
        assert (report.inbound_new, report.inbound_duplicate) == (1, 1)
        assert await store.contacts.resolve_alias("99887766@lid") == parse_recipient(TO)
        lid_only = {**base, "id": "false_99887766@lid_M2", "from": "99887766@lid"}
        await messenger.ingest(harness.provider.parse_webhook(*_hook(harness, "message", lid_only)))
        stored = await store.messages.find_by_provider_id("web", "M2")
        assert stored is not None
        assert str(stored.contact) == "255712345678"
        unknown = {**base, "id": "false_11223344@lid_M3", "from": "11223344@lid"}
        report = await messenger.ingest(
            harness.provider.parse_webhook(*_hook(harness, "message", unknown))
        )
        assert report.unresolved_contact == 1
        window = await messenger.window_status(TO)
        assert window.within_window  # WAHA has no window rule, but the log is kept


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_arbitrary_json_gives_events_or_a_clean_rejection(body: Any) -> None:
    from waport_web.provider import WahaProvider

    provider = WahaProvider(http=None, clock=FakeClock(), url="http://x", hmac_key=HMAC_KEY)  # type: ignore[arg-type]
    raw = json.dumps(body).encode()
    for envelope in (
        raw,
        json.dumps({"event": "message", "session": "s", "payload": body}).encode(),
    ):
        try:
            events = provider.parse_webhook(sign(envelope), envelope)
        except WaportError as err:
            assert err.code == ErrorCode.VALIDATION_FAILED
        else:
            assert all(isinstance(e, InboundMessage | StatusUpdate) for e in events)


def test_bare_ids() -> None:
    assert wire.bare_id("true_123@c.us_ABC") == "ABC"
    assert wire.bare_id("false_1@g.us_ABC_2@c.us") == "ABC"
    assert wire.bare_id("ABC") == "ABC"
    assert wire.sent_id({"unexpected": 1}, None) is None
    assert wire.sent_id("not a dict", "fallback") == "fallback"


async def test_a_restarted_fake_never_repeats_a_message_id() -> None:
    """A gateway's database outlives the fake WAHA it talks to; ids must not repeat."""
    ids = []
    for _ in range(2):
        async with web_harness() as h:
            ids += [(await send(h, {"text": f"hi {n}"}, client_id=f"msg_{n}"))[2] for n in range(3)]
    assert len(set(ids)) == 6


def test_nothing_waha_says_is_lost() -> None:
    """Issue 27: a receipt without a time takes the time it arrived; a message with a
    media object but no hasMedia is media; a 400's field-level detail is kept."""
    receipt = {
        "event": "message.ack",
        "session": SESSION,
        "payload": {"id": "true_255712345678@c.us_AAA", "fromMe": True, "ack": 3},
    }
    assert wire.parse_envelope(receipt) == []  # without a receiving time: unreadable
    (update,) = wire.parse_envelope(receipt, AT)
    assert (update.status, update.at) == (MessageStatus.READ, AT)

    photo = {
        "event": "message",
        "session": SESSION,
        "payload": {
            "id": "false_255712345678@c.us_BBB",
            "from": "255712345678@c.us",
            "fromMe": False,
            "timestamp": 1_767_000_000,
            "body": "",
            "media": {"url": "http://waha:3000/api/files/x.jpg", "mimetype": "image/jpeg"},
        },
    }
    (message,) = wire.parse_envelope(photo, AT)
    assert message.kind == "image"
    assert message.payload["mime_type"] == "image/jpeg"

    answer = {
        "statusCode": 400,
        "message": ["chatId must be a string", "text should not be empty"],
        "error": "Bad Request",
    }
    error = from_response(400, answer)
    assert error.code == ErrorCode.VALIDATION_FAILED
    assert error.provider_message == "chatId must be a string; text should not be empty"


async def test_whether_a_number_has_whatsapp(harness: WebHarness) -> None:
    """WAHA's check-exists, as ``GET /v1/contacts/{phone}/whatsapp`` asks it."""
    numbers = harness.provider.numbers
    assert numbers is not None
    assert await numbers.on_whatsapp(parse_recipient(TO), sender=SESSION) is True
    harness.fake.without_whatsapp.add("255712345678")
    assert await numbers.on_whatsapp(parse_recipient(TO), sender=SESSION) is False
    harness.fake.api_key = "another"
    with pytest.raises(WaportError) as info:
        await numbers.on_whatsapp(parse_recipient(TO), sender=SESSION)
    assert info.value.code == ErrorCode.PROVIDER_AUTH_FAILED


VOICE = {
    "type": "audio",
    "url": "https://cdn.example.com/v.ogg",
    "voice": True,
    "mime_type": "audio/ogg; codecs=opus",
}


async def test_a_voice_note_is_preceded_by_the_recording_indicator(harness: WebHarness) -> None:
    await send(harness, {"media": VOICE})
    chat = "255712345678@c.us"
    assert harness.fake.seen == [
        {"path": "/api/default/presence", "chatId": chat, "presence": "recording"}
    ]
    assert harness.fake.sent[-1][0] == "/api/sendVoice"
    await send(harness, {"text": "no indicator for a text"}, client_id="msg_2")
    assert len(harness.fake.seen) == 1
    harness.provider.recording_indicator = False
    await send(harness, {"media": VOICE}, client_id="msg_3")
    assert len(harness.fake.seen) == 1
