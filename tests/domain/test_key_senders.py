"""Sender limits of API keys: ``ApiKey.may_use`` and ``ApiKey.covers``."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from waport.domain.records import ApiKey

SENDERS = st.sampled_from(["s1", "s2", "s3", "s4"])
limits = st.none() | st.frozensets(SENDERS, max_size=4)


def key(senders: frozenset[str] | None) -> ApiKey:
    return ApiKey(
        id="k",
        workspace_id="ws",
        digest="d",
        scopes=frozenset({"admin"}),
        senders=senders,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@given(limits, SENDERS)
def test_a_key_uses_exactly_its_senders(senders: frozenset[str] | None, sender: str) -> None:
    assert key(senders).may_use(sender) == (senders is None or sender in senders)
    assert key(senders).may_use(None) == (senders is None)


@given(limits, limits, limits)
def test_covers_is_an_order_with_the_unlimited_key_on_top(
    a: frozenset[str] | None, b: frozenset[str] | None, c: frozenset[str] | None
) -> None:
    assert key(a).covers(a)
    assert key(None).covers(b)
    assert key(a).covers(None) == (a is None)
    if key(a).covers(b) and key(b).covers(c):
        assert key(a).covers(c)
    # a key covers another exactly when it may use every sender the other may use
    if b is not None:
        assert key(a).covers(b) == all(key(a).may_use(s) for s in b)
