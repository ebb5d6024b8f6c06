"""The store contract's part on erasing a contact (``MessageStore.erase_contact``)."""

from __future__ import annotations

import json
from datetime import datetime

import attrs
import pytest

from waport import codec
from waport.domain.erasure import Erasure, pseudonym
from waport.domain.errors import ErrorCode
from waport.domain.listing import ConversationQuery, MessageQuery
from waport.domain.recipients import Recipient
from waport.domain.records import Contact, OutboxState, StoredResponse
from waport.domain.status import MessageStatus, StatusChange
from waport.ports import Sent, StatusPatch, Store
from waport.testing import builders
from waport.testing.contracts.support import PHONE, T0, _sec, add_messages

OTHER = Recipient("phone", "255700000042")


def _patch(status: MessageStatus, at: datetime) -> StatusPatch:
    change = StatusChange(status=status, at=at)
    return StatusPatch(provider="p", provider_message_id="w1", change=change)


class ErasureContract:
    pytestmark = pytest.mark.anyio

    async def _history(self, store: Store) -> None:
        """Ana: a sent message, a queued one, an inbound one with a webhook owed, a
        contact row with labels, an alias, and a stored answer naming her message;
        another contact beside her."""
        sent = builders.outbound("m1", at=T0, category="MARKETING")
        queued = builders.outbound("m2", at=T0 + _sec(1), due_at=T0 + _sec(3600))
        other = builders.outbound("m3", at=T0 + _sec(2), to=OTHER.value)
        await add_messages(store, sent, queued, other)
        await store.messages.claim("m1", now=T0)
        await store.messages.finish("m1", Sent(provider="p", provider_message_id="w1", at=T0))
        await store.messages.apply_statuses([_patch(MessageStatus.DELIVERED, T0 + _sec(5))])
        await store.messages.record_inbound(
            [builders.inbound("m4", at=T0 + _sec(6), provider_message_id="in1")]
        )
        await store.contacts.upsert(
            Contact(workspace_id="ws1", recipient=PHONE, name="Ana", labels=("vip",), updated_at=T0)
        )
        await store.contacts.link_alias("77@lid", PHONE)
        key = builders.idempotency("k", "key1", at=T0)
        async with store.transaction() as tx:
            tx.claim_idempotency(attrs.evolve(key, message_ids=("m1",)))
        body = json.dumps(
            {
                "status": "sent",
                "data": {"message_id": "m1", "to": PHONE.value, "metadata": {"n": "Ana"}},
            }
        )
        await store.idempotency.complete(
            "k", "key1", StoredResponse(status=200, body=body.encode())
        )

    async def test_erasing_a_contact_keeps_statuses_and_forgets_the_rest(
        self, store: Store
    ) -> None:
        await self._history(store)
        alias = pseudonym(PHONE, b"salt")
        erasure = Erasure(recipient=PHONE, alias=alias, at=T0 + _sec(10))
        erased = await store.messages.erase_contact("ws1", erasure)
        assert sorted(r.id for r in erased) == ["m1", "m2", "m4"]

        m1 = await store.messages.get("m1")
        assert m1 is not None
        assert m1.contact == alias
        assert m1.erased_at == erasure.at
        assert m1.message is None
        assert m1.metadata == {}
        assert m1.webhook_url is None
        assert m1.status == MessageStatus.DELIVERED
        assert m1.category == "MARKETING"
        assert [c.status for c in m1.history] == [
            MessageStatus.PENDING,
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
        ]
        m2 = await store.messages.get("m2")
        assert m2 is not None
        assert m2.status == MessageStatus.FAILED
        assert m2.error is not None
        assert m2.error.code == ErrorCode.CONTACT_ERASED
        due = await store.messages.due(T0 + _sec(7200), limit=10)
        assert [r.id for r in due] == ["m3"]  # the other contact's
        m4 = await store.messages.get("m4")
        assert m4 is not None
        assert m4.inbound is None
        assert m4.contact == alias
        other = await store.messages.get("m3")
        assert other is not None
        assert other.contact == OTHER
        assert other.message is not None

        # the number is gone from every read, the pseudonym is in its place
        assert await store.contacts.get("ws1", PHONE) is None
        assert await store.contacts.resolve_alias("77@lid") is None
        assert await store.messages.last_inbound("ws1", PHONE, None) is None
        assert await store.messages.page(MessageQuery(workspace_id="ws1", contact=PHONE)) == []
        listed = await store.messages.page(MessageQuery(workspace_id="ws1", contact=alias))
        assert sorted(r.id for r in listed) == ["m1", "m2", "m4"]
        chats = await store.messages.conversations(ConversationQuery(workspace_id="ws1"))
        assert sorted(c.contact for c in chats) == sorted([alias.value, OTHER.value])

        # the webhook events: scrubbed, the owed ones dead
        for message_id in ("m1", "m4"):
            events = await store.outbox.for_message(message_id)
            assert events
            for event in events:
                text = codec.dumps(event)
                assert PHONE.value not in text
                assert '"hi"' not in text
                assert event.state != OutboxState.PENDING
        events_of_m1 = await store.outbox.for_message("m1")
        # the stored answer names the pseudonym, not the number
        kept = await store.idempotency.get("k", "key1", now=T0)
        assert kept is not None
        assert kept.response is not None
        answer = json.loads(kept.response.body)
        assert answer["data"] == {"message_id": "m1", "erased": True}
        assert PHONE.value not in kept.response.body.decode()

        # a status that arrives later still counts; erasing again changes nothing
        await store.messages.apply_statuses([_patch(MessageStatus.READ, T0 + _sec(20))])
        m1 = await store.messages.get("m1")
        assert m1 is not None
        assert m1.status == MessageStatus.READ
        assert m1.contact == alias
        assert await store.outbox.for_message("m1") == events_of_m1  # no webhook owed
        assert await store.messages.erase_contact("ws1", erasure) == []

    async def test_erasing_an_unknown_contact_changes_nothing(self, store: Store) -> None:
        await add_messages(store, builders.outbound("m1", at=T0))
        alias = pseudonym(OTHER, b"salt")
        erasure = Erasure(recipient=OTHER, alias=alias, at=T0)
        assert await store.messages.erase_contact("ws1", erasure) == []
        kept = await store.messages.get("m1")
        assert kept is not None
        assert kept.contact == PHONE
        assert kept.message is not None

    async def test_erasure_is_per_workspace(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("m1", at=T0),
            builders.outbound("m2", at=T0, workspace_id="ws2"),
        )
        erasure = Erasure(recipient=PHONE, alias=pseudonym(PHONE, b"s"), at=T0)
        assert [r.id for r in await store.messages.erase_contact("ws1", erasure)] == ["m1"]
        kept = await store.messages.get("m2")
        assert kept is not None
        assert kept.contact == PHONE
