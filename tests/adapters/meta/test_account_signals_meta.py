"""Meta's account signals, from the documented webhook shapes: a number's quality and
messaging limit (``phone_number_quality_update``) and its account's bans, restrictions
and violations (``account_update``) arrive as sender updates for the account's numbers."""

from __future__ import annotations

from typing import Any

import pytest

from waport.domain.events import SenderUpdate
from waport_meta.fake import PHONE_NUMBER_ID

from .test_templates_meta import SECOND_NUMBER, _webhook


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "FLAGGED",
                "current_limit": "TIER_1K",
            },
            {"phone": "15550783881", "quality": "FLAGGED", "messaging_limit": "TIER_1K"},
        ),
        (
            "phone_number_quality_update",
            {
                "display_phone_number": "15550783881",
                "event": "UPGRADE",
                "old_limit": "TIER_1K",
                "max_daily_conversations_per_business": "TIER_10K",
            },
            {"quality": "UPGRADE", "messaging_limit": "TIER_10K", "available": None},
        ),
        (
            "account_update",
            {
                "phone_number": "15550783881",
                "event": "DISABLED_UPDATE",
                "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "2026-12-01"},
            },
            {"available": False, "state": "DISABLED_UPDATE", "reason": "ban DISABLE"},
        ),
        (
            "account_update",
            {"event": "ACCOUNT_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}},
            {"available": True, "phone": None},
        ),
        (
            "account_update",
            {"event": "ACCOUNT_UPDATE", "ban_info": {"waba_ban_state": "SCHEDULE_FOR_DISABLE"}},
            {"available": None, "reason": "ban SCHEDULE_FOR_DISABLE"},
        ),
        (
            "account_update",
            {
                "event": "ACCOUNT_RESTRICTION",
                "restriction_info": [
                    {"restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION", "expiration": 1}
                ],
            },
            {"available": None, "reason": "restricted RESTRICTED_ADD_PHONE_NUMBER_ACTION"},
        ),
        (
            "account_update",
            {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}},
            {"available": None, "state": "ACCOUNT_VIOLATION", "reason": "violation SCAM"},
        ),
    ],
)
def test_account_signals_arrive_as_sender_updates(
    field: str, value: dict[str, Any], expected: dict[str, Any]
) -> None:
    (event,) = _webhook(field, value)
    assert isinstance(event, SenderUpdate)
    assert event.sender_ids == (PHONE_NUMBER_ID, SECOND_NUMBER)
    assert event.at.timestamp() == 1_767_000_000
    for name, wanted in expected.items():
        assert getattr(event, name) == wanted, name
