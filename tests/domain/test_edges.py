"""Edge cases of the request parser and the message classes, one rule per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import (
    ErrorCode,
    WaportError,
    parse_broadcast_request,
    parse_recipient,
    parse_send_request,
    plan_broadcast,
    to_request_dict,
)
from waport.domain.broadcast import BroadcastRecipient, BroadcastRequest
from waport.domain.events import InboundMessage, inbound_payload, status_payload
from waport.domain.limits import MediaKind
from waport.domain.messages import (
    CatalogMessage,
    HeaderMedia,
    InteractiveHeaderMedia,
    Media,
    MediaUrl,
    OutboundMessage,
    ProductListMessage,
    ProductMessage,
    Text,
)
from waport.domain.schedule import is_due, webhook_retry_at
from waport.domain.status import ErrorDetail, MessageStatus
from waport.domain.validators import check_http_url, is_single_emoji, json_int

TO = "255712345678"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def error(body: Any) -> WaportError:
    with pytest.raises(WaportError) as info:
        parse_send_request(body)
    return info.value


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (
            {
                "to": TO,
                "media": {"type": "audio", "url": "https://x.example/a.ogg", "filename": "a"},
            },
            "VALIDATION_FAILED",
            "media.filename",
        ),
        (
            {"to": TO, "media": {"type": "image", "url": "https://x.example/a.png", "voice": True}},
            "VALIDATION_FAILED",
            "media.voice",
        ),
        (
            {
                "to": TO,
                "media": {"type": "image", "url": "https://x.example/a.png", "animated": True},
            },
            "VALIDATION_FAILED",
            "media.animated",
        ),
        (
            {
                "to": TO,
                "media": {
                    "type": "image",
                    "url": "https://x.example/a.png",
                    "mime_type": "not a mime",
                },
            },
            "VALIDATION_FAILED",
            "media.mime_type",
        ),
        (
            {"to": TO, "media": {"type": "hologram", "url": "https://x.example/a.png"}},
            "VALIDATION_FAILED",
            "media.type",
        ),
        (
            {"to": TO, "media": {"type": "image", "url": "https://x.example/a.png", "extra": 1}},
            "VALIDATION_FAILED",
            "media.extra",
        ),
        ({"to": TO, "media": {"type": "image", "url": 5}}, "VALIDATION_FAILED", "media.url"),
        ({"to": TO, "media": "https://x.example/a.png"}, "VALIDATION_FAILED", "media"),
        ({"to": TO, "text": ["x"]}, "VALIDATION_FAILED", "text"),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "header": {"type": "text"},
                    "buttons": [{"id": "a", "title": "A"}],
                },
            },
            "VALIDATION_FAILED",
            "interactive.header.text",
        ),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "header": {"type": "text", "text": "h", "x": 1},
                    "buttons": [{"id": "a", "title": "A"}],
                },
            },
            "VALIDATION_FAILED",
            "interactive.header.x",
        ),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "list",
                    "body": "b",
                    "button": "B",
                    "header": {"type": "image", "url": "https://x.example/a.png"},
                    "sections": [{"rows": [{"id": "a", "title": "A"}]}],
                },
            },
            "VALIDATION_FAILED",
            "interactive.header.type",
        ),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "header": {"type": "audio", "url": "https://x.example/a.ogg"},
                    "buttons": [{"id": "a", "title": "A"}],
                },
            },
            "VALIDATION_FAILED",
            "interactive.header.type",
        ),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "header": {"type": "image", "url": "https://x.example/a.png", "caption": "c"},
                    "buttons": [{"id": "a", "title": "A"}],
                },
            },
            "CAPTION_NOT_ALLOWED",
            "interactive.header.caption",
        ),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "buttons": [{"type": 5, "title": "A"}],
                },
            },
            "VALIDATION_FAILED",
            "interactive.buttons[0].type",
        ),
        (
            {"to": TO, "interactive": {"type": "carousel", "body": "b"}},
            "VALIDATION_FAILED",
            "interactive.type",
        ),
        ({"to": TO, "interactive": {"body": "b"}}, "VALIDATION_FAILED", "interactive.type"),
        (
            {
                "to": TO,
                "interactive": {
                    "type": "product_list",
                    "catalog_id": "c",
                    "header": {"type": "text", "text": "H"},
                    "body": "b",
                    "sections": [
                        {"title": "s", "product_retailer_ids": [str(i) for i in range(31)]}
                    ],
                },
            },
            "VALIDATION_FAILED",
            "interactive.sections[0].product_retailer_ids",
        ),
        ({"to": TO, "contacts": {"name": "x"}}, "VALIDATION_FAILED", "contacts"),
        (
            {"to": TO, "contacts": [{"name": {"formatted_name": "A"}, "birthday": "2000-1-1"}]},
            "VALIDATION_FAILED",
            "contacts[0].birthday",
        ),
        (
            {"to": TO, "location": {"latitude": "1", "longitude": 2}},
            "VALIDATION_FAILED",
            "location.latitude",
        ),
        (
            {"to": TO, "location": {"latitude": True, "longitude": 2}},
            "VALIDATION_FAILED",
            "location.latitude",
        ),
        (
            {"to": TO, "location": {"latitude": 1, "longitude": 2, "name": ""}},
            "VALIDATION_FAILED",
            "location.name",
        ),
        (
            {"to": TO, "sender_id": "s", "template": {"name": "t", "language": "english"}},
            "VALIDATION_FAILED",
            "template.language",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {"name": "t", "language": "en", "params": "a"},
            },
            "VALIDATION_FAILED",
            "template.params",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {"name": "t", "language": "en", "params": {"1": ""}},
            },
            "VALIDATION_FAILED",
            "template.params.1",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {"name": "t", "language": "en", "params": {"1": {"type": "bitcoin"}}},
            },
            "VALIDATION_FAILED",
            "template.params.1.type",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "params": {"1": {"type": "currency", "code": "USD"}},
                },
            },
            "VALIDATION_FAILED",
            "template.params.1.fallback_value",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "header": {"type": "text", "params": ["a"], "x": 1},
                },
            },
            "VALIDATION_FAILED",
            "template.header.x",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "header": {"type": "audio", "url": "https://x.example/a.ogg"},
                },
            },
            "VALIDATION_FAILED",
            "template.header.type",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "header": {"type": "image", "url": "https://x.example/a.png", "caption": "c"},
                },
            },
            "CAPTION_NOT_ALLOWED",
            "template.header.caption",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "buttons": [{"index": 0, "param": "a"}, {"index": 0, "param": "b"}],
                },
            },
            "VALIDATION_FAILED",
            "template.buttons[1].index",
        ),
        (
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "buttons": [{"index": "0", "param": "a"}],
                },
            },
            "VALIDATION_FAILED",
            "template.buttons[0].index",
        ),
        (
            {"to": TO, "sender_id": "s", "template": {"name": "t", "language": "en", "otp": " "}},
            "VALIDATION_FAILED",
            "template.otp",
        ),
        ({"to": TO, "text": "x", "metadata": {"k" * 65: 1}}, "VALIDATION_FAILED", "metadata"),
        (
            {"to": TO, "text": "x", "metadata": {str(i): i for i in range(51)}},
            "VALIDATION_FAILED",
            "metadata",
        ),
        ({"to": TO, "text": "x", "metadata": {"k": "v" * 1025}}, "VALIDATION_FAILED", "metadata.k"),
        ({"to": TO, "text": "x", "metadata": "x"}, "VALIDATION_FAILED", "metadata"),
        ({"to": TO, "text": "x", "metadata": {"k": 1e400}}, "VALIDATION_FAILED", "metadata.k"),
        (
            {"to": TO, "text": "x", "contact": {"metadata": {"k": -1e400}}},
            "VALIDATION_FAILED",
            "contact.metadata.k",
        ),
        (
            {"to": TO, "text": "x", "contact": {"labels": ["a"] * 51}},
            "VALIDATION_FAILED",
            "contact.labels",
        ),
        ({"to": TO, "text": "x", "scheduled_at": 5}, "VALIDATION_FAILED", "scheduled_at"),
        ({"to": TO, "text": "x", "scheduled_at": "tomorrow"}, "VALIDATION_FAILED", "scheduled_at"),
        ({"to": TO, "text": "x", "sender_id": ""}, "VALIDATION_FAILED", "sender_id"),
        ({"to": TO, "text": "x", "reply_to": 1}, "VALIDATION_FAILED", "reply_to"),
        ({"to": 5, "text": "x"}, "INVALID_RECIPIENT", "to"),
    ],
)
def test_each_rule_names_its_field(body: dict[str, Any], code: str, param: str) -> None:
    err = error(body)
    assert (err.code.value, err.param) == (code, param)


def test_several_failures_report_the_first_and_list_the_rest() -> None:
    err = error({"to": TO, "location": {"latitude": "x", "longitude": "y"}})
    assert err.param == "location.latitude"
    assert any("location.longitude" in d for d in err.details)


@pytest.mark.parametrize(
    "interactive",
    [
        {
            "type": "button",
            "body": "b",
            "header": "A header",
            "buttons": [{"id": "a", "title": "A"}],
        },
        {
            "type": "buttons",
            "body": "b",
            "header": {"type": "video", "id": "123"},
            "buttons": [{"type": "copy", "title": "Code", "code": "X1"}],
        },
        {
            "type": "catalog",
            "body": "See our catalog",
            "footer": "f",
            "thumbnail_product_retailer_id": "sku1",
        },
        {
            "type": "product",
            "catalog_id": "c1",
            "product_retailer_id": "sku1",
            "body": "b",
            "footer": "f",
        },
        {
            "type": "product_list",
            "catalog_id": "c1",
            "header": "Our picks",
            "body": "b",
            "sections": [{"title": "s", "product_retailer_ids": ["a", "b"]}],
        },
        {
            "type": "cta_url",
            "body": "b",
            "display_text": "Open",
            "url": "https://example.com",
            "header": {"type": "document", "url": "https://x.example/a.pdf"},
            "footer": "f",
        },
        {
            "type": "list",
            "body": "b",
            "button": "B",
            "header": {"text": "H"},
            "footer": "f",
            "sections": [{"rows": [{"id": "a", "title": "A", "description": "d"}]}],
        },
    ],
)
def test_every_interactive_type_round_trips(interactive: dict[str, Any]) -> None:
    message = parse_send_request(
        {
            "to": TO,
            "interactive": interactive,
            "reply_to": "wamid.1",
            "webhook_url": "https://h.example/x",
        }
    )
    assert parse_send_request(to_request_dict(message)) == message


def test_media_and_template_round_trips() -> None:
    bodies = [
        {
            "to": TO,
            "media": {
                "type": "document",
                "id": "m1",
                "filename": "f.pdf",
                "caption": "c",
                "mime_type": "application/pdf",
            },
        },
        {"to": TO, "media": {"type": "audio", "url": "https://x.example/v.ogg", "voice": True}},
        {"to": TO, "media": {"data": "data:image/webp;base64,UklGRg==", "animated": True}},
        {"to": TO, "text": {"body": "see https://example.com", "preview_url": True}},
        {
            "to": TO,
            "sender_id": "s",
            "template": {
                "name": "t",
                "language": "pt_BR",
                "params": {
                    "name": "Ana",
                    "total": {
                        "type": "currency",
                        "fallback_value": "$1",
                        "code": "USD",
                        "amount_1000": 1000,
                    },
                },
                "header": {
                    "type": "text",
                    "params": {"1": {"type": "date_time", "fallback_value": "today"}},
                },
                "buttons": [{"index": 1, "param": "abc"}],
                "otp": "123456",
            },
            "check_window": False,
            "expires_at": "2026-12-01T10:00:00+00:00",
            "contact": {"name": "Ana", "labels": ["vip"], "metadata": {"tier": 1}},
        },
        {
            "to": TO,
            "contacts": [
                {
                    "name": {"formatted_name": "A", "first_name": "A"},
                    "emails": [{"email": "a@x.example"}],
                    "urls": [{"url": "https://a"}],
                    "addresses": [{"city": "Dar"}],
                    "org": {"company": "Acme"},
                    "birthday": "2000-01-01",
                }
            ],
        },
    ]
    for body in bodies:
        message = parse_send_request(body)
        assert parse_send_request(to_request_dict(message)) == message


def test_classes_validate_when_built_directly() -> None:
    with pytest.raises(WaportError):
        Media(kind=MediaKind.IMAGE, source=MediaUrl("https://x.example/a.png"), filename="x")
    with pytest.raises(WaportError):
        HeaderMedia(media=Media(kind=MediaKind.AUDIO, source=MediaUrl("https://x.example/a.ogg")))
    with pytest.raises(WaportError):
        InteractiveHeaderMedia(
            Media(kind=MediaKind.STICKER, source=MediaUrl("https://x.example/a.webp"))
        )
    assert CatalogMessage(body="b").type == "catalog"
    assert ProductMessage(catalog_id="c", product_retailer_id="p").mode == "interactive"
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the rule under test
    with pytest.raises(WaportError):
        OutboundMessage(to=parse_recipient(TO), content=Text("x"), scheduled_at=naive)
    assert ProductListMessage.type == "product_list"


@pytest.mark.parametrize(
    "url", ["https://", "mailto:a@b", "http://exa mple.com", "//x.example", "https://[::1"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(WaportError):
        check_http_url(url, "u")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("", False),
        ("👍" * 20, False),
        ("a👍", False),
        ("👍\u200d", False),
        ("\ufe0f", False),
        ("#️⃣", True),
        ("\U0001f3fb", False),
    ],
)
def test_emoji_edges(text: str, ok: bool) -> None:
    assert is_single_emoji(text) == ok


def test_broadcast_plan_edges() -> None:
    template = parse_send_request(
        {"to": TO, "sender_id": "s", "template": {"name": "t", "language": "en"}}
    ).content
    row = BroadcastRecipient(to=parse_recipient(TO))
    with pytest.raises(WaportError) as info:
        plan_broadcast(BroadcastRequest(template=template, recipients=(), sender_id="s"))  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.VALIDATION_FAILED
    with pytest.raises(WaportError) as info:
        plan_broadcast(BroadcastRequest(template=template, recipients=(row,) * 257, sender_id="s"))  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.TOO_MANY_RECIPIENTS
    planned = plan_broadcast(BroadcastRequest(template=template, recipients=(row,)))  # type: ignore[arg-type]
    assert [m.sender_id for m in planned] == [None]  # the workspace's default sender sends it
    for body, param in [
        ([], None),
        (
            {
                "template": {"name": "t", "language": "en"},
                "sender_id": "s",
                "recipients": [{"to": TO, "x": 1}],
            },
            "recipients[0].x",
        ),
        (
            {
                "template": {"name": "t", "language": "en"},
                "sender_id": "s",
                "recipients": [{"to": TO}],
                "surprise": 1,
            },
            "surprise",
        ),
        (
            {
                "template": {"name": "t", "language": "en"},
                "sender_id": "s",
                "recipients": [{"to": TO, "template_params": 5}],
            },
            "recipients[0].template_params",
        ),
    ]:
        with pytest.raises(WaportError) as info:
            parse_broadcast_request(body)
        assert info.value.param == param


def test_event_payloads() -> None:
    message = InboundMessage(
        provider="p",
        provider_message_id="w1",
        sender_id="s",
        contact=parse_recipient("120363025246125486@g.us"),
        received_at=T0,
        kind="button_reply",
        text="Yes",
        contact_name="Ana",
        reply_to="wamid.0",
        author=parse_recipient(TO),
        payload={"id": "yes"},
    )
    data = inbound_payload(message_id="m1", message=message, reply_to_message_id="m0")
    assert (data["contact_name"], data["author"], data["content"], data["reply_to_message_id"]) == (
        "Ana",
        TO,
        {"id": "yes"},
        "m0",
    )
    status = status_payload(
        message_id="m1",
        status=MessageStatus.FAILED,
        at=T0,
        to=parse_recipient(TO),
        sender_id="s",
        provider_message_id="w",
        error=ErrorDetail(code="INTERNAL", message="y"),
        broadcast_id="b",
        metadata={"k": 1},
    )
    assert (status["broadcast_id"], status["metadata"], status["error"]) == (
        "b",
        {"k": 1},
        {"code": "INTERNAL", "message": "y"},
    )


def test_schedule_edges() -> None:
    assert webhook_retry_at(T0, 0, 0.5) is None
    assert webhook_retry_at(T0, 1, 0.5, retry_after=120) == T0.replace(minute=2)
    assert is_due(None, T0)
    assert is_due(T0, T0)


@given(
    st.datetimes(
        timezones=st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        )
    ),
    st.sampled_from(["scheduled_at", "expires_at"]),
)
@example(datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2))), "scheduled_at")
@example(datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=14))), "expires_at")
@example(datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=2))), "scheduled_at")
def test_any_iso_date_time_is_its_utc_instant_or_a_validation_error(
    when: datetime, field: str
) -> None:
    body = {"to": TO, "text": "x", field: when.isoformat()}
    try:
        utc = when.astimezone(UTC)
    except OverflowError:  # the instant lies outside years 1-9999 in UTC
        err = error(body)
        assert (err.code, err.param) == (ErrorCode.VALIDATION_FAILED, field)
        assert err.message == "must fall within the years 1 to 9999 in UTC"
        return
    parsed = getattr(parse_send_request(body), field)
    assert parsed == utc
    assert parsed.tzinfo is UTC


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_an_integer_is_one_however_json_writes_it(n: int) -> None:
    assert json_int(n) == n
    assert json_int(float(n)) == n  # 5.0 is an integer, as JSON Schema counts it


@pytest.mark.parametrize("value", [True, False, 1.5, float("nan"), float("inf"), "1", None, [1]])
def test_what_is_not_an_integer(value: object) -> None:
    assert json_int(value) is None
