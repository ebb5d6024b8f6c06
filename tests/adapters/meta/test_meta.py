"""The Meta Cloud API adapter: payloads, uploads, templates, webhooks, errors."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waport import (
    ErrorCode,
    InboundMessage,
    MessageStatus,
    StatusUpdate,
    WaportError,
    httpkit,
    parse_send_request,
)
from waport.domain.templates import (
    ButtonKind,
    HeaderFormat,
    TemplateCategory,
    TemplateStatus,
    check_template_params,
)
from waport.plugins import PluginContext
from waport.testing import FakeClock, SequentialIds
from waport.testing.faults import Fault
from waport.testing.strategies import json_values
from waport_meta import errors, wire
from waport_meta.fake import (
    APP_SECRET,
    DEFAULT_TEMPLATES,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    MetaHarness,
    meta_harness,
    open_fake_graph,
    sign,
)
from waport_meta.plugin import MetaConfig, open_meta

pytestmark = pytest.mark.anyio
DATA = Path(__file__).parent / "data"
TO = "+255 712 345 678"


@pytest.fixture(params=[True, False], ids=["pool", "aiohttp"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[MetaHarness]:
    """Every test twice: through the keep-alive pool (as ``open_meta`` builds the
    provider) and with every request through the aiohttp session."""
    async with meta_harness(pooled=request.param) as h:
        yield h


async def send(
    h: MetaHarness, body: dict[str, Any], client_id: str = "msg_1", reply_to: str | None = None
) -> dict[str, Any]:
    message = parse_send_request({"to": TO, **body})
    bound = None
    if message.mode == "template":
        specs = {(s.name, s.language): s for s in await h.provider.list_templates(PHONE_NUMBER_ID)}
        bound = check_template_params(
            specs[(message.content.name, message.content.language)], message.content
        )  # type: ignore[union-attr]
    await h.provider.send(
        message, sender=PHONE_NUMBER_ID, client_id=client_id, template=bound, reply_to=reply_to
    )
    assert h.fake.invalid == []
    return h.fake.sent[-1]


async def test_text_payload_field_by_field(harness: MetaHarness) -> None:
    payload = await send(
        harness,
        {"text": {"body": "see https://example.com", "preview_url": True}},
        reply_to="wamid.prev",
    )
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+255712345678",
        "type": "text",
        "text": {"body": "see https://example.com", "preview_url": True},
        "context": {"message_id": "wamid.prev"},
        "biz_opaque_callback_data": "msg_1",
    }


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (
            {"type": "image", "url": "https://cdn.example.com/a.png", "caption": "c"},
            {"link": "https://cdn.example.com/a.png", "caption": "c"},
        ),
        ({"type": "video", "id": "999"}, {"id": "999"}),
        (
            {"type": "audio", "url": "https://cdn.example.com/v.ogg", "voice": True},
            {"link": "https://cdn.example.com/v.ogg", "voice": True},
        ),
        (
            {
                "type": "document",
                "url": "https://cdn.example.com/i.pdf",
                "filename": "invoice.pdf",
                "caption": "Your invoice",
            },
            {
                "link": "https://cdn.example.com/i.pdf",
                "filename": "invoice.pdf",
                "caption": "Your invoice",
            },
        ),
        ({"type": "sticker", "id": "555"}, {"id": "555"}),
    ],
)
async def test_media_payloads(
    harness: MetaHarness, media: dict[str, Any], expected: dict[str, Any]
) -> None:
    payload = await send(harness, {"media": media, "check_window": False})
    assert payload["type"] == media["type"]
    assert payload[media["type"]] == expected


async def test_base64_media_is_uploaded_first(harness: MetaHarness) -> None:
    payload = await send(
        harness,
        {"media": {"data": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "caption": "inline"}},
    )
    (upload,) = harness.fake.uploads
    assert (upload["type"], upload["size"], upload["content_type"]) == (
        "image/png",
        16,
        "image/png",
    )
    assert (
        upload["sha256"] == hashlib.sha256(base64.b64decode("iVBORw0KGgoAAAANSUhEUg==")).hexdigest()
    )
    assert set(payload["image"]) == {"id", "caption"}


async def test_an_upload_and_its_message_share_one_deadline(harness: MetaHarness) -> None:
    """The adapter's ``timeout`` bounds a whole send (``capabilities.send_timeout``, which
    lets the Messenger skip a deadline of its own): an upload and a message that each
    answer within it, but not both together, fail as one late answer."""
    harness.provider.timeout = 0.5
    assert harness.provider.capabilities.send_timeout == 0.5
    harness.fake.upload_delay = 0.3
    harness.fake.slow_delay = 0.3
    harness.fake.faults.append(Fault.SLOW)
    with pytest.raises(WaportError) as info:
        await send(harness, {"media": {"data": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}})
    assert (info.value.code, info.value.message) == (
        ErrorCode.PROVIDER_UNAVAILABLE,
        "Meta did not answer in time",
    )
    assert len(harness.fake.uploads) == 1


async def test_interactive_payloads(harness: MetaHarness) -> None:
    buttons = await send(
        harness,
        {
            "interactive": {
                "type": "buttons",
                "body": "Confirm?",
                "header": {"type": "image", "url": "https://cdn.example.com/h.jpg"},
                "footer": "f",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
            }
        },
    )
    assert buttons["interactive"] == {
        "type": "button",
        "body": {"text": "Confirm?"},
        "header": {"type": "image", "image": {"link": "https://cdn.example.com/h.jpg"}},
        "footer": {"text": "f"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No"}},
            ]
        },
    }
    listing = await send(
        harness,
        {
            "interactive": {
                "type": "list",
                "body": "Which?",
                "button": "Options",
                "header": "Shipping",
                "sections": [
                    {
                        "title": "Fast",
                        "rows": [{"id": "x", "title": "Express", "description": "1 day"}],
                    },
                    {"title": "Slow", "rows": [{"id": "y", "title": "Post"}]},
                ],
            }
        },
    )
    assert listing["interactive"]["action"] == {
        "button": "Options",
        "sections": [
            {"title": "Fast", "rows": [{"id": "x", "title": "Express", "description": "1 day"}]},
            {"title": "Slow", "rows": [{"id": "y", "title": "Post"}]},
        ],
    }
    assert listing["interactive"]["header"] == {"type": "text", "text": "Shipping"}
    cta = await send(
        harness,
        {
            "interactive": {
                "type": "cta_url",
                "body": "b",
                "display_text": "See dates",
                "url": "https://x.example/d",
            }
        },
    )
    assert cta["interactive"]["action"] == {
        "name": "cta_url",
        "parameters": {"display_text": "See dates", "url": "https://x.example/d"},
    }
    catalog = await send(
        harness,
        {
            "interactive": {
                "type": "catalog",
                "body": "Our catalog",
                "thumbnail_product_retailer_id": "sku1",
            }
        },
    )
    assert catalog["interactive"]["type"] == "catalog_message"
    assert catalog["interactive"]["action"] == {
        "name": "catalog_message",
        "parameters": {"thumbnail_product_retailer_id": "sku1"},
    }
    product = await send(
        harness,
        {
            "interactive": {
                "type": "product",
                "catalog_id": "c1",
                "product_retailer_id": "sku1",
                "body": "Look",
            }
        },
    )
    assert product["interactive"] == {
        "type": "product",
        "body": {"text": "Look"},
        "action": {"catalog_id": "c1", "product_retailer_id": "sku1"},
    }
    product_list = await send(
        harness,
        {
            "interactive": {
                "type": "product_list",
                "catalog_id": "c1",
                "header": "Picks",
                "body": "b",
                "sections": [{"title": "S", "product_retailer_ids": ["a", "b"]}],
            }
        },
    )
    assert product_list["interactive"]["action"]["sections"] == [
        {
            "title": "S",
            "product_items": [{"product_retailer_id": "a"}, {"product_retailer_id": "b"}],
        }
    ]


async def test_url_buttons_are_refused_before_any_call(harness: MetaHarness) -> None:
    calls = harness.fake.calls
    message = parse_send_request(
        {
            "to": TO,
            "interactive": {
                "type": "buttons",
                "body": "b",
                "buttons": [{"type": "url", "title": "t", "url": "https://x.example"}],
            },
        }
    )
    with pytest.raises(WaportError) as info:
        await harness.provider.send(message, sender=PHONE_NUMBER_ID, client_id="m")
    assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
    assert harness.fake.calls == calls


async def test_location_contacts_reaction(harness: MetaHarness) -> None:
    location = await send(
        harness,
        {
            "location": {
                "latitude": -6.8,
                "longitude": 39.28,
                "name": "Office",
                "address": "1 Main St",
            }
        },
    )
    assert location["location"] == {
        "latitude": "-6.8",
        "longitude": "39.28",
        "name": "Office",
        "address": "1 Main St",
    }
    contacts = await send(
        harness,
        {
            "contacts": [
                {
                    "name": {"formatted_name": "Ana"},
                    "phones": [{"phone": "+255712345678", "type": "CELL"}],
                }
            ]
        },
    )
    assert contacts["contacts"] == [
        {
            "name": {"formatted_name": "Ana", "first_name": "Ana"},
            "phones": [{"phone": "+255712345678", "type": "CELL"}],
        }
    ]
    reaction = await send(harness, {"reaction": {"message_id": "wamid.x", "emoji": "👍"}})
    assert reaction["reaction"] == {"message_id": "wamid.x", "emoji": "👍"}
    assert "context" not in reaction


async def test_template_payloads(harness: MetaHarness) -> None:
    positional = await send(
        harness,
        {
            "sender_id": PHONE_NUMBER_ID,
            "template": {
                "name": "order_update",
                "language": "en_US",
                "params": [
                    "Ana",
                    {
                        "type": "currency",
                        "fallback_value": "$100.99",
                        "code": "USD",
                        "amount_1000": 100990,
                    },
                ],
            },
        },
    )
    assert positional["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {
                        "type": "currency",
                        "currency": {
                            "fallback_value": "$100.99",
                            "code": "USD",
                            "amount_1000": 100990,
                        },
                    },
                ],
            }
        ],
    }
    named = await send(
        harness,
        {
            "sender_id": PHONE_NUMBER_ID,
            "template": {
                "name": "spring_sale",
                "language": "en_US",
                "params": {"first_name": "Ana", "code": "SPRING20"},
                "header": {"type": "image", "url": "https://cdn.example.com/sale.jpg"},
                "buttons": [{"index": 0, "param": "spring"}, {"index": 1, "param": "no-thanks"}],
            },
        },
    )
    components = named["template"]["components"]
    assert components[0] == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/sale.jpg"}}],
    }
    assert components[1] == {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Ana", "parameter_name": "first_name"},
            {"type": "text", "text": "SPRING20", "parameter_name": "code"},
        ],
    }
    assert components[2] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "spring"}],
    }
    assert components[3] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "1",
        "parameters": [{"type": "payload", "payload": "no-thanks"}],
    }
    otp = await send(
        harness,
        {
            "sender_id": PHONE_NUMBER_ID,
            "template": {"name": "login_code", "language": "en_US", "otp": "123456"},
        },
    )
    assert otp["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "123456"}],
        },
    ]


async def test_our_template_payload_has_the_shape_of_metas_postman_collection(
    harness: MetaHarness,
) -> None:
    reference = json.loads(
        (DATA / "send_request_template_positional_currency_datetime_quick_reply.json").read_text()
    )
    from waport.domain.templates import TemplateButtonSpec, spec_from_text

    spec = spec_from_text(
        sender_id=PHONE_NUMBER_ID,
        name="template-name",
        language="en_US",
        body="{{1}} {{2}} {{3}}",
        header_format=HeaderFormat.IMAGE,
        buttons=(
            TemplateButtonSpec(index=0, kind=ButtonKind.QUICK_REPLY),
            TemplateButtonSpec(index=1, kind=ButtonKind.QUICK_REPLY),
        ),
    )
    message = parse_send_request(
        {
            "to": TO,
            "sender_id": PHONE_NUMBER_ID,
            "template": {
                "name": "template-name",
                "language": "en_US",
                "header": {"type": "image", "url": "https://the-image-url.example/a.jpg"},
                "params": [
                    "text-string",
                    {
                        "type": "currency",
                        "fallback_value": "$100.99",
                        "code": "USD",
                        "amount_1000": 100990,
                    },
                    {"type": "date_time", "fallback_value": "February 25, 1977"},
                ],
                "buttons": [
                    {"index": 0, "param": "aGlzIHRoaXMgaXMgY29v"},
                    {"index": 1, "param": "9rwnB8RbYmPF5t2Mn09x4h"},
                ],
            },
        }
    )
    ours = wire.message_payload(
        message,
        client_id="msg_1",
        template=check_template_params(spec, message.content),
        reply_to=None,
    )  # type: ignore[arg-type]
    theirs = reference["template"]["components"]

    def shape(components: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                c["type"],
                c.get("sub_type"),
                c.get("index"),
                tuple(p["type"] for p in c["parameters"]),
            )
            for c in components
        ]

    assert shape(ours["template"]["components"]) == shape(theirs)
    assert ours["template"]["components"][2]["parameters"] == theirs[2]["parameters"]
    assert ours["template"]["components"][1]["parameters"][1] == theirs[1]["parameters"][1]
    assert set(ours) - {"biz_opaque_callback_data"} == set(reference)


async def test_template_sync_follows_paging_and_derives_specs(harness: MetaHarness) -> None:
    specs = {s.name: s for s in await harness.provider.list_templates(PHONE_NUMBER_ID)}
    assert set(specs) == {t["name"] for t in DEFAULT_TEMPLATES}
    assert specs["order_update"].body_params == ("1", "2")
    sale = specs["spring_sale"]
    assert (sale.category, sale.header_format, sale.body_params) == (
        TemplateCategory.MARKETING,
        HeaderFormat.IMAGE,
        ("first_name", "code"),
    )
    assert [(b.index, b.kind, b.dynamic) for b in sale.buttons] == [
        (0, ButtonKind.URL, True),
        (1, ButtonKind.QUICK_REPLY, False),
    ]
    assert specs["login_code"].buttons[0].kind == ButtonKind.OTP
    assert specs["old_promo"].status == TemplateStatus.PAUSED
    assert all(s.sender_id == PHONE_NUMBER_ID for s in specs.values())


async def test_mark_read_and_typing(harness: MetaHarness) -> None:
    from waport import parse_recipient

    await harness.provider.mark_read(
        "wamid.in", sender=PHONE_NUMBER_ID, contact=parse_recipient(TO), typing=True
    )
    assert harness.fake.reads == [
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.in",
            "typing_indicator": {"type": "text"},
        }
    ]
    await harness.provider.ping()


def test_the_handshake_echoes_the_challenge_only_for_the_right_token() -> None:
    provider = _provider()
    assert (
        provider.verify_subscription(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            }
        )
        == "1158201444"
    )
    for query in (
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ):
        with pytest.raises(WaportError) as info:
            provider.verify_subscription(query)
        assert info.value.code == ErrorCode.FORBIDDEN


def _provider(app_secret: str = APP_SECRET) -> Any:
    from waport_meta.provider import MetaCloudProvider

    return MetaCloudProvider(
        http=None,  # type: ignore[arg-type] - webhook parsing makes no calls
        clock=FakeClock(),
        token="t",
        phone_number_ids=(PHONE_NUMBER_ID,),
        app_secret=app_secret,
        verify_token=VERIFY_TOKEN,
    )


def test_a_real_signed_delivery_verifies_and_any_changed_byte_fails() -> None:
    case = json.loads((DATA / "webhook_signature_case.json").read_text())
    raw = (DATA / "webhook_signed_body.raw").read_bytes()
    provider = _provider(case["app_secret"])
    events = provider.parse_webhook({case["header_name"]: case["header_value"]}, raw)
    assert [(type(e).__name__, e.text) for e in events] == [
        ("InboundMessage", "Hey there! I am using PyWa.")
    ]  # type: ignore[union-attr]
    for i in (0, len(raw) // 2, len(raw) - 1):
        tampered = raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :]
        with pytest.raises(WaportError) as info:
            provider.parse_webhook({case["header_name"]: case["header_value"]}, tampered)
        assert info.value.code == ErrorCode.INVALID_SIGNATURE
    with pytest.raises(WaportError):
        _provider(None).parse_webhook({case["header_name"]: case["header_value"]}, raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fixture", "status", "error_code"),
    [
        ("webhook_status_delivered.json", MessageStatus.DELIVERED, None),
        ("webhook_status_read.json", MessageStatus.READ, None),
        ("webhook_status_failed_130472.json", MessageStatus.FAILED, "PROVIDER_REJECTED"),
    ],
)
def test_status_fixtures(fixture: str, status: MessageStatus, error_code: str | None) -> None:
    raw = (DATA / fixture).read_bytes()
    (event,) = _provider().parse_webhook(sign(raw), raw)
    assert isinstance(event, StatusUpdate)
    assert (event.provider_message_id, event.status, event.recipient) == (
        "wamid.xyzxyz",
        status,
        "972987654321",
    )
    if error_code is None:
        assert event.error is None
        assert event.pricing is not None
        assert event.pricing["category"] == "service"
    else:
        assert event.error is not None
        assert (event.error.code, event.error.provider_code) == (error_code, "130472")


def test_unsupported_inbound_fixture() -> None:
    raw = (DATA / "webhook_inbound_unsupported.json").read_bytes()
    (event,) = _provider().parse_webhook(sign(raw), raw)
    assert isinstance(event, InboundMessage)
    assert (event.kind, event.sender_id, event.contact_name, event.payload) == (
        "unsupported",
        "1122334455667",
        "Test Name",
        {"errors": [131051]},
    )


def test_a_batched_delivery_yields_every_event_once() -> None:
    def value(n: int) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1555", "phone_number_id": f"pn{n}"},
            "contacts": [{"profile": {"name": f"C{n}"}, "wa_id": f"25571234567{n}"}],
            "messages": [
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}a",
                    "timestamp": "1700000000",
                    "type": "text",
                    "text": {"body": "hi"},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}b",
                    "timestamp": "1700000001",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "yes", "title": "Yes"},
                    },
                    "context": {"from": "1555", "id": "wamid.out"},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}c",
                    "timestamp": "1700000002",
                    "type": "interactive",
                    "interactive": {
                        "type": "list_reply",
                        "list_reply": {"id": "r1", "title": "Row", "description": "d"},
                    },
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}d",
                    "timestamp": "1700000003",
                    "type": "button",
                    "button": {"payload": "p", "text": "Not now"},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}e",
                    "timestamp": "1700000004",
                    "type": "reaction",
                    "reaction": {"message_id": "wamid.out", "emoji": "👍"},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}f",
                    "timestamp": "1700000005",
                    "type": "image",
                    "image": {
                        "id": "m1",
                        "mime_type": "image/jpeg",
                        "sha256": "x",
                        "caption": "pic",
                    },
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}g",
                    "timestamp": "1700000006",
                    "type": "location",
                    "location": {"latitude": 1.5, "longitude": 2.5},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}h",
                    "timestamp": "1700000007",
                    "type": "contacts",
                    "contacts": [{"name": {"formatted_name": "X"}}],
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}i",
                    "timestamp": "1700000008",
                    "type": "order",
                    "order": {"catalog_id": "c", "product_items": []},
                },
                {
                    "from": f"25571234567{n}",
                    "id": f"wamid.in{n}j",
                    "timestamp": "1700000009",
                    "type": "system",
                    "system": {
                        "body": "changed number",
                        "wa_id": "1",
                        "type": "user_changed_number",
                    },
                },
                {"not": "a message"},
            ],
            "statuses": [
                {
                    "id": f"wamid.out{n}",
                    "status": "sent",
                    "timestamp": "1700000000",
                    "recipient_id": "1",
                    "biz_opaque_callback_data": "msg_42",
                },
                {
                    "id": f"wamid.out{n}",
                    "status": "delivered",
                    "timestamp": "1700000001",
                    "recipient_id": "1",
                },
                {
                    "id": f"wamid.out{n}",
                    "status": "played",
                    "timestamp": "1700000002",
                    "recipient_id": "1",
                },
                {"id": f"wamid.out{n}", "status": "warning", "timestamp": "1700000003"},
            ],
        }

    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "w1",
                "changes": [
                    {"field": "messages", "value": value(1)},
                    {"field": "messages", "value": value(2)},
                    {"field": "account_update", "value": {}},
                ],
            },
            {"id": "w2", "changes": [{"field": "messages", "value": value(3)}]},
        ],
    }
    raw = json.dumps(body).encode()
    events = _provider().parse_webhook(sign(raw), raw)
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    assert len(inbound) == 30
    assert len({e.provider_message_id for e in inbound}) == 30
    assert len(statuses) == 9
    kinds = [e.kind for e in inbound[:10]]
    assert kinds == [
        "text",
        "button_reply",
        "list_reply",
        "button",
        "reaction",
        "image",
        "location",
        "contacts",
        "order",
        "system",
    ]
    assert inbound[1].reply_to == "wamid.out"
    assert inbound[1].payload == {"id": "yes", "title": "Yes"}
    assert inbound[5].text == "pic"
    assert inbound[0].contact_name == "C1"
    assert {e.sender_id for e in inbound} == {"pn1", "pn2", "pn3"}
    assert statuses[0].message_id == "msg_42"
    assert statuses[2].status == MessageStatus.PLAYED


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_arbitrary_json_gives_events_or_a_clean_rejection(body: Any) -> None:
    raw = json.dumps(body).encode()
    try:
        events = _provider().parse_webhook(sign(raw), raw)
    except WaportError as err:
        assert err.code == ErrorCode.VALIDATION_FAILED
    else:
        assert all(isinstance(e, InboundMessage | StatusUpdate) for e in events)


@given(
    st.dictionaries(
        st.sampled_from(["entry", "object"]),
        st.lists(json_values, max_size=3) | json_values,
        max_size=2,
    )
)
@settings(max_examples=300, deadline=None)
def test_arbitrary_envelopes(body: Any) -> None:
    test_arbitrary_json_gives_events_or_a_clean_rejection.hypothesis.inner_test(body)  # type: ignore[attr-defined]


@given(json_values, st.one_of(st.none(), st.integers(100, 599)))
@settings(max_examples=300, deadline=None)
def test_the_error_mapper_takes_anything(error: Any, status: int | None) -> None:
    mapped = errors.from_graph_error(error, http_status=status)
    assert isinstance(mapped, WaportError)
    assert mapped.provider == "meta"


@pytest.mark.parametrize(("meta_code", "code"), list(errors.DOCUMENTED))
def test_the_error_table_row_by_row(meta_code: int, code: ErrorCode) -> None:
    mapped = errors.from_graph_error(
        {
            "code": meta_code,
            "message": f"(#{meta_code}) x",
            "error_subcode": 7,
            "error_data": {"details": "d"},
            "fbtrace_id": "T",
        },
        http_status=400,
    )
    assert mapped.code == code
    assert mapped.provider_code == f"{meta_code}/7"
    assert mapped.provider_message is not None
    assert "fbtrace T" in mapped.provider_message


def test_unknown_codes_and_5xx() -> None:
    assert errors.from_graph_error({"code": 999999}).code == ErrorCode.PROVIDER_REJECTED
    assert errors.from_graph_error({"code": 250}).code == ErrorCode.PROVIDER_AUTH_FAILED
    assert (
        errors.from_graph_error({"code": 999999}, http_status=502).code
        == ErrorCode.PROVIDER_UNAVAILABLE
    )
    assert errors.from_graph_error("boom", http_status=500).code == ErrorCode.PROVIDER_UNAVAILABLE
    assert errors.from_graph_error(None, http_status=400).code == ErrorCode.PROVIDER_REJECTED
    assert errors.from_graph_error({"code": "130429"}).code == ErrorCode.RATE_LIMITED


@pytest.mark.parametrize("pooled", [True, False], ids=["pool", "aiohttp"])
async def test_an_unreachable_graph_is_unavailable(pooled: bool) -> None:
    from waport_meta.provider import MetaCloudProvider

    graph = "http://127.0.0.1:9"
    async with aiohttp.ClientSession() as http, httpkit.ConnectionPool(graph) as pool:
        provider = MetaCloudProvider(
            http=http,
            clock=FakeClock(),
            token="t",
            phone_number_ids=(PHONE_NUMBER_ID,),
            graph_url=graph,
            pool=pool if pooled else None,
        )
        with pytest.raises(WaportError) as info:
            await provider.ping()
        assert (info.value.code, info.value.retryable) == (ErrorCode.PROVIDER_UNAVAILABLE, True)
        assert info.value.message == (
            f"cannot reach Meta: {'TransportError' if pooled else 'ClientConnectorError'}"
        )
        with pytest.raises(WaportError) as info:
            await provider.list_templates(PHONE_NUMBER_ID)
        assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED


async def test_the_plugin_owns_a_session_only_when_not_given_one() -> None:
    from waport import ConfigError

    ctx = PluginContext(clock=FakeClock(), ids=SequentialIds())
    async with open_meta(MetaConfig(token="t", phone_number_ids=("1",)), ctx) as provider:
        own = provider.http
        assert not own.closed
    assert own.closed
    async with aiohttp.ClientSession() as shared:
        ctx = PluginContext(clock=FakeClock(), ids=SequentialIds(), http=shared)
        async with open_meta(MetaConfig(token="t", phone_number_ids=("1",)), ctx) as provider:
            assert provider.http is shared
        assert not shared.closed
    for bad in (
        MetaConfig(phone_number_ids=("1",)),
        MetaConfig(token="t"),
        MetaConfig(token="t", phone_number_ids=("1",), graph_url="graph.facebook.com"),
    ):
        with pytest.raises(ConfigError):
            async with open_meta(bad, ctx):
                pass
    assert "token" not in repr(MetaConfig(token="secret-token"))


async def test_the_plugin_sends_through_its_keep_alive_pool() -> None:
    ctx = PluginContext(clock=FakeClock(), ids=SequentialIds())
    async with open_fake_graph() as fake:
        config = MetaConfig(
            token=TOKEN, phone_number_ids=(PHONE_NUMBER_ID,), graph_url=fake.url, max_connections=2
        )
        async with open_meta(config, ctx) as provider:
            pool = provider.pool
            assert pool is not None
            assert (pool.origin, pool.max_connections) == (fake.url, 2)
            for n in range(5):
                message = parse_send_request({"to": TO, "text": f"hello {n}"})
                await provider.send(message, sender=PHONE_NUMBER_ID, client_id=f"msg_{n}")
            assert len(fake.sent) == 5
            assert pool.connections == 1  # one kept-alive connection for all five
        assert pool.connections == 0  # closed with the provider


async def test_a_restarted_fake_never_repeats_a_wamid() -> None:
    """A gateway's database outlives the fake Graph API it talks to, and keeps one message
    per provider id: a second fake answering wamid 1 again made the outcome unstorable."""
    wamids = []
    for _ in range(2):
        async with meta_harness() as h:
            for n in range(3):
                receipt = await h.provider.send(
                    parse_send_request({"to": TO, "text": f"hi {n}"}),
                    sender=PHONE_NUMBER_ID,
                    client_id=f"msg_{n}",
                )
                wamids.append(receipt.provider_message_id)
    assert len(set(wamids)) == 6
    assert all(w.startswith("wamid.") for w in wamids)
