"""The 24-hour customer-service window.

The window for (contact, sender) opens at each inbound message from the contact
and closes 24 h after the latest one. ``window_status`` is a pure function of the
latest inbound time and ``now``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from waport.domain.limits import CUSTOMER_SERVICE_WINDOW
from waport.domain.messages import Content, TemplateMessage

WindowReason = Literal["within_window", "window_expired", "no_inbound_history"]


@attrs.frozen(kw_only=True)
class WindowStatus:
    within_window: bool
    reason: WindowReason
    last_inbound_at: datetime | None
    hours_since_last_inbound: float | None
    expires_at: datetime | None


def window_status(last_inbound_at: datetime | None, now: datetime) -> WindowStatus:
    """The window answer for a contact whose latest inbound message was at ``last_inbound_at``."""
    if last_inbound_at is None:
        return WindowStatus(
            within_window=False,
            reason="no_inbound_history",
            last_inbound_at=None,
            hours_since_last_inbound=None,
            expires_at=None,
        )
    elapsed = now - last_inbound_at
    within = elapsed < CUSTOMER_SERVICE_WINDOW
    return WindowStatus(
        within_window=within,
        reason="within_window" if within else "window_expired",
        last_inbound_at=last_inbound_at,
        hours_since_last_inbound=round(elapsed.total_seconds() / 3600, 4),
        expires_at=last_inbound_at + CUSTOMER_SERVICE_WINDOW,
    )


def is_gated(content: Content) -> bool:
    """True for the modes that may only be sent inside an open window (all but templates)."""
    return not isinstance(content, TemplateMessage)
