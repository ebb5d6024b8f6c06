"""DESIGN §2 Broadcast; the pure rate limiter; retry schedules."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import (
    ErrorCode,
    MessageStatus,
    RateLimit,
    WaportError,
    gcra,
    parse_broadcast_request,
    plan_broadcast,
)
from waport.domain.broadcast import summarize
from waport.domain.schedule import Backoff, retry_at, webhook_retry_at
from waport.testing.strategies import phone_digits, phone_spellings, statuses

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def body(recipients: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "template": {"name": "order_update", "language": "en", "params": {"1": "shared", "2": "x"}},
        "sender_id": "s1",
        "recipients": recipients,
        **extra,
    }


@given(st.integers(0, 300))
@example(256)
@example(257)
@example(0)
def test_one_to_256_recipients(n: int) -> None:
    rows = [{"to": str(10_000_000 + i)} for i in range(n)]
    if 1 <= n <= 256:
        assert len(plan_broadcast(parse_broadcast_request(body(rows)))) == n
    else:
        with pytest.raises(WaportError) as info:
            plan_broadcast(parse_broadcast_request(body(rows)))
        assert info.value.code == (
            ErrorCode.TOO_MANY_RECIPIENTS if n > 256 else ErrorCode.VALIDATION_FAILED
        )


@given(
    phone_digits().flatmap(lambda d: st.tuples(phone_spellings(d), phone_spellings(d))),
    st.integers(0, 3),
)
def test_duplicates_after_normalisation_are_refused(pair: tuple[str, str], others: int) -> None:
    a, b = pair
    rows = [{"to": a}] + [{"to": f"9{i:09d}"} for i in range(others)] + [{"to": b}]
    with pytest.raises(WaportError) as info:
        plan_broadcast(parse_broadcast_request(body(rows)))
    assert info.value.code == ErrorCode.DUPLICATE_RECIPIENT
    assert info.value.param == f"recipients[{others + 1}].to"


def test_rows_override_shared_params_and_metadata() -> None:
    req = parse_broadcast_request(
        body(
            [
                {"to": "255712345678", "template_params": {"1": "Ana"}, "metadata": {"row": 1}},
                {"to": "255712345679"},
            ],
            metadata={"campaign": "c1"},
        )
    )
    first, second = plan_broadcast(req)
    assert dict(first.content.params) == {"1": "Ana", "2": "x"}  # type: ignore[union-attr]
    assert dict(second.content.params) == {"1": "shared", "2": "x"}  # type: ignore[union-attr]
    assert dict(first.metadata) == {"campaign": "c1", "row": 1}


def test_broadcast_needs_a_template_not_a_sender() -> None:
    no_sender = body([{"to": "255712345678"}])
    del no_sender["sender_id"]
    assert parse_broadcast_request(no_sender).sender_id is None  # the default sender's
    with pytest.raises(WaportError) as info:
        parse_broadcast_request({"sender_id": "s", "recipients": [{"to": "255712345678"}]})
    assert info.value.param == "template"
    with pytest.raises(WaportError) as info:
        parse_broadcast_request(body([{"to": "123"}]))
    assert (info.value.code, info.value.param) == (ErrorCode.INVALID_RECIPIENT, "recipients[0].to")


@given(st.lists(statuses(), max_size=300))
def test_summary_adds_up(rows: list[MessageStatus]) -> None:
    s = summarize(rows)
    assert s.total == len(rows) == s.sent + s.pending + s.failed
    assert s.failed == sum(r in (MessageStatus.FAILED, MessageStatus.EXPIRED) for r in rows)
    assert s.pending == sum(r in (MessageStatus.SCHEDULED, MessageStatus.PENDING) for r in rows)


# ----------------------------------------------------------------------------- GCRA


def test_60_per_minute_burst_then_refill() -> None:
    rate = RateLimit(60)
    tat = None
    for i in range(60):
        d = gcra(tat, T0, rate)
        assert d.allowed, i
        assert d.remaining == 59 - i
        tat = d.tat
    refused = gcra(tat, T0, rate)
    assert not refused.allowed
    assert refused.remaining == 0
    assert math.ceil(refused.retry_after.total_seconds()) == 1
    assert gcra(tat, T0 + timedelta(seconds=1), rate).allowed
    again = gcra(tat, T0 + timedelta(seconds=60), rate)
    assert again.allowed
    assert again.remaining == 59


@given(st.lists(st.floats(0, 5), min_size=1, max_size=200), st.integers(1, 30), st.integers(1, 120))
def test_gcra_matches_a_reference_token_bucket(
    gaps: list[float], limit: int, period_s: int
) -> None:
    """GCRA admits exactly what a token bucket of `limit` tokens refilled at limit/period admits."""
    rate = RateLimit(limit, timedelta(seconds=period_s))
    refill = limit / period_s
    tokens = float(limit)
    now = T0
    last = now
    tat = None
    for gap in gaps:
        now = now + timedelta(seconds=gap)
        tokens = min(limit, tokens + (now - last).total_seconds() * refill)
        last = now
        decision = gcra(tat, now, rate)
        bucket_allows = tokens >= 1 - 1e-9
        if abs(tokens - 1) > 1e-6:  # away from float rounding at the exact edge
            assert decision.allowed == bucket_allows
        if decision.allowed:
            tokens -= 1
            tat = decision.tat
        assert 0 <= decision.remaining <= limit


@given(st.lists(st.floats(0, 3), min_size=1, max_size=300))
def test_no_sliding_window_admits_more_than_burst_plus_refill(gaps: list[float]) -> None:
    rate = RateLimit(60)
    now, tat, admitted = T0, None, []
    for gap in gaps:
        now += timedelta(seconds=gap)
        d = gcra(tat, now, rate)
        if d.allowed:
            tat = d.tat
            admitted.append(now)
    for i, start in enumerate(admitted):
        in_window = [t for t in admitted[i:] if t - start < timedelta(seconds=60)]
        assert len(in_window) <= 120


# ----------------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("limit", "period", "burst"),
    [
        (2_000_000, timedelta(seconds=1), None),
        (1, timedelta(0), None),
        (10, timedelta(seconds=1), 0),
    ],
)
def test_impossible_rate_limits_are_refused(
    limit: int, period: timedelta, burst: int | None
) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(limit, period, burst=burst)


def test_a_million_per_second_is_the_finest_rate() -> None:
    rate = RateLimit(1_000_000, timedelta(seconds=1))
    assert rate.interval == timedelta(microseconds=1)
    assert gcra(None, T0, rate).allowed


@given(st.integers(0, 12), st.floats(0, 1, exclude_max=True))
def test_backoff_is_bounded_and_jittered(attempt: int, rand: float) -> None:
    backoff = Backoff()
    at = retry_at(T0, attempt, rand, backoff)
    if attempt >= backoff.max_attempts:
        assert at is None
        return
    assert at is not None
    delay = (at - T0).total_seconds()
    base = min(600.0, 2.0 * 2 ** max(0, attempt - 1))
    assert base * 0.8 - 1e-9 <= delay <= base * 1.2 + 1e-9


def test_retry_after_wins_when_longer() -> None:
    at = retry_at(T0, 1, 0.5, Backoff(), retry_after=30)
    assert at == T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 5), (2, 300), (3, 1800), (4, 7200), (5, 18000), (6, 36000), (7, 36000)],
)
def test_webhook_schedule(failures: int, seconds: int) -> None:
    at = webhook_retry_at(T0, failures, 0.5)
    assert at == T0 + timedelta(seconds=seconds)
    low = webhook_retry_at(T0, failures, 0.0)
    assert low is not None
    assert (low - T0).total_seconds() == pytest.approx(seconds * 0.9)
    assert webhook_retry_at(T0, 8, 0.5) is None
