"""The store contract's part for the outbox of webhook events."""

from __future__ import annotations

import anyio
import attrs

from waport.domain.records import (
    OutboxEvent,
    OutboxState,
)
from waport.domain.status import MessageStatus, StatusChange
from waport.domain.template_events import template_event
from waport.domain.templates import TemplateSpec, TemplateStatus
from waport.ports import Sent, StatusPatch, Store
from waport.testing import builders
from waport.testing.contracts.support import T0, _sec, add_messages


class OutboxContract:
    """Part of ``StoreContract``: the outbox."""

    # ------------------------------------------------------------------ outbox

    async def _sent_with_statuses(self, store: Store, mid: str, *statuses: MessageStatus) -> None:
        await add_messages(store, builders.outbound(mid, at=T0))
        await store.messages.claim(mid, now=T0)
        await store.messages.finish(
            mid, Sent(provider="p", provider_message_id=f"pid-{mid}", at=T0)
        )
        await store.messages.apply_statuses(
            [StatusPatch(message_id=mid, change=StatusChange(status=s, at=T0)) for s in statuses]
        )

    async def test_outbox_delivers_in_order_per_message(self, store: Store) -> None:
        await self._sent_with_statuses(store, "m1", MessageStatus.DELIVERED, MessageStatus.READ)
        await self._sent_with_statuses(store, "m2")
        first = await store.outbox.claim(T0, limit=10, lease=_sec(30))
        assert sorted((e.message_id, e.type) for e in first) == [
            ("m1", "message.sent"),
            ("m2", "message.sent"),
        ]
        assert (
            await store.outbox.claim(T0, limit=10, lease=_sec(30)) == []
        )  # leased, and m1's later events wait
        m1_sent = next(e for e in first if e.message_id == "m1")
        await store.outbox.delivered(m1_sent.id, at=T0)
        second = await store.outbox.claim(T0, limit=10, lease=_sec(30))
        assert [e.type for e in second] == ["message.delivered"]
        await store.outbox.failed(second[0].id, at=T0, due_at=T0 + _sec(5), error="503")
        assert await store.outbox.claim(T0 + _sec(1), limit=10, lease=_sec(30)) == []
        retried = await store.outbox.claim(T0 + _sec(5), limit=10, lease=_sec(30))
        assert [(e.type, e.attempts) for e in retried] == [("message.delivered", 1)]
        await store.outbox.failed(retried[0].id, at=T0, due_at=None, error="gave up")
        dead = await store.outbox.get(retried[0].id)
        assert dead is not None
        assert dead.state == OutboxState.DEAD
        after = await store.outbox.claim(T0 + _sec(6), limit=10, lease=_sec(30))
        assert [e.type for e in after] == ["message.read"]

    async def test_events_no_change_carries_are_queued_once(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m9", at=T0))
        event = OutboxEvent(
            id="evt_m9_media_ready",
            workspace_id="w",
            message_id="m9",
            type="media.ready",
            url="https://hooks.example.com/wa",
            payload={"id": "evt_m9_media_ready", "data": {"media": {"status": "ready"}}},
            created_at=T0,
            due_at=T0,
            seq=1,
        )
        await store.outbox.add([event])
        await store.outbox.add([attrs.evolve(event, payload={"changed": True})])  # a repeat
        claimed = await store.outbox.claim(T0, limit=10, lease=_sec(30))
        assert [(e.id, e.type, dict(e.payload)) for e in claimed] == [
            (event.id, "media.ready", dict(event.payload))
        ]

    async def test_a_templates_events_need_no_message_and_go_out_in_order(
        self, store: Store
    ) -> None:
        spec = TemplateSpec(sender_id="s1", name="promo", language="en")
        paused = attrs.evolve(spec, status=TemplateStatus.PAUSED, quality="RED")
        url = "https://hooks.example.com/wa"
        first = template_event(paused, spec, workspace_id="w", url=url, at=T0)
        second = template_event(spec, paused, workspace_id="w", url=url, at=T0 + _sec(1))
        await store.outbox.add([first, second])
        await store.outbox.add([first])  # the provider redelivered its webhook
        claimed = await store.outbox.claim(T0 + _sec(2), limit=10, lease=_sec(30))
        assert [(e.id, e.type) for e in claimed] == [(first.id, "template.updated")]
        assert claimed[0].payload["data"]["status"] == "PAUSED"
        await store.outbox.delivered(first.id, at=T0 + _sec(2))
        then = await store.outbox.claim(T0 + _sec(2), limit=10, lease=_sec(30))
        assert [e.payload["data"]["previous"]["status"] for e in then] == ["PAUSED"]

    async def test_an_expired_lease_makes_an_event_claimable_again(self, store: Store) -> None:
        await self._sent_with_statuses(store, "m1")
        assert len(await store.outbox.claim(T0, limit=10, lease=_sec(30))) == 1
        assert await store.outbox.claim(T0 + _sec(29), limit=10, lease=_sec(30)) == []
        assert len(await store.outbox.claim(T0 + _sec(30), limit=10, lease=_sec(30))) == 1

    async def test_concurrent_outbox_claims_never_share_an_event(self, store: Store) -> None:
        for i in range(20):
            await self._sent_with_statuses(store, f"m{i}")
        claimed: list[str] = []

        async def claim() -> None:
            claimed.extend(e.id for e in await store.outbox.claim(T0, limit=3, lease=_sec(30)))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(claim)
        assert len(claimed) == len(set(claimed)) == 20

    async def test_a_gone_url_kills_its_pending_events(self, store: Store) -> None:
        await self._sent_with_statuses(store, "m1", MessageStatus.DELIVERED)
        assert await store.outbox.pending_count() == 2
        assert await store.outbox.kill_url("https://hooks.example.com/wa", error="410 Gone") == 2
        assert await store.outbox.pending_count() == 0
        assert await store.outbox.claim(T0, limit=10, lease=_sec(1)) == []
