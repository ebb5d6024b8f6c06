"""Outcomes on PostgreSQL go together: a group-committed batch of sends' outcomes reads
its rows (and takes the statuses stashed for them) in one statement and writes them in
a few, whatever its size; one outcome's failure is its own. What an outcome writes is the shared contract's
business."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.adapters.postgres.counting import Counting
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange
from waport.ports import Failed, Sent, StatusPatch
from waport.testing import builders
from waport.testing.contracts.support import T0
from waport_postgres import PostgresStore
from waport_postgres import store as store_module

pytestmark = pytest.mark.anyio


async def _claimed(store: PostgresStore, ids: list[str]) -> None:
    async with store.transaction() as tx:
        tx.add_messages([builders.outbound(i, at=T0) for i in ids])
    for message_id in ids:
        assert await store.messages.claim(message_id, now=T0) is not None


async def test_a_batch_of_outcomes_reads_its_rows_in_one_statement(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"f{n}" for n in range(30)]
    await _claimed(store, ids)
    # a status that came before its send was recorded is stashed, and the batch takes it
    early = StatusChange(status=MessageStatus.DELIVERED, at=T0 + timedelta(seconds=1))
    await store.messages.apply_statuses(
        [StatusPatch(provider="p", provider_message_id="pid7", change=early)]
    )
    sent: list[str] = []
    messages = type(store.messages)
    finish_all = messages._finish_all

    async def counting(self: Any, c: Any, items: Any) -> Any:
        return await finish_all(self, Counting(c, sent), items)

    monkeypatch.setattr(messages, "_finish_all", counting)
    commits = store.group.commits
    outcomes = [Sent(provider="p", provider_message_id=f"pid{n}", at=T0) for n in range(29)]
    finished = await asyncio.gather(
        *(store.messages.finish(i, o) for i, o in zip(ids, outcomes, strict=False)),
        store.messages.finish(
            ids[29], Failed(at=T0, error=ErrorDetail(code="PROVIDER_REJECTED", message="no"))
        ),
    )
    batches = store.group.commits - commits
    assert 1 <= batches <= 2
    assert sent.count("WITH k") == batches  # the sent ones' rows and stashes
    assert sent.count("SELECT status,") <= batches  # the failed one's row
    assert sent.count("UPDATE messages") == batches  # pipelined: one round trip each
    assert len(sent) <= 5 * batches  # the outbox events (pipelined), the failed one's refund
    assert not any("advisory" in s for s in sent)  # the batch took the locks before
    statuses = [r.status for r in finished]
    assert statuses[7] == MessageStatus.DELIVERED
    assert statuses[29] == MessageStatus.FAILED
    assert statuses[:7] + statuses[8:29] == [MessageStatus.SENT] * 28
    read = await store.messages.get("f7")
    assert read is not None
    assert read.status == MessageStatus.DELIVERED
    assert read.provider_message_id == "pid7"


async def test_an_outcome_for_no_message_fails_alone(store: PostgresStore) -> None:
    ids = [f"g{n}" for n in range(5)]
    await _claimed(store, ids)
    results = await asyncio.gather(
        *(
            store.messages.finish(i, Sent(provider="p", provider_message_id=f"q{i}", at=T0))
            for i in [*ids[:3], "missing", *ids[3:]]
        ),
        return_exceptions=True,
    )
    missing = results.pop(3)
    assert isinstance(missing, WaportError)
    assert missing.code == ErrorCode.MESSAGE_NOT_FOUND
    assert [getattr(r, "status", r) for r in results] == [MessageStatus.SENT] * 5
    for message_id in ids:
        read = await store.messages.get(message_id)
        assert read is not None
        assert read.provider_message_id == f"q{message_id}"


async def test_a_batch_of_sends_inserts_its_messages_in_one_round_trip(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent transactions' messages go in one pipelined statement; a duplicate
    among them fails its own transaction alone."""
    await _claimed(store, ["dup"])
    sent: list[str] = []
    real = store_module._insert_messages

    async def counting(c: Any, docs: Any, records: Any) -> None:
        sent.append(f"{len(records)} messages")
        await real(c, docs, records)

    monkeypatch.setattr(store_module, "_insert_messages", counting)

    async def send(message_id: str) -> None:
        async with store.transaction() as tx:
            tx.add_messages([builders.outbound(message_id, at=T0)])

    ids = [f"h{n}" for n in range(20)]
    results = await asyncio.gather(
        *map(send, [*ids[:10], "dup", *ids[10:]]), return_exceptions=True
    )
    duplicate = results.pop(10)
    assert isinstance(duplicate, WaportError)
    assert duplicate.code == ErrorCode.INTERNAL
    assert results == [None] * 20
    assert sent[0] == "21 messages"  # the batch, failed by the duplicate, then each alone
    for message_id in ids:
        assert await store.messages.get(message_id) is not None
