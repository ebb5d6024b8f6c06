"""The filters of ``GET /v1/messages``: each checked with the parameter named, and the
opaque cursor that always decodes to what it encoded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.listing import MAX_LIMIT, Cursor, parse_message_query
from waport.domain.recipients import parse_recipient
from waport.domain.status import MessageStatus


@given(st.integers(0, 2**62), st.text(min_size=1, max_size=60).filter(lambda t: "\x00" not in t))
def test_a_cursor_decodes_to_what_it_encoded(created_us: int, message_id: str) -> None:
    cursor = Cursor(created_us=created_us, message_id=message_id)
    assert Cursor.decode(cursor.encode()) == cursor


@given(st.text(max_size=80))
def test_anything_else_is_not_a_cursor_or_decodes_cleanly(text: str) -> None:
    try:
        Cursor.decode(text)
    except WaportError as err:
        assert (err.code, err.param) == (ErrorCode.INVALID_CURSOR, "cursor")


def test_every_filter_is_parsed() -> None:
    query = parse_message_query(
        {
            "contact": "+255 712 345 678",
            "sender_id": "s1",
            "direction": "inbound",
            "status": "read",
            "mode": "media",
            "broadcast_id": "bc_1",
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-02-01T00:00:00",
            "limit": "200",
            "cursor": Cursor(created_us=5, message_id="msg_1").encode(),
        },
        workspace_id="ws1",
        senders=frozenset({"s1"}),
    )
    assert query.contact == parse_recipient("255712345678")
    assert (query.sender_id, query.direction, query.status, query.mode) == (
        "s1",
        "inbound",
        MessageStatus.READ,
        "media",
    )
    assert query.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.until == datetime(2026, 2, 1, tzinfo=UTC)  # no zone: UTC
    assert (query.limit, query.after, query.senders) == (
        MAX_LIMIT,
        Cursor(created_us=5, message_id="msg_1"),
        frozenset({"s1"}),
    )
    assert parse_message_query({}, workspace_id="ws1").limit == 50


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"limit": "0"}, ErrorCode.VALIDATION_FAILED, "limit"),
        ({"limit": "201"}, ErrorCode.VALIDATION_FAILED, "limit"),
        ({"limit": "ten"}, ErrorCode.VALIDATION_FAILED, "limit"),
        ({"status": "lost"}, ErrorCode.VALIDATION_FAILED, "status"),
        ({"mode": "fax"}, ErrorCode.VALIDATION_FAILED, "mode"),
        ({"direction": "sideways"}, ErrorCode.VALIDATION_FAILED, "direction"),
        ({"since": "yesterday"}, ErrorCode.VALIDATION_FAILED, "since"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, ErrorCode.VALIDATION_FAILED, "until"),
        ({"cursor": "!!"}, ErrorCode.INVALID_CURSOR, "cursor"),
        ({"contact": "not a number"}, ErrorCode.INVALID_RECIPIENT, "contact"),
        ({"colour": "red"}, ErrorCode.VALIDATION_FAILED, "colour"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(
    params: dict[str, str], code: ErrorCode, param: str
) -> None:
    with pytest.raises(WaportError) as info:
        parse_message_query(params, workspace_id="ws1")
    assert (info.value.code, info.value.param) == (code, param)
