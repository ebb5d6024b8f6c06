"""WAHA's ``session.status``: a session sends only while WORKING; its time is the
envelope's, else when the event arrived."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from waport.domain.events import SenderUpdate
from waport_web.wire import parse_envelope

RECEIVED = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "available"),
    [("WORKING", True), ("SCAN_QR_CODE", False), ("FAILED", False), ("STARTING", False)],
)
def test_a_session_sends_only_while_working(status: str, available: bool) -> None:
    envelope = {
        "event": "session.status",
        "session": "shop",
        "timestamp": 1_767_000_000_000,
        "payload": {"status": status},
    }
    (event,) = parse_envelope(envelope, RECEIVED)
    assert isinstance(event, SenderUpdate)
    assert (event.sender_ids, event.state, event.available) == (("shop",), status, available)
    assert event.at.timestamp() == 1_767_000_000
    del envelope["timestamp"]
    (timeless,) = parse_envelope(envelope, RECEIVED)
    assert timeless.at == RECEIVED


def test_a_session_status_without_a_status_is_skipped() -> None:
    envelope = {"event": "session.status", "session": "shop", "payload": {"status": ""}}
    assert parse_envelope(envelope, RECEIVED) == []
