"""Templates on Meta: a draft goes out in the create shape Meta documents (the fake
Graph API checks it and lists it as PENDING), a delete removes every language, and the
three template webhooks arrive as events for every number of the account."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from tests.domain.test_template_drafts import drafts
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import TemplateUpdate
from waport.domain.template_drafts import parse_draft
from waport.domain.templates import TemplateCategory, TemplateStatus
from waport.testing import FakeClock
from waport_meta.fake import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, meta_harness, sign
from waport_meta.fake_templates import check_template
from waport_meta.provider import MetaCloudProvider
from waport_meta.template_wire import draft_to_graph

pytestmark = pytest.mark.anyio
SECOND_NUMBER = "222000111"
ORDER = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "header": {"format": "TEXT", "text": "Order {{1}}", "examples": {"1": "A-17"}},
    "body": "Hi {{1}}, your order {{2}} is on its way.",
    "examples": {"1": "Ana", "2": "A-17"},
    "footer": "Reply STOP to opt out",
    "buttons": [
        {
            "type": "URL",
            "text": "Track",
            "url": "https://shop.example/t/{{1}}",
            "example": "https://shop.example/t/A-17",
        }
    ],
}


@given(drafts())
@settings(max_examples=50)
def test_every_valid_draft_goes_out_in_the_shape_meta_documents(body: dict[str, Any]) -> None:
    payload = draft_to_graph(parse_draft(body, PHONE_NUMBER_ID))
    assert check_template(payload) == []
    kinds = [c["type"] for c in payload["components"]]
    assert kinds == sorted(kinds, key=["HEADER", "BODY", "FOOTER", "BUTTONS"].index)
    if "examples" in body:
        assert payload["parameter_format"] in ("NAMED", "POSITIONAL")


def test_named_and_numbered_examples_take_metas_two_forms() -> None:
    numbered = draft_to_graph(parse_draft(ORDER, "s"))
    body = next(c for c in numbered["components"] if c["type"] == "BODY")
    assert body["example"] == {"body_text": [["Ana", "A-17"]]}
    header = numbered["components"][0]
    assert header["example"] == {"header_text": ["A-17"]}
    assert numbered["components"][-1]["buttons"][0]["example"] == ["https://shop.example/t/A-17"]
    named = draft_to_graph(
        parse_draft(
            {**ORDER, "body": "Hi {{first_name}} ok", "examples": {"first_name": "Ana"}}
            | {"header": {"format": "TEXT", "text": "Order {{order}}", "examples": {"order": "7"}}},
            "s",
        )
    )
    assert named["parameter_format"] == "NAMED"
    body = next(c for c in named["components"] if c["type"] == "BODY")
    assert body["example"] == {
        "body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]
    }


async def test_a_created_template_is_pending_at_meta_and_a_delete_removes_it() -> None:
    async with meta_harness() as h:
        admin = h.provider.template_admin
        spec = await admin.create_template(
            parse_draft(ORDER, PHONE_NUMBER_ID), sender=PHONE_NUMBER_ID
        )
        assert (spec.status, spec.category, spec.sender_id) == (
            TemplateStatus.PENDING,
            TemplateCategory.UTILITY,
            PHONE_NUMBER_ID,
        )
        assert spec.provider_id is not None
        assert spec.body_params == ("1", "2")
        listed = {t.name: t for t in await h.provider.list_templates(PHONE_NUMBER_ID)}
        assert listed["order_update"].status == TemplateStatus.PENDING
        assert listed["order_update"].body == ORDER["body"]
        assert h.fake.invalid == []
        await admin.delete_template("order_update", sender=PHONE_NUMBER_ID)
        assert "order_update" not in {
            t.name for t in await h.provider.list_templates(PHONE_NUMBER_ID)
        }
        with pytest.raises(WaportError) as gone:
            await admin.delete_template("order_update", sender=PHONE_NUMBER_ID)
        assert gone.value.provider == "meta"


def _webhook(field: str, value: dict[str, Any], *, time: int | None = 1_767_000_000) -> list[Any]:
    provider = MetaCloudProvider(
        http=None,  # type: ignore[arg-type] - webhook parsing makes no calls
        clock=FakeClock(),
        token="t",
        phone_number_ids=(PHONE_NUMBER_ID, SECOND_NUMBER),
        waba_id=WABA_ID,
        app_secret=APP_SECRET,
    )
    entry: dict[str, Any] = {"id": WABA_ID, "changes": [{"field": field, "value": value}]}
    if time is not None:
        entry["time"] = time
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
    return list(provider.parse_webhook(sign(raw), raw))


NAMED = {
    "message_template_id": 12345678,
    "message_template_name": "order_update",
    "message_template_language": "en_US",
}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "message_template_status_update",
            {
                **NAMED,
                "event": "APPROVED",
                "reason": "NONE",
                "message_template_category": "UTILITY",
            },
            {"status": TemplateStatus.APPROVED, "reason": None},
        ),
        (
            "message_template_status_update",
            {**NAMED, "event": "REJECTED", "reason": "INVALID_FORMAT"},
            {"status": TemplateStatus.REJECTED, "reason": "INVALID_FORMAT"},
        ),
        (
            "message_template_status_update",
            {**NAMED, "event": "PAUSED", "reason": None, "other_info": {"title": "FIRST_PAUSE"}},
            {"status": TemplateStatus.PAUSED},
        ),
        (
            "message_template_status_update",
            {**NAMED, "event": "DISABLED", "reason": None, "disable_info": {"disable_date": "1"}},
            {"status": TemplateStatus.DISABLED},
        ),
        (
            "message_template_status_update",
            {**NAMED, "event": "FLAGGED", "reason": None},
            {"status": None, "reason": "FLAGGED"},
        ),
        (
            "message_template_quality_update",
            {**NAMED, "previous_quality_score": "GREEN", "new_quality_score": "YELLOW"},
            {"quality": "YELLOW", "status": None},
        ),
        (
            "template_category_update",
            {**NAMED, "previous_category": "UTILITY", "new_category": "MARKETING"},
            {"category": TemplateCategory.MARKETING},
        ),
    ],
)
def test_template_webhooks_arrive_as_events_for_every_number(
    field: str, value: dict[str, Any], expected: dict[str, Any]
) -> None:
    (event,) = _webhook(field, value)
    assert isinstance(event, TemplateUpdate)
    assert event.sender_ids == (PHONE_NUMBER_ID, SECOND_NUMBER)
    assert (event.name, event.language, event.provider_id) == ("order_update", "en_US", "12345678")
    assert event.at.timestamp() == 1_767_000_000
    for name, wanted in expected.items():
        assert getattr(event, name) == wanted, name


def test_an_unreadable_template_webhook_is_skipped_and_a_timeless_one_takes_its_arrival() -> None:
    assert _webhook("message_template_status_update", {"event": "APPROVED"}) == []
    (event,) = _webhook("message_template_status_update", {**NAMED, "event": "APPROVED"}, time=None)
    assert event.at == FakeClock().now()


def test_a_template_webhook_needs_the_signature() -> None:
    with pytest.raises(WaportError) as info:
        MetaCloudProvider(
            http=None,  # type: ignore[arg-type]
            clock=FakeClock(),
            token="t",
            phone_number_ids=(PHONE_NUMBER_ID,),
            app_secret=APP_SECRET,
        ).parse_webhook({}, b'{"entry": []}')
    assert info.value.code == ErrorCode.INVALID_SIGNATURE
