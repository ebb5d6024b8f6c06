"""The store contract's part on prepaid billing (``waport.domain.ledger``): debits with the
rows or nothing, one refund per failed message with its status change, the operator's
credits, and the balance always the sum of the entries."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain import ledger
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import EntryKind, LedgerEntry
from waport.domain.records import MessageRecord, Workspace
from waport.domain.status import OUTCOME_UNKNOWN, ErrorDetail, MessageStatus, StatusChange
from waport.ports import Failed, StatusPatch, Store
from waport.testing import builders
from waport.testing.contracts.support import MODEL_SETTINGS, T0, StoreFactory, _sec

PRICES = {"MARKETING": 30, "UTILITY": 10}


def _message(n: int, category: str = "MARKETING", workspace_id: str = "ws1") -> MessageRecord:
    return builders.outbound(
        f"m{n}", at=T0, to=f"2557000{n:05d}", category=category, workspace_id=workspace_id
    )


async def _accept(store: Store, records: list[MessageRecord], at: datetime = T0) -> None:
    entries = [e for r in records if (e := ledger.debit(r, PRICES, at)) is not None]
    async with store.transaction() as tx:
        tx.add_messages(records)
        tx.debit(entries)


async def _fail(store: Store, message_id: str, code: str = "PROVIDER_REJECTED") -> None:
    await store.messages.claim(message_id, now=T0)
    error = ErrorDetail(code=code, message="refused")
    await store.messages.finish(message_id, Failed(at=T0 + _sec(1), error=error))


async def _balance(store: Store, workspace_id: str = "ws1") -> int | None:
    workspace = await store.workspaces.get(workspace_id)
    assert workspace is not None
    return workspace.balance


async def _entries(store: Store, workspace_id: str = "ws1") -> list[LedgerEntry]:
    found: list[LedgerEntry] = []
    after = None
    while True:
        page = await store.workspaces.ledger(workspace_id, after=after, limit=3)
        found.extend(page[:3])
        if len(page) <= 3:
            return found
        after = (page[2].at, page[2].id)


class LedgerContract:
    pytestmark = pytest.mark.anyio

    async def test_debits_go_with_the_rows_or_nothing_is_stored(self, store: Store) -> None:
        await store.workspaces.put(Workspace(id="ws1", balance=70))
        await _accept(store, [_message(1), _message(2, "UTILITY")])
        assert await _balance(store) == 30
        with pytest.raises(WaportError) as info:
            await _accept(store, [_message(3), _message(4)])  # 60 > 30
        assert info.value.code == ErrorCode.INSUFFICIENT_BALANCE
        assert await store.messages.get("m3") is None  # nothing stored
        assert await _balance(store) == 30
        await _accept(store, [_message(5, "SERVICE")])  # free
        entries = await _entries(store)
        assert sorted((e.kind, e.amount, e.message_id) for e in entries) == [
            (EntryKind.DEBIT, -30, "m1"),
            (EntryKind.DEBIT, -10, "m2"),
        ]

    async def test_a_failed_message_is_refunded_once(self, store: Store) -> None:
        await store.workspaces.put(Workspace(id="ws1", balance=100))
        await _accept(store, [_message(1), _message(2)])
        await _fail(store, "m1")
        assert await _balance(store) == 70
        # the same failure reported again (a webhook) refunds nothing more
        patch = StatusPatch(
            message_id="m1", change=StatusChange(status=MessageStatus.FAILED, at=T0 + _sec(5))
        )
        await store.messages.apply_statuses([patch])
        assert await _balance(store) == 70
        # a provisional failure (the outcome unknown) is not refunded
        await _fail(store, "m2", OUTCOME_UNKNOWN)
        assert await _balance(store) == 70
        kinds = sorted((e.kind, e.message_id) for e in await _entries(store))
        assert kinds == [(EntryKind.DEBIT, "m1"), (EntryKind.DEBIT, "m2"), (EntryKind.REFUND, "m1")]

    async def test_the_operators_credits_and_an_unlimited_workspace(self, store: Store) -> None:
        await store.workspaces.put(Workspace(id="ws1", balance=0))
        top_up = ledger.credit("led_c1", "ws1", 500, "top-up", T0)
        assert await store.workspaces.credit(top_up) == 500
        with pytest.raises(WaportError) as info:
            await store.workspaces.credit(ledger.credit("led_c2", "ws1", -501, "fee", T0))
        assert info.value.code == ErrorCode.INSUFFICIENT_BALANCE
        assert await store.workspaces.credit(ledger.credit("led_c3", "ws1", -200, "fee", T0)) == 300
        # a change to the workspace keeps the ledger's balance
        await store.workspaces.put(Workspace(id="ws1", name="renamed", balance=0))
        assert await _balance(store) == 300
        # unlimited: no debit, no entry; a credit is refused
        await store.workspaces.put(Workspace(id="ws2"))
        await _accept(store, [_message(9, workspace_id="ws2")])
        assert await store.messages.get("m9") is not None
        assert await _entries(store, "ws2") == []
        with pytest.raises(WaportError) as info:
            await store.workspaces.credit(ledger.credit("led_c4", "ws2", 5, "gift", T0))
        assert (info.value.code, info.value.param) == (ErrorCode.NOT_PREPAID, "billing")
        # and back to prepaid: the new balance is the one given
        await store.workspaces.put(Workspace(id="ws2", balance=40))
        assert await _balance(store, "ws2") == 40

    @MODEL_SETTINGS
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["send", "fail", "unknown", "refail", "crash", "credit"]),
                st.integers(0, 5),
            ),
            max_size=30,
        )
    )
    async def test_the_balance_is_always_the_sum_of_the_entries(
        self, open_store: StoreFactory, steps: list[tuple[str, int]]
    ) -> None:
        """Any interleaving of sends, failures (again, or provisional), crashed
        transactions and credits: the balance is the start plus every entry, never
        below zero, with at most one refund per message, and only for a debit."""
        async with open_store() as store:
            start = 60
            await store.workspaces.put(Workspace(id="ws1", balance=start))
            for n, (action, k) in enumerate(steps):
                record = attrs.evolve(_message(k), id=f"s{n}")
                if action == "send":
                    try:
                        await _accept(store, [record])
                    except WaportError as err:
                        assert err.code == ErrorCode.INSUFFICIENT_BALANCE
                elif action == "crash":
                    entries = [e for e in [ledger.debit(record, PRICES, T0)] if e is not None]
                    with pytest.raises(RuntimeError):
                        async with store.transaction() as tx:
                            tx.add_messages([record])
                            tx.debit(entries)
                            raise RuntimeError("the process died")
                    assert await store.messages.get(record.id) is None
                elif action == "credit":
                    await store.workspaces.credit(
                        ledger.credit(f"led_c{n}", "ws1", 10 * (k + 1), "top-up", T0)
                    )
                else:
                    target = f"s{k}"
                    if await store.messages.get(target) is None:
                        continue
                    if action == "refail":
                        patch = StatusPatch(
                            message_id=target,
                            change=StatusChange(status=MessageStatus.FAILED, at=T0 + _sec(9)),
                        )
                        await store.messages.apply_statuses([patch])
                    else:
                        code = OUTCOME_UNKNOWN if action == "unknown" else "PROVIDER_REJECTED"
                        await _fail(store, target, code)
                entries = await _entries(store)
                balance = await _balance(store)
                assert balance == start + sum(e.amount for e in entries)
                assert balance is not None
                assert balance >= 0
                refunded = [e.message_id for e in entries if e.kind == EntryKind.REFUND]
                debited = {e.message_id for e in entries if e.kind == EntryKind.DEBIT}
                assert len(refunded) == len(set(refunded))
                assert set(refunded) <= debited
