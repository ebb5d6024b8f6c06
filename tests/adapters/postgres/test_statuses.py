"""A batch of statuses on PostgreSQL costs a few round trips, however many it holds
(``waport_postgres.statuses``); what it writes is the shared contract's business."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from tests.adapters.postgres.counting import Counting
from waport.domain.status import MessageStatus, StatusChange
from waport.ports import Sent, StatusPatch
from waport.testing import builders
from waport.testing.contracts.support import T0
from waport_postgres import PostgresStore, statuses

pytestmark = pytest.mark.anyio


async def _round_trips(
    store: PostgresStore, patches: Sequence[StatusPatch], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    sent: list[str] = []
    apply = statuses.apply

    async def counting(c: Any, docs: Any, batch: Sequence[StatusPatch]) -> Any:
        return await apply(Counting(c, sent), docs, batch)

    with monkeypatch.context() as patched:
        patched.setattr(statuses, "apply", counting)
        results = await store.messages.apply_statuses(patches)
    assert len(results) == len(patches)
    return sent


def _patches(first: int, count: int, status: MessageStatus) -> list[StatusPatch]:
    return [
        StatusPatch(
            provider="p",
            provider_message_id=f"pid{n}",
            change=StatusChange(status=status, at=T0 + timedelta(seconds=n)),
        )
        for n in range(first, first + count)
    ]


async def test_a_batch_costs_the_same_few_statements_whatever_its_size(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"m{n}" for n in range(60)]
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound(i, at=T0) for i in ids])
    for n, message_id in enumerate(ids):
        await store.messages.claim(message_id, now=T0)
        await store.messages.finish(
            message_id, Sent(provider="p", provider_message_id=f"pid{n}", at=T0)
        )

    small = await _round_trips(store, _patches(0, 2, MessageStatus.DELIVERED), monkeypatch)
    # 50 messages delivered, 50 read, 5 statuses for sends not recorded yet
    large = await _round_trips(
        store,
        _patches(2, 50, MessageStatus.DELIVERED)
        + _patches(2, 50, MessageStatus.READ)
        + _patches(100, 5, MessageStatus.DELIVERED),
        monkeypatch,
    )
    # the locks, the rows, the updates, the outbox events
    assert small == [
        "SELECT pg_advisory_xact_lock(hashtextextended(k,",
        "SELECT status,",
        "UPDATE messages",
        "INSERT INTO",
    ]
    # and the stashes
    assert sorted(large) == sorted([*small, "INSERT INTO"])
    read = await store.messages.get("m30")
    assert read is not None
    assert read.status == MessageStatus.READ
    assert [e.type for e in await store.outbox.for_message("m30")] == [
        "message.sent",
        "message.delivered",
        "message.read",
    ]
