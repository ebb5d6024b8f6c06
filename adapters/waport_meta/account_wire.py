"""Meta's account signals as events: ``phone_number_quality_update`` (a number's quality
flag and messaging limit) and ``account_update`` (bans, restrictions, violations)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from waport.domain.events import SenderUpdate
from waport_meta.inbound import PROVIDER

ACCOUNT_FIELDS: Final = frozenset({"phone_number_quality_update", "account_update"})
_BANNED: Final = frozenset({"DISABLE"})
"""``ban_info.waba_ban_state`` values after which the account's numbers cannot send
(``SCHEDULE_FOR_DISABLE`` still sends until its date: it is kept as the reason only)."""
_REINSTATED: Final = "REINSTATE"


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _reason(value: Mapping[str, Any]) -> str | None:
    """What an account update says beyond its event: the ban, restriction or violation."""
    parts: list[str] = []
    ban = value.get("ban_info")
    if isinstance(ban, Mapping) and ban.get("waba_ban_state"):
        parts.append(f"ban {ban['waba_ban_state']}")
    violation = value.get("violation_info")
    if isinstance(violation, Mapping) and violation.get("violation_type"):
        parts.append(f"violation {violation['violation_type']}")
    restrictions = value.get("restriction_info")
    if isinstance(restrictions, list):
        parts.extend(
            f"restricted {r['restriction_type']}"
            for r in restrictions
            if isinstance(r, Mapping) and r.get("restriction_type")
        )
    return "; ".join(parts) or None


def sender_update(field: str, value: Mapping[str, Any], *, at: datetime) -> SenderUpdate:
    """One account webhook change as an event (its senders filled in by the provider)."""
    event = _text(value.get("event"))
    if field == "phone_number_quality_update":
        limit = value.get("current_limit") or value.get("max_daily_conversations_per_business")
        return SenderUpdate(
            provider=PROVIDER,
            sender_ids=(),
            at=at,
            phone=_text(value.get("display_phone_number")),
            quality=event,
            messaging_limit=_text(limit),
            raw=value,
        )
    ban = value.get("ban_info")
    state = str(ban.get("waba_ban_state", "")) if isinstance(ban, Mapping) else ""
    available = False if state in _BANNED else True if state == _REINSTATED else None
    return SenderUpdate(
        provider=PROVIDER,
        sender_ids=(),
        at=at,
        phone=_text(value.get("phone_number")),
        available=available,
        state=event,
        reason=_reason(value),
        raw=value,
    )
