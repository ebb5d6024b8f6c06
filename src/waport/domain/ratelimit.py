"""A pure rate limiter: GCRA (the generic cell rate algorithm).

GCRA keeps one number per key, the theoretical arrival time (TAT). Given the TAT,
``now`` and the limit, ``gcra`` answers allowed or not, the new TAT, how many
requests remain, when the quota is fully restored and, when refused, how long to
wait. It behaves like a token bucket of ``burst`` tokens refilled at ``rate``;
the state lives wherever the caller keeps it (a store row or process memory).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs


@attrs.frozen
class RateLimit:
    """``limit`` requests per ``period``, with bursts of up to ``burst`` (default: ``limit``)."""

    limit: int = attrs.field(validator=attrs.validators.gt(0))
    period: timedelta = timedelta(minutes=1)
    burst: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.period < timedelta(microseconds=self.limit):
            raise ValueError("a rate limit allows at most one request per microsecond")
        if self.burst is not None and self.burst < 1:
            raise ValueError("a rate limit's burst must be at least 1")

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else self.limit

    @property
    def interval(self) -> timedelta:
        """The emission interval: the time one request's quota takes to come back."""
        return self.period / self.limit


@attrs.frozen(kw_only=True)
class RateDecision:
    allowed: bool
    tat: datetime
    """The TAT to store (unchanged when refused)."""
    limit: int
    remaining: int
    retry_after: timedelta
    """How long until one more request would be allowed (zero when allowed)."""
    reset_after: timedelta
    """How long until the full quota is back."""


def gcra(tat: datetime | None, now: datetime, rate: RateLimit, *, cost: int = 1) -> RateDecision:
    """Decide one request of ``cost`` units at ``now`` against a key whose TAT is ``tat``."""
    interval = rate.interval
    capacity = rate.capacity
    tolerance = interval * capacity
    current = max(tat, now) if tat is not None else now
    new_tat = current + interval * cost
    allow_at = new_tat - tolerance
    if allow_at > now:
        return RateDecision(
            allowed=False,
            tat=current,
            limit=capacity,
            remaining=0,
            retry_after=allow_at - now,
            reset_after=current - now,
        )
    remaining = math.floor((tolerance - (new_tat - now)) / interval)
    return RateDecision(
        allowed=True,
        tat=new_tat,
        limit=capacity,
        remaining=max(0, min(capacity, remaining)),
        retry_after=timedelta(0),
        reset_after=new_tat - now,
    )
