"""The error catalogue is a contract; the public API is pinned; messages round-trip."""

from __future__ import annotations

import inspect
import pickle

import pytest
from hypothesis import given

import waport
from waport import ErrorCode, OutboundMessage, WaportError, parse_send_request, to_request_dict
from waport.domain.errors import CATALOGUE
from waport.testing.strategies import outbound_messages

# Released codes: (HTTP status, retryable). Changing a row is a breaking change.
SNAPSHOT = {
    "VALIDATION_FAILED": (400, False),
    "INVALID_RECIPIENT": (400, False),
    "MODE_REQUIRED": (400, False),
    "MODE_CONFLICT": (400, False),
    "CAPTION_NOT_ALLOWED": (400, False),
    "MEDIA_TOO_LARGE": (400, False),
    "MEDIA_TYPE_UNSUPPORTED": (400, False),
    "BASE64_NOT_SUPPORTED": (400, False),
    "FEATURE_NOT_SUPPORTED": (400, False),
    "INVALID_API_KEY": (401, False),
    "INVALID_SIGNATURE": (401, False),
    "INSUFFICIENT_SCOPE": (403, False),
    "FORBIDDEN": (403, False),
    "NOT_FOUND": (404, False),
    "TEMPLATE_NOT_FOUND": (404, False),
    "MESSAGE_NOT_FOUND": (404, False),
    "BROADCAST_NOT_FOUND": (404, False),
    "MEDIA_NOT_FOUND": (404, False),
    "MEDIA_FETCH_FAILED": (502, False),
    "RANGE_NOT_SATISFIABLE": (416, False),
    "METHOD_NOT_ALLOWED": (405, False),
    "IDEMPOTENCY_IN_PROGRESS": (409, True),
    "LAST_ADMIN_KEY": (409, False),
    "PAYLOAD_TOO_LARGE": (413, False),
    "REQUEST_TIMEOUT": (408, True),
    "UNSUPPORTED_MEDIA_TYPE": (415, False),
    "URL_NOT_ALLOWED": (400, False),
    "WINDOW_CLOSED": (422, False),
    "TEMPLATE_NOT_APPROVED": (422, False),
    "TEMPLATE_PARAM_COUNT_MISMATCH": (422, False),
    "MISSING_TEMPLATE_VARIABLES": (422, False),
    "SENDER_REQUIRED": (422, False),
    "SENDER_NOT_FOUND": (422, False),
    "DUPLICATE_RECIPIENT": (422, False),
    "TOO_MANY_RECIPIENTS": (422, False),
    "INVALID_MESSAGE": (422, False),
    "IDEMPOTENCY_KEY_REUSED": (422, False),
    "BILLING_SUSPENDED": (422, False),
    "RECIPIENT_NOT_ON_WHATSAPP": (422, False),
    "RECIPIENT_OPTED_OUT": (422, False),
    "CONTACT_ERASED": (410, False),
    "WORKSPACE_EXISTS": (409, False),
    "TEMPLATE_EXISTS": (409, False),
    "SENDER_IN_USE": (409, False),
    "EXPIRED": (422, False),
    "INVALID_CURSOR": (422, False),
    "NOT_PREPAID": (409, False),
    "INSUFFICIENT_BALANCE": (402, False),
    "RATE_LIMITED": (429, True),
    "PAIR_RATE_LIMITED": (429, True),
    "MESSAGING_LIMIT_REACHED": (429, False),
    "PROVIDER_REJECTED": (502, False),
    "PROVIDER_AUTH_FAILED": (502, False),
    "PROVIDER_UNAVAILABLE": (503, True),
    "OUTCOME_UNKNOWN": (502, False),
    "STORE_UNAVAILABLE": (503, True),
    "INTERNAL": (500, True),
}


def test_catalogue_covers_exactly_the_enum() -> None:
    assert set(CATALOGUE) == set(ErrorCode)


def test_catalogue_matches_the_released_snapshot() -> None:
    assert {code.value: (code.http_status, code.retryable) for code in ErrorCode} == SNAPSHOT


def test_codes_equal_their_names_and_have_summaries() -> None:
    for code in ErrorCode:
        assert code.value == code.name
        assert code.summary
        assert code.summary.endswith(".")


def test_waport_error_behaves_like_an_exception() -> None:
    err = WaportError(ErrorCode.WINDOW_CLOSED, "closed", "to", provider_code="131047")
    assert str(err) == "WINDOW_CLOSED: closed [to]"
    assert (err.http_status, err.retryable) == (422, False)
    try:
        try:
            raise KeyError("x")
        except KeyError as cause:
            raise err from cause
    except WaportError as caught:
        caught.add_note("context")
        assert isinstance(caught.__cause__, KeyError)
    restored = pickle.loads(pickle.dumps(err))
    assert (restored.code, restored.param, restored.provider_code) == (err.code, "to", "131047")


EXPECTED_ALL = {
    "Recipient",
    "parse_recipient",
    "OutboundMessage",
    "parse_send_request",
    "to_request_dict",
    "BroadcastRequest",
    "BroadcastSummary",
    "parse_broadcast_request",
    "plan_broadcast",
    "window_status",
    "WindowStatus",
    "check_media",
    "MediaKind",
    "TemplateSpec",
    "TemplateStatus",
    "TemplateCategory",
    "check_template_params",
    "MessageStatus",
    "merge_status",
    "RateLimit",
    "RateDecision",
    "gcra",
    "InboundMessage",
    "StatusUpdate",
    "ErrorCode",
    "WaportError",
    "ConfigError",
}


def test_public_names_are_pinned() -> None:
    assert set(waport.__all__) == EXPECTED_ALL
    for name in waport.__all__:
        assert hasattr(waport, name)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("parse_recipient", ["text"]),
        ("parse_send_request", ["body"]),
        ("window_status", ["last_inbound_at", "now"]),
        ("check_media", ["kind", "mime", "size", "animated"]),
        ("check_template_params", ["spec", "message"]),
        ("merge_status", ["current", "incoming"]),
    ],
)
def test_design_section_6_signatures(name: str, params: list[str]) -> None:
    signature = inspect.signature(getattr(waport, name))
    assert [p for p in signature.parameters if p != "param"] == params


def test_check_media_animated_is_keyword_only() -> None:
    assert (
        inspect.signature(waport.check_media).parameters["animated"].kind
        is inspect.Parameter.KEYWORD_ONLY
    )


@given(outbound_messages())
def test_request_dict_round_trip(message: OutboundMessage) -> None:
    assert parse_send_request(to_request_dict(message)) == message
