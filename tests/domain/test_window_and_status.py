"""DESIGN §2 "The 24-hour customer-service window" and "Message status"."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import reduce
from itertools import pairwise
from random import Random

from hypothesis import example, given
from hypothesis import strategies as st

from waport import MessageStatus, merge_status, window_status
from waport.domain.status import ErrorDetail, StatusChange, advance
from waport.testing.strategies import aware_datetimes, statuses

DAY = timedelta(hours=24)
TERMINAL = {MessageStatus.FAILED, MessageStatus.EXPIRED}
ORDER = ["scheduled", "pending", "sent", "delivered", "read", "played", "expired", "failed"]


@given(aware_datetimes(), st.integers(-(10**6), 10**7))
@example(datetime.fromisoformat("2026-01-01T00:00:00+00:00"), 86_400)
@example(datetime.fromisoformat("2026-01-01T00:00:00+00:00"), 86_399)
def test_window_flips_exactly_at_24_hours(last: datetime, offset_seconds: int) -> None:
    now = last + timedelta(seconds=offset_seconds)
    answer = window_status(last, now)
    assert answer.within_window == (now - last < DAY)
    assert answer.reason == ("within_window" if now - last < DAY else "window_expired")
    assert answer.expires_at == last + DAY
    assert answer.last_inbound_at == last
    assert answer.hours_since_last_inbound is not None


@given(aware_datetimes())
def test_boundaries(last: datetime) -> None:
    assert window_status(last, last + DAY - timedelta(microseconds=1)).within_window
    assert not window_status(last, last + DAY).within_window
    assert window_status(last, last + DAY).hours_since_last_inbound == 24.0


@given(aware_datetimes(), st.lists(st.integers(0, 10**6), min_size=2, max_size=10))
def test_answers_are_monotone_in_now(last: datetime, offsets: list[int]) -> None:
    answers = [window_status(last, last + timedelta(seconds=s)) for s in sorted(offsets)]
    for earlier, later in pairwise(answers):
        assert earlier.within_window or not later.within_window
        assert earlier.hours_since_last_inbound <= later.hours_since_last_inbound  # type: ignore[operator]


@given(aware_datetimes())
def test_no_history(now: datetime) -> None:
    answer = window_status(None, now)
    assert not answer.within_window
    assert answer.reason == "no_inbound_history"
    assert answer.last_inbound_at is None
    assert answer.hours_since_last_inbound is None
    assert answer.expires_at is None


def test_status_order_is_the_designed_one() -> None:
    assert [s.value for s in sorted(MessageStatus, key=lambda s: s.rank)] == ORDER


@given(statuses(), statuses())
def test_merge_never_moves_back(current: MessageStatus, incoming: MessageStatus) -> None:
    merged = merge_status(current, incoming)
    assert merged in (current, incoming)
    assert ORDER.index(merged) == max(ORDER.index(current), ORDER.index(incoming))


@given(statuses())
def test_merge_is_idempotent(status: MessageStatus) -> None:
    assert merge_status(status, status) == status


@given(st.sampled_from(sorted(TERMINAL)), statuses())
def test_terminal_states_absorb_non_terminal_ones(
    terminal: MessageStatus, incoming: MessageStatus
) -> None:
    merged = merge_status(terminal, incoming)
    if incoming not in TERMINAL:
        assert merged == terminal
    assert merged in TERMINAL


def test_read_stays_read_when_delivered_arrives_late() -> None:
    assert merge_status(MessageStatus.READ, MessageStatus.DELIVERED) == MessageStatus.READ


@given(st.lists(statuses(), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_arrival_order_ends_in_the_same_status(
    updates: list[MessageStatus], rnd: Random
) -> None:
    shuffled = list(updates)
    rnd.shuffle(shuffled)
    start = MessageStatus.PENDING
    assert reduce(merge_status, updates, start) == reduce(merge_status, shuffled, start)


@given(st.lists(statuses(), max_size=12), aware_datetimes())
def test_history_only_grows_forward(updates: list[MessageStatus], at: datetime) -> None:
    history: tuple[StatusChange, ...] = (StatusChange(status=MessageStatus.PENDING, at=at),)
    for i, status in enumerate(updates):
        result = advance(history, StatusChange(status=status, at=at + timedelta(seconds=i)))
        if result is None:
            assert merge_status(history[-1].status, status) == history[-1].status
            continue
        new_status, new_history = result
        assert new_history[: len(history)] == history
        assert len(new_history) == len(history) + 1
        assert ORDER.index(new_status) > ORDER.index(history[-1].status)
        history = new_history
    ranks = [ORDER.index(change.status) for change in history]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


UNKNOWN = StatusChange(
    status=MessageStatus.FAILED,
    at=datetime(2026, 1, 1).astimezone(),
    error=ErrorDetail(code="OUTCOME_UNKNOWN", message="crashed mid-attempt"),
)


@given(st.lists(statuses(), max_size=8), st.integers(0, 8), st.randoms(use_true_random=False))
def test_an_unknown_outcome_yields_to_any_word_from_the_provider(
    updates: list[MessageStatus], where: int, rnd: Random
) -> None:
    """``failed`` with OUTCOME_UNKNOWN is provisional: any later status at or beyond
    ``sent`` replaces it, in any arrival order, and the result is the same as without it
    (unless nothing but scheduled or pending ever arrives)."""
    changes = [StatusChange(status=s, at=UNKNOWN.at) for s in updates]
    changes.insert(min(where, len(changes)), UNKNOWN)
    start: tuple[StatusChange, ...] = (StatusChange(status=MessageStatus.PENDING, at=UNKNOWN.at),)

    def final(order: list[StatusChange]) -> MessageStatus:
        history = start
        for change in order:
            result = advance(history, change)
            if result is not None:
                history = result[1]
        return history[-1].status

    shuffled = list(changes)
    rnd.shuffle(shuffled)
    assert final(changes) == final(shuffled)
    beyond = [s for s in updates if s.rank >= MessageStatus.SENT.rank]
    expected = reduce(merge_status, beyond) if beyond else MessageStatus.FAILED
    assert final(changes) == expected
