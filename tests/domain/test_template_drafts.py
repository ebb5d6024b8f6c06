"""A template to create: every valid draft parses into a spec whose own examples send,
and each broken rule is refused with VALIDATION_FAILED naming the field."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.messages import ButtonParam, HeaderText, TemplateMessage
from waport.domain.template_drafts import AUTH_BODY, parse_draft
from waport.domain.templates import (
    ButtonKind,
    TemplateCategory,
    TemplateStatus,
    check_template_params,
    placeholders,
)

WORDS = st.text(alphabet="abcdefghij ", min_size=1, max_size=12).map(lambda w: w.strip() or "x")
NAMES = st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), unique=True, max_size=4)


@st.composite
def drafts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid create body: numbered or named parameters between words, examples for
    each, maybe a text header, a footer and buttons in an allowed combination."""
    named = draw(st.booleans())
    keys = draw(NAMES) if named else [str(i) for i in range(1, draw(st.integers(0, 4)) + 1)]
    order = draw(st.permutations(keys))
    parts = [draw(WORDS)]
    for key in order:
        parts += [f"{{{{{key}}}}}", draw(WORDS)]
    body: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z0-9_]{1,20}", fullmatch=True)),
        "language": draw(st.sampled_from(["en", "en_US", "pt_BR", "ind"])),
        "category": draw(st.sampled_from(["MARKETING", "UTILITY"])),
        "body": " ".join(parts),
    }
    if keys:
        body["examples"] = {k: draw(WORDS) for k in keys}
    if draw(st.booleans()):
        header_key = draw(st.from_regex(r"[a-z_]{1,8}", fullmatch=True)) if named else "1"
        with_param = draw(st.booleans())
        header: dict[str, Any] = {
            "format": "TEXT",
            "text": f"Hi {{{{{header_key}}}}}" if with_param else "Hello",
        }
        if with_param:
            header["examples"] = {header_key: "Ana"}
        body["header"] = header
    if draw(st.booleans()):
        body["footer"] = draw(WORDS)
    quick = [{"type": "QUICK_REPLY", "text": f"Option {i}"} for i in range(draw(st.integers(0, 3)))]
    others: list[dict[str, Any]] = []
    if draw(st.booleans()):
        others.append(
            {
                "type": "URL",
                "text": "Track",
                "url": "https://shop.example/t/{{1}}",
                "example": "https://shop.example/t/A1",
            }
        )
    if draw(st.booleans()):
        others.append({"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550001111"})
    buttons = quick + others if draw(st.booleans()) else others + quick
    if buttons:
        body["buttons"] = buttons
    return body


def refused(body: object, param: str) -> WaportError:
    with pytest.raises(WaportError) as caught:
        parse_draft(body, "s1")
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    assert caught.value.param == param, caught.value
    return caught.value


@given(drafts())
def test_a_valid_draft_becomes_a_spec_that_sends_with_its_own_examples(
    body: dict[str, Any],
) -> None:
    draft = parse_draft(body, "s1")
    spec = draft.spec(status=TemplateStatus.APPROVED, provider_id="42")
    assert (spec.sender_id, spec.name, spec.language) == ("s1", body["name"], body["language"])
    assert set(spec.body_params) == set(placeholders(body["body"]))
    assert [b.kind.value for b in spec.buttons] == [b["type"] for b in body.get("buttons", [])]
    header = body.get("header", {})
    message = TemplateMessage(
        name=spec.name,
        language=spec.language,
        params=body.get("examples", {}),
        header=HeaderText(params=header["examples"]) if "examples" in header else None,
        buttons=tuple(
            ButtonParam(index=i, param="A1")
            for i, b in enumerate(body.get("buttons", []))
            if b["type"] == "URL"
        ),
    )
    bound = check_template_params(spec, message)
    assert dict(bound.body) == body.get("examples", {})


@given(drafts(), st.data())
def test_a_missing_or_unknown_example_is_refused_by_name(
    body: dict[str, Any], data: st.DataObject
) -> None:
    keys = placeholders(body["body"])
    if keys:
        gone = data.draw(st.sampled_from(keys))
        examples = {k: v for k, v in body["examples"].items() if k != gone}
        refused({**body, "examples": examples}, f"examples.{gone}")
    refused({**body, "examples": {**body.get("examples", {}), "zzz": "x"}}, "examples.zzz")


@given(drafts())
def test_a_parameter_at_either_end_of_the_body_is_refused(body: dict[str, Any]) -> None:
    keys = placeholders(body["body"])
    key = keys[0] if keys else "1"
    examples = body.get("examples", {key: "x"})
    refused({**body, "body": f"{{{{{key}}}}} {body['body']}", "examples": examples}, "body")
    refused({**body, "body": f"{body['body']} {{{{{key}}}}}", "examples": examples}, "body")


