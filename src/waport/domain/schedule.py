"""Time decisions as pure functions of ``now``: retries, webhook schedule, due and expired."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

import attrs

# Outbound webhook retries after a failed attempt (Svix's schedule, as DESIGN §5 lists it).
WEBHOOK_RETRY_SCHEDULE: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


@attrs.frozen(kw_only=True)
class Backoff:
    """Bounded exponential backoff with jitter for retryable provider failures."""

    base: timedelta = timedelta(seconds=2)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=10)
    jitter: float = 0.2
    max_attempts: int = 8

    def delay(self, attempt: int, rand: float) -> timedelta | None:
        """The wait before attempt ``attempt + 1`` after ``attempt`` failures; ``None`` to give up.

        ``rand`` is a number in [0, 1) from the caller's random source, so the
        jitter is reproducible in tests.
        """
        if attempt >= self.max_attempts:
            return None
        raw = min(
            self.cap.total_seconds(), self.base.total_seconds() * self.factor ** max(0, attempt - 1)
        )
        spread = raw * self.jitter
        return timedelta(seconds=max(0.0, raw - spread + 2 * spread * rand))


def retry_at(
    now: datetime, attempt: int, rand: float, backoff: Backoff, *, retry_after: float | None = None
) -> datetime | None:
    """When to try again after ``attempt`` failed attempts; a server's Retry-After wins if longer."""
    delay = backoff.delay(attempt, rand)
    if delay is None:
        return None
    if retry_after is not None and retry_after > delay.total_seconds():
        delay = timedelta(seconds=retry_after)
    return now + delay


def webhook_retry_at(
    now: datetime,
    failures: int,
    rand: float,
    *,
    jitter: float = 0.1,
    retry_after: float | None = None,
) -> datetime | None:
    """When to redeliver an outbound webhook after ``failures`` failed attempts; ``None`` when exhausted."""
    if failures < 1 or failures > len(WEBHOOK_RETRY_SCHEDULE):
        return None
    base = WEBHOOK_RETRY_SCHEDULE[failures - 1].total_seconds()
    delay = base * (1 - jitter + 2 * jitter * rand)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at


def is_due(due_at: datetime | None, now: datetime) -> bool:
    return due_at is None or due_at <= now


def parse_retry_after(value: str | None, *, cap: float = 86_400.0) -> float | None:
    """An HTTP ``Retry-After`` given in seconds, bounded to ``[0, cap]``; None when absent
    or not a number (the HTTP-date form is not used by the providers waport speaks)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), cap)
