"""StoreContract: the behaviour every ``Store`` adapter must show.

Subclass it in your tests and supply the factory:

    from waport.testing.contracts import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture(scope="class")
        @classmethod
        def open_store(cls):
            return lambda: my_store.open_for_tests()   # an async context manager of a Store

The factory is called once per test (and once per Hypothesis example), so each
gets a fresh, empty store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import reduce
from typing import ClassVar

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.recipients import Recipient
from waport.domain.records import (
    Contact,
)
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange, merge_status
from waport.ports import Failed, Release, Retry, Sent, StatusPatch, Store
from waport.testing import builders
from waport.testing.contracts.erasure import ErasureContract
from waport.testing.contracts.ledger import LedgerContract
from waport.testing.contracts.media import MediaContract
from waport.testing.contracts.outbox import OutboxContract
from waport.testing.contracts.records import ListingContract, RecordsContract
from waport.testing.contracts.support import (
    MODEL_SETTINGS,
    PHONE,
    T0,
    StoreFactory,
    WindowStep,
    _assert_read_after_sent,
    _sec,
    add_messages,
    window_steps,
    windows_agree_with_a_model,
)


class StoreContract(
    RecordsContract,
    ListingContract,
    OutboxContract,
    MediaContract,
    ErasureContract,
    LedgerContract,
):
    """Every store port method, including failure paths. See the module docstring."""

    pytestmark = pytest.mark.anyio
    plugin_name: ClassVar[str | None] = None
    """The entry-point name of the plugin under test (a guard test checks that every
    bundled plugin has a contract subclass)."""

    @pytest.fixture(scope="class")
    @classmethod
    def open_store(cls) -> StoreFactory:
        raise NotImplementedError(
            "return a factory of async context managers yielding a fresh Store"
        )

    @pytest.fixture
    async def store(self, open_store: StoreFactory) -> AsyncIterator[Store]:
        async with open_store() as store:
            yield store

    # ------------------------------------------------------------------ messages

    async def test_claim_has_exactly_one_winner(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        results = []

        async def claim() -> None:
            results.append(await store.messages.claim("m1", now=T0))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(claim)
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert winners[0].attempting_since == T0
        assert winners[0].attempts == 1
        assert await store.messages.claim("missing", now=T0) is None

    async def test_claim_moves_scheduled_to_pending(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("m1", at=T0, status=MessageStatus.SCHEDULED, due_at=T0 + _sec(60)),
        )
        claimed = await store.messages.claim("m1", now=T0 + _sec(60))
        assert claimed is not None
        assert claimed.status == MessageStatus.PENDING
        assert [c.status for c in claimed.history] == [
            MessageStatus.SCHEDULED,
            MessageStatus.PENDING,
        ]

    async def test_sent_outcome_records_provider_id_history_and_event(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        await store.messages.claim("m1", now=T0)
        record = await store.messages.finish(
            "m1", Sent(provider="p", provider_message_id="pid1", at=T0 + _sec(1))
        )
        assert record.status == MessageStatus.SENT
        assert record.attempting_since is None
        assert record.provider_message_id == "pid1"
        assert [c.status for c in record.history] == [MessageStatus.PENDING, MessageStatus.SENT]
        assert (await store.messages.find_by_provider_id("p", "pid1")) == record
        events = await store.outbox.for_message("m1")
        assert [(e.type, e.url) for e in events] == [
            ("message.sent", "https://hooks.example.com/wa")
        ]
        assert events[0].payload["data"]["message_id"] == "m1"

    async def test_no_event_without_a_webhook_url(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0, webhook_url=None))
        await store.messages.claim("m1", now=T0)
        await store.messages.finish("m1", Sent(provider="p", provider_message_id="pid1", at=T0))
        assert await store.outbox.for_message("m1") == []

    async def test_retry_failed_and_release_outcomes(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("m1", at=T0),
            builders.outbound("m2", at=T0),
            builders.outbound("m3", at=T0),
        )
        error = ErrorDetail(
            code="PROVIDER_UNAVAILABLE", message="down", provider="p", provider_code="503"
        )
        await store.messages.claim("m1", now=T0)
        retried = await store.messages.finish("m1", Retry(at=T0, due_at=T0 + _sec(30), error=error))
        assert (retried.status, retried.due_at, retried.attempting_since, retried.error) == (
            MessageStatus.PENDING,
            T0 + _sec(30),
            None,
            error,
        )
        assert retried.attempts == 1
        await store.messages.claim("m2", now=T0)
        failed = await store.messages.finish("m2", Failed(at=T0 + _sec(1), error=error))
        assert failed.status == MessageStatus.FAILED
        assert failed.history[-1].error == error
        assert [e.type for e in await store.outbox.for_message("m2")] == ["message.failed"]
        await store.messages.claim("m3", now=T0)
        released = await store.messages.finish("m3", Release(due_at=T0 + _sec(5)))
        assert (released.attempts, released.due_at, released.attempting_since) == (
            0,
            T0 + _sec(5),
            None,
        )
        assert await store.messages.claim("m2", now=T0 + _sec(2)) is None  # final: not claimable

    async def test_recovery_of_a_stale_claim_never_touches_a_newer_one(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        first = await store.messages.claim("m1", now=T0)
        assert first is not None
        assert first.attempting_since is not None
        stale = first.attempting_since
        released = await store.messages.finish("m1", Release(due_at=T0, claimed_at=stale))
        assert released.attempting_since is None
        again = await store.messages.claim("m1", now=T0 + _sec(100))  # another process
        assert again is not None
        late = await store.messages.finish("m1", Release(due_at=T0, claimed_at=stale))
        assert late.attempting_since == again.attempting_since  # untouched
        error = ErrorDetail(code="OUTCOME_UNKNOWN", message="x")
        kept = await store.messages.finish("m1", Failed(at=T0, error=error, claimed_at=stale))
        assert kept.status is MessageStatus.PENDING
        assert kept.attempting_since == again.attempting_since

    async def test_inbound_since_lists_the_newest_inbound_messages(self, store: Store) -> None:
        await store.messages.record_inbound(
            [
                builders.inbound(f"in{n}", at=T0 + _sec(n), provider_message_id=f"w{n}")
                for n in range(5)
            ]
        )
        await add_messages(store, builders.outbound("out", at=T0 + _sec(4)))
        found = await store.messages.inbound_since(T0 + _sec(2), limit=10)
        assert [m.id for m in found] == ["in4", "in3", "in2"]
        assert found[0].inbound is not None
        assert [m.id for m in await store.messages.inbound_since(T0, limit=2)] == ["in4", "in3"]

    async def test_due_and_in_flight(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("now", at=T0),
            builders.outbound(
                "later", at=T0, status=MessageStatus.SCHEDULED, due_at=T0 + _sec(100)
            ),
            builders.outbound(
                "expiring",
                at=T0,
                status=MessageStatus.SCHEDULED,
                due_at=T0 + _sec(100),
                expires_at=T0 + _sec(50),
            ),
            builders.outbound("busy", at=T0),
        )
        await store.messages.claim("busy", now=T0)
        assert {m.id for m in await store.messages.due(T0, limit=10)} == {"now"}
        assert {m.id for m in await store.messages.due(T0 + _sec(50), limit=10)} == {
            "now",
            "expiring",
        }
        assert {m.id for m in await store.messages.due(T0 + _sec(100), limit=10)} == {
            "now",
            "later",
            "expiring",
        }
        assert len(await store.messages.due(T0 + _sec(100), limit=2)) == 2
        assert [
            m.id for m in await store.messages.in_flight(started_before=T0 + _sec(1), limit=10)
        ] == ["busy"]
        assert await store.messages.in_flight(started_before=T0, limit=10) == []

    async def test_statuses_only_move_forward_and_duplicates_are_no_ops(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        await store.messages.claim("m1", now=T0)
        await store.messages.finish("m1", Sent(provider="p", provider_message_id="pid1", at=T0))

        def patch(status: MessageStatus, s: float) -> StatusPatch:
            return StatusPatch(
                provider="p",
                provider_message_id="pid1",
                change=StatusChange(status=status, at=T0 + _sec(s)),
            )

        results = await store.messages.apply_statuses(
            [
                patch(MessageStatus.READ, 3),
                patch(MessageStatus.DELIVERED, 2),
                patch(MessageStatus.READ, 3),
            ]
        )
        assert [r.changed for r in results] == [True, False, False]
        _assert_read_after_sent(await store.messages.get("m1"))
        assert [e.type for e in await store.outbox.for_message("m1")] == [
            "message.sent",
            "message.read",
        ]

    async def test_status_by_our_id_sets_the_provider_id(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        await store.messages.claim("m1", now=T0)
        result = (
            await store.messages.apply_statuses(
                [
                    StatusPatch(
                        message_id="m1",
                        provider="p",
                        provider_message_id="pid9",
                        change=StatusChange(status=MessageStatus.DELIVERED, at=T0),
                    )
                ]
            )
        )[0]
        assert result.changed
        assert result.record is not None
        assert result.record.provider_message_id == "pid9"
        assert result.record.attempting_since is None  # a crashed attempt is reconciled
        assert (await store.messages.find_by_provider_id("p", "pid9")) is not None

    async def test_early_statuses_are_kept_until_the_send_is_recorded(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        await store.messages.claim("m1", now=T0)
        early = await store.messages.apply_statuses(
            [
                StatusPatch(
                    provider="p",
                    provider_message_id="pidX",
                    change=StatusChange(status=MessageStatus.DELIVERED, at=T0 + _sec(1)),
                )
            ]
        )
        assert early[0].stashed
        record = await store.messages.finish(
            "m1", Sent(provider="p", provider_message_id="pidX", at=T0)
        )
        assert record.status == MessageStatus.DELIVERED
        unknown = await store.messages.apply_statuses(
            [StatusPatch(message_id="nope", change=StatusChange(status=MessageStatus.READ, at=T0))]
        )
        assert unknown[0].record is None
        assert not unknown[0].changed

    async def test_a_status_stashed_in_the_same_turn_as_the_send_finishes_is_kept(
        self, store: Store
    ) -> None:
        """Written together (one batch, for a store that batches; in either order, for one
        that runs them concurrently), the early status and the send's outcome still meet."""
        await add_messages(store, builders.outbound("m1", at=T0))
        await store.messages.claim("m1", now=T0)
        early = StatusPatch(
            provider="p",
            provider_message_id="pidY",
            change=StatusChange(status=MessageStatus.READ, at=T0 + _sec(2)),
        )
        sent = Sent(provider="p", provider_message_id="pidY", at=T0 + _sec(1))
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.messages.apply_statuses, [early])
            tg.start_soon(store.messages.finish, "m1", sent)
        _assert_read_after_sent(await store.messages.get("m1"))

    async def test_a_batch_of_statuses_for_many_messages_is_applied_patch_by_patch(
        self, store: Store
    ) -> None:
        """One call, several messages, several patches of one message, a status for a
        send not recorded yet and one for no message: each gets the answer it would get
        alone (in the order of the provider ids), and each message ends as they leave it."""
        await add_messages(store, *(builders.outbound(f"m{n}", at=T0) for n in (1, 2, 3)))
        for n in (1, 2, 3):
            await store.messages.claim(f"m{n}", now=T0)
        for n in (1, 2):
            await store.messages.finish(
                f"m{n}", Sent(provider="p", provider_message_id=f"pid{n}", at=T0)
            )

        def patch(status: MessageStatus, s: float, **names: str) -> StatusPatch:
            return StatusPatch(change=StatusChange(status=status, at=T0 + _sec(s)), **names)

        results = await store.messages.apply_statuses(
            [
                patch(MessageStatus.READ, 3, provider="p", provider_message_id="pid1"),
                patch(MessageStatus.DELIVERED, 2, provider="p", provider_message_id="pid2"),
                patch(MessageStatus.DELIVERED, 2, provider="p", provider_message_id="pid1"),
                patch(
                    MessageStatus.DELIVERED,
                    2,
                    message_id="m3",
                    provider="p",
                    provider_message_id="pid3",
                ),
                patch(MessageStatus.DELIVERED, 2, provider="p", provider_message_id="early"),
                patch(MessageStatus.READ, 2, message_id="nope"),
                patch(MessageStatus.READ, 4, provider="p", provider_message_id="pid2"),
            ]
        )
        assert [(r.changed, r.stashed) for r in results] == [
            (True, False),
            (True, False),
            (False, False),  # after read: a delivered is no news
            (True, False),
            (False, True),
            (False, False),
            (True, False),
        ]
        assert [r.record.id if r.record else None for r in results] == [
            "m1",
            "m2",
            "m1",
            "m3",
            None,
            None,
            "m2",
        ]
        for message_id, status, events in [
            ("m1", MessageStatus.READ, ["message.sent", "message.read"]),
            ("m2", MessageStatus.READ, ["message.sent", "message.delivered", "message.read"]),
            ("m3", MessageStatus.DELIVERED, ["message.delivered"]),
        ]:
            stored = await store.messages.get(message_id)
            assert stored is not None
            assert stored.status == status
            assert [e.type for e in await store.outbox.for_message(message_id)] == events
        m2 = await store.messages.get("m2")
        assert m2 is not None
        assert [c.status for c in m2.history][-3:] == [
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
            MessageStatus.READ,
        ]
        m3 = await store.messages.find_by_provider_id("p", "pid3")
        assert m3 is not None
        assert m3.id == "m3"
        assert m3.attempting_since is None
        # the stashed status meets its send when that is recorded
        await add_messages(store, builders.outbound("m4", at=T0))
        await store.messages.claim("m4", now=T0)
        m4 = await store.messages.finish(
            "m4", Sent(provider="p", provider_message_id="early", at=T0)
        )
        assert m4.status == MessageStatus.DELIVERED

    async def test_inbound_is_stored_once_and_opens_the_window(self, store: Store) -> None:
        first = builders.inbound("in1", at=T0 + _sec(10), provider_message_id="wamid.1")
        again = builders.inbound("in2", at=T0 + _sec(11), provider_message_id="wamid.1")
        other_sender = builders.inbound(
            "in3", at=T0 + _sec(20), provider_message_id="wamid.2", sender_id="s2"
        )
        assert list(await store.messages.record_inbound([first, again])) == [True, False]
        assert list(await store.messages.record_inbound([first])) == [False]
        await store.messages.record_inbound([other_sender])
        assert await store.messages.get("in2") is None
        assert await store.messages.last_inbound("ws1", PHONE, "s1") == T0 + _sec(10)
        assert await store.messages.last_inbound("ws1", PHONE, None) == T0 + _sec(20)
        assert await store.messages.last_inbound("ws1", PHONE, "s9") is None
        assert await store.messages.last_inbound("ws2", PHONE, None) is None
        assert [e.type for e in await store.outbox.for_message("in1")] == ["message.received"]
        assert await store.messages.find_by_provider_id("test", "wamid.1") == first

    async def test_retention_purges_finished_old_messages_and_their_contacts(
        self, store: Store
    ) -> None:
        old, recent = "255700000001", "255700000002"
        day = timedelta(days=1)
        # old and finished: an inbound, a sent message whose webhook was delivered
        await store.messages.record_inbound(
            [builders.inbound("in_old", at=T0, provider_message_id="w1", contact=old)]
        )
        await add_messages(store, builders.outbound("sent_old", at=T0, to=old, webhook_url=None))
        await store.messages.claim("sent_old", now=T0)
        await store.messages.finish("sent_old", Sent(provider="p", provider_message_id="p1", at=T0))
        await store.contacts.upsert(
            Contact(workspace_id="ws1", recipient=Recipient("phone", old), updated_at=T0)
        )
        await store.contacts.link_alias("123@lid", Recipient("phone", old))
        for event in await store.outbox.claim(T0, limit=10, lease=_sec(30)):
            await store.outbox.delivered(event.id, at=T0)
        # old but unfinished: queued, in flight, or owing a webhook
        await add_messages(store, builders.outbound("queued_old", at=T0, to=recent))
        await add_messages(store, builders.outbound("flying_old", at=T0, to=recent))
        await store.messages.claim("flying_old", now=T0)
        await store.messages.record_inbound(
            [builders.inbound("owed_old", at=T0, provider_message_id="w2", contact=recent)]
        )
        # recent: a fresh inbound keeps its window
        later = T0 + 40 * day
        await store.messages.record_inbound(
            [builders.inbound("in_new", at=later, provider_message_id="w3", contact=recent)]
        )
        await store.contacts.upsert(
            Contact(workspace_id="ws1", recipient=Recipient("phone", recent), updated_at=later)
        )

        assert await store.messages.purge_before(later - 30 * day, limit=1) == 1
        assert await store.messages.purge_before(later - 30 * day, limit=100) == 1
        assert await store.messages.purge_before(later - 30 * day, limit=100) == 0
        for gone in ("in_old", "sent_old"):
            assert await store.messages.get(gone) is None
            assert await store.outbox.for_message(gone) == []
        assert await store.messages.find_by_provider_id("test", "w1") is None
        for kept in ("queued_old", "flying_old", "owed_old", "in_new"):
            assert await store.messages.get(kept) is not None
        assert await store.contacts.get("ws1", Recipient("phone", old)) is None
        assert await store.contacts.resolve_alias("123@lid") is None
        assert await store.contacts.get("ws1", Recipient("phone", recent)) is not None
        assert await store.messages.last_inbound("ws1", Recipient("phone", old), None) is None
        assert await store.messages.last_inbound("ws1", Recipient("phone", recent), None) == later
        # a duplicate of a purged inbound is new again (its id is forgotten with it)
        assert list(
            await store.messages.record_inbound(
                [builders.inbound("in_again", at=later, provider_message_id="w1", contact=old)]
            )
        ) == [True]

    async def test_template_sends_count_for_the_window_only_when_asked(self, store: Store) -> None:
        await add_messages(store, builders.outbound("t1", at=T0, category="UTILITY"))
        await store.messages.claim("t1", now=T0)
        await store.messages.finish(
            "t1", Sent(provider="p", provider_message_id="pid", at=T0 + _sec(5))
        )
        assert await store.messages.last_inbound("ws1", PHONE, "s1") is None
        assert await store.messages.last_inbound(
            "ws1", PHONE, "s1", include_templates=True
        ) == T0 + _sec(5)

    async def test_initiated_contacts_are_counted_once(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("a", at=T0, to="255700000001", initiated=True),
            builders.outbound("b", at=T0 + _sec(1), to="255700000001", initiated=True),
            builders.outbound("c", at=T0, to="255700000002", initiated=True),
            builders.outbound("d", at=T0, to="255700000003", initiated=False),
            builders.outbound("e", at=T0 - timedelta(days=2), to="255700000004", initiated=True),
        )
        assert await store.messages.count_initiated("ws1", T0 - timedelta(hours=1)) == 2
        contacts = {
            Recipient("phone", "255700000001"),
            Recipient("phone", "255700000003"),
            Recipient("phone", "255700000004"),
        }
        assert await store.messages.initiated_contacts(
            "ws1", T0 - timedelta(hours=1), contacts
        ) == {Recipient("phone", "255700000001")}
        # who leaves the window first: 002 (its one send at T0), then 001 (its latest, T0+1)
        since = T0 - timedelta(hours=1)
        assert await store.messages.leaves_window("ws1", since, 0) == T0
        assert await store.messages.leaves_window("ws1", since, 1) == T0 + _sec(1)
        assert await store.messages.leaves_window("ws1", since, 2) is None
        assert await store.messages.leaves_window("ws2", since, 0) is None

    async def test_broadcast_rows(self, store: Store) -> None:
        await add_messages(
            store,
            *(
                builders.outbound(f"m{i}", at=T0, to=f"25570000000{i}", broadcast_id="bc1")
                for i in range(3)
            ),
        )
        assert [m.id for m in await store.messages.by_broadcast("bc1")] == ["m0", "m1", "m2"]
        assert await store.messages.by_broadcast("bc2") == []
        counts = await store.messages.counts()
        assert counts["pending"] == 3

    # ------------------------------------------------------------------ model-based property

    @MODEL_SETTINGS
    @given(window_steps())
    async def test_windows_agree_with_a_dictionary_model(
        self, open_store: StoreFactory, steps: list[WindowStep]
    ) -> None:
        """Random inbound messages, template sends and window reads: every read answers
        the latest write before it, per sender or for any sender."""
        async with open_store() as store:
            await windows_agree_with_a_model(store, steps)

    @MODEL_SETTINGS
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["m0", "m1", "m2"]),
                st.sampled_from(list(MessageStatus)),
                st.integers(0, 100),
            ),
            max_size=25,
        ),
        st.lists(st.tuples(st.sampled_from(["k0", "k1"]), st.integers(0, 200)), max_size=10),
    )
    async def test_operation_sequences_agree_with_a_dictionary_model(
        self,
        open_store: StoreFactory,
        updates: list[tuple[str, MessageStatus, int]],
        claims: list[tuple[str, int]],
    ) -> None:
        """Random status updates and idempotency claims, replayed on the store and on a
        small model: final statuses, histories and live keys agree."""
        async with open_store() as store:
            await add_messages(store, *(builders.outbound(f"m{i}", at=T0) for i in range(3)))
            model = {f"m{i}": [MessageStatus.PENDING] for i in range(3)}
            for mid, status, s in updates:
                await store.messages.apply_statuses(
                    [
                        StatusPatch(
                            message_id=mid, change=StatusChange(status=status, at=T0 + _sec(s))
                        )
                    ]
                )
                if merge_status(model[mid][-1], status) != model[mid][-1]:
                    model[mid].append(status)
            for mid, history in model.items():
                record = await store.messages.get(mid)
                assert record is not None
                assert [c.status for c in record.history] == history
                assert record.status == reduce(merge_status, history)
            live: dict[str, int] = {}
            for key, s in sorted(claims, key=lambda c: c[1]):
                now = T0 + _sec(s)
                taken = key in live and live[key] + 60 > s
                try:
                    async with store.transaction() as tx:
                        tx.claim_idempotency(
                            builders.idempotency("scope", key, at=now, ttl=_sec(60))
                        )
                except WaportError as err:
                    assert taken, "the store refused a free key"
                    assert err.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
                else:
                    assert not taken, "the store accepted a taken key"
                    live[key] = s
                for k in ("k0", "k1"):
                    present = await store.idempotency.get("scope", k, now=now)
                    assert (present is not None) == (k in live and live[k] + 60 > s)