@given(drafts())
def test_quick_replies_split_by_another_button_are_refused(body: dict[str, Any]) -> None:
    reply = {"type": "QUICK_REPLY", "text": "Yes"}
    call = {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550001111"}
    refused({**body, "buttons": [reply, call, reply]}, "buttons")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"name": "Order-Update"}, "name"),
        ({"language": "english"}, "language"),
        ({"category": "PROMO"}, "category"),
        ({"body": "x" * 1025}, "body"),
        ({"body": "Hi {{1}} and {{name}} ok", "examples": {"1": "a", "name": "b"}}, "body"),
        ({"body": "Hi {{1}} and {{3}} ok", "examples": {"1": "a", "3": "b"}}, "body"),
        ({"body": "Hi {{First}} ok", "examples": {"First": "a"}}, "body"),
        ({"footer": "x" * 61}, "footer"),
        ({"footer": "Bye {{1}}"}, "footer"),
        ({"header": {"format": "TEXT", "text": "x" * 61}}, "header.text"),
        (
            {"header": {"format": "TEXT", "text": "{{1}} {{2}}", "examples": {"1": "a"}}},
            "header.text",
        ),
        ({"header": {"format": "TEXT", "text": "Hi {{1}}"}}, "header.examples.1"),
        ({"header": {"format": "IMAGE"}}, "header.example"),
        ({"header": {"format": "IMAGE", "text": "x", "example": "h"}}, "header.text"),
        ({"header": {"format": "GIFT"}}, "header.format"),
        ({"colour": "red"}, "colour"),
        ({"buttons": [{"type": "QUICK_REPLY", "text": "x" * 26}]}, "buttons[0].text"),
        ({"buttons": [{"type": "URL", "text": "Go", "url": "ftp://x"}]}, "buttons[0].url"),
        (
            {"buttons": [{"type": "URL", "text": "Go", "url": "https://x/{{1}}/y"}]},
            "buttons[0].url",
        ),
        (
            {"buttons": [{"type": "URL", "text": "Go", "url": "https://x/{{1}}"}]},
            "buttons[0].example",
        ),
        (
            {"buttons": [{"type": "PHONE_NUMBER", "text": "Call", "phone_number": "call me"}]},
            "buttons[0].phone_number",
        ),
        (
            {"buttons": [{"type": "URL", "text": "Go", "url": "https://x", "example": "y"}]},
            "buttons[0].example",
        ),
        ({"buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]}, "buttons"),  # UTILITY
        ({"buttons": [{"type": "OTP"}]}, "buttons"),
        ({"buttons": [{"type": "FLOW", "text": "Go"}]}, "buttons[0].type"),
        ({"buttons": [{"type": "QUICK_REPLY", "text": "a"}] * 11}, "buttons"),
        (
            {"buttons": [{"type": "URL", "text": "Go", "url": "https://x"}] * 3},
            "buttons",
        ),
        ({"buttons": [{"type": "QUICK_REPLY", "text": "a", "url": "https://x"}]}, "buttons[0].url"),
    ],
)
def test_each_rule_names_its_field(change: dict[str, Any], param: str) -> None:
    body = {"name": "order_update", "language": "en_US", "category": "UTILITY", "body": "Hi there"}
    refused({**body, **change}, param)


def test_a_marketing_template_may_have_one_copy_code_button() -> None:
    body = {
        "name": "promo",
        "language": "en",
        "category": "MARKETING",
        "body": "Take {{1}} off today",
        "examples": {"1": "10%"},
        "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}],
    }
    spec = parse_draft(body, "s1").spec(status=TemplateStatus.PENDING, provider_id=None)
    assert [(b.kind, b.dynamic) for b in spec.buttons] == [(ButtonKind.COPY_CODE, True)]
    refused({**body, "buttons": body["buttons"] * 2}, "buttons")
    refused({**body, "buttons": [{"type": "COPY_CODE", "example": "x" * 16}]}, "buttons[0].example")


def test_an_authentication_template_is_one_otp_button_and_meta_writes_its_text() -> None:
    body = {
        "name": "login_code",
        "language": "en",
        "category": "AUTHENTICATION",
        "buttons": [{"type": "OTP", "text": "Copy code"}],
    }
    draft = parse_draft(body, "s1")
    spec = draft.spec(status=TemplateStatus.PENDING, provider_id="7")
    assert (spec.category, spec.body, spec.body_params) == (
        TemplateCategory.AUTHENTICATION,
        AUTH_BODY,
        ("1",),
    )
    sent = check_template_params(
        attrs.evolve(spec, status=TemplateStatus.APPROVED),
        TemplateMessage(name="login_code", language="en", otp="123456"),
    )
    assert dict(sent.body) == {"1": "123456"}
    refused({**body, "body": "Your code"}, "body")
    refused({**body, "buttons": [{"type": "QUICK_REPLY", "text": "x"}]}, "buttons")
    refused({**body, "buttons": []}, "buttons")
