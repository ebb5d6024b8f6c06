"""A sender's health: whatever order the provider's words arrive in, the newest wins and
a repeat changes nothing; a sender said to be down refuses at once, retryably; Meta's
word about a display number finds the sender with that number."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from waport.domain.errors import ErrorCode
from waport.domain.events import SenderUpdate
from waport.domain.records import Sender, SenderHealth
from waport.domain.sender_health import apply_update, concerned, refusal

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STATES = st.sampled_from(["WORKING", "SCAN_QR_CODE", "FAILED", "STOPPED", None])


@st.composite
def updates(draw: st.DrawFn) -> SenderUpdate:
    state = draw(STATES)
    return SenderUpdate(
        provider="p",
        sender_ids=("s1",),
        at=T0 + timedelta(seconds=draw(st.integers(0, 50))),
        available=None if state is None else state == "WORKING",
        state=state,
        quality=draw(st.sampled_from([None, "FLAGGED", "UNFLAGGED"])),
    )


def fold(words: list[SenderUpdate]) -> SenderHealth | None:
    health: SenderHealth | None = None
    for word in words:
        health = apply_update(health, word) or health
    return health


@given(st.lists(updates(), min_size=1, max_size=8, unique_by=lambda w: w.at), st.randoms())
def test_the_newest_word_decides_whatever_the_order_and_a_repeat_changes_nothing(
    words: list[SenderUpdate], rand: random.Random
) -> None:
    health = fold(words)
    shuffled = rand.sample(words, len(words))
    assert fold(shuffled) == health  # the order they arrived in does not matter
    said = [w for w in words if w.available is not None]
    if said:
        assert health is not None
        assert health.available == max(said, key=lambda w: w.at).available
    assert all(health is None or apply_update(health, w) is None for w in shuffled)


@given(updates())
def test_a_sender_refuses_exactly_while_it_is_said_to_be_down(word: SenderUpdate) -> None:
    health = apply_update(None, word)
    sender = Sender(id="s1", workspace_id="w", health=health)
    refused = refusal(sender)
    if health is None or health.available:
        assert refused is None
    else:
        assert refused is not None
        assert (refused.code, refused.param, refused.retryable) == (
            ErrorCode.PROVIDER_UNAVAILABLE,
            "sender_id",
            True,
        )
        assert str(word.state) in refused.message


def test_metas_display_number_finds_its_sender_or_the_only_one() -> None:
    word = SenderUpdate(provider="meta", sender_ids=("a", "b"), at=T0, phone="+1 555 0100")
    a = Sender(id="a", workspace_id="w", phone="15550100")
    b = Sender(id="b", workspace_id="w", phone="15550199")
    assert concerned(word, [a, b]) == [a]
    assert concerned(word, [b]) == []
    bare = Sender(id="c", workspace_id="w")
    assert concerned(word, [bare]) == [bare]  # one number, its phone not set: it is that one
    assert concerned(word, [bare, Sender(id="d", workspace_id="w")]) == []
    assert concerned(SenderUpdate(provider="web", sender_ids=("a",), at=T0), [a]) == [a]
