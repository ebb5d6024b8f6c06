"""Values and helpers the store contract's parts share."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from waport.domain.recipients import Recipient
from waport.domain.records import (
    MessageRecord,
)
from waport.domain.status import MessageStatus
from waport.ports import Sent, Store
from waport.testing import builders

StoreFactory = Callable[[], AbstractAsyncContextManager[Store]]
T0 = datetime(2026, 1, 1, tzinfo=UTC)

PHONE = Recipient("phone", "255712345678")


def _sec(n: float) -> timedelta:
    return timedelta(seconds=n)


def _assert_read_after_sent(record: MessageRecord | None) -> None:
    """The stored record went pending, sent, read, in that order, and is read now."""
    assert record is not None
    assert record.status == MessageStatus.READ
    assert [c.status for c in record.history] == [
        MessageStatus.PENDING,
        MessageStatus.SENT,
        MessageStatus.READ,
    ]


# the model-based properties: each example opens a fresh store, so few and no deadline
MODEL_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# a window step: ("inbound" | "template" | "read" | "read-all", contact, sender, second)
WindowStep = tuple[str, int, int, int]


def window_steps() -> st.SearchStrategy[list[WindowStep]]:
    step = st.tuples(
        st.sampled_from(["inbound", "template", "read", "read-all"]),
        st.integers(0, 2),
        st.integers(0, 1),
        st.integers(0, 100),
    )
    return st.lists(step, max_size=30)


async def windows_agree_with_a_model(store: Store, steps: list[WindowStep]) -> None:
    """Replay ``steps`` on ``store`` and on a dictionary; ``last_inbound`` agrees at every
    read, with and without template sends counted."""
    latest: dict[tuple[str, str, str], datetime] = {}  # (contact, sender, kind) -> time
    for n, (action, c, s, second) in enumerate(steps):
        contact, sender, at = f"2557000000{c:02d}", f"s{s}", T0 + _sec(second)
        if action == "inbound":
            record = builders.inbound(
                f"in{n}", at=at, provider_message_id=f"w{n}", contact=contact, sender_id=sender
            )
            await store.messages.record_inbound([record])
        elif action == "template":
            record = builders.outbound(
                f"t{n}", at=at, to=contact, sender_id=sender, category="UTILITY"
            )
            async with store.transaction() as tx:
                tx.add_messages([record])
            await store.messages.claim(record.id, now=at)
            await store.messages.finish(
                record.id, Sent(provider="p", provider_message_id=f"p{n}", at=at)
            )
        else:
            for templates in (False, True):
                kinds = ("inbound", "template") if templates else ("inbound",)
                senders = {sender} if action == "read" else {"s0", "s1"}
                expected = max(
                    (
                        t
                        for (k, sd, kind), t in latest.items()
                        if k == contact and sd in senders and kind in kinds
                    ),
                    default=None,
                )
                found = await store.messages.last_inbound(
                    "ws1",
                    Recipient("phone", contact),
                    sender if action == "read" else None,
                    include_templates=templates,
                )
                assert found == expected, (action, contact, sender, templates)
            continue
        kind = "inbound" if action == "inbound" else "template"
        key = (contact, sender, kind)
        latest[key] = max(latest.get(key, at), at)


async def add_messages(store: Store, *records: MessageRecord) -> None:
    async with store.transaction() as tx:
        tx.add_messages(list(records))
