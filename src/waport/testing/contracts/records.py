"""The store contract's part for workspaces, keys, contacts, templates, transactions,
idempotency records and rate limits."""

from __future__ import annotations

from datetime import timedelta

import anyio
import attrs
import pytest

from waport.domain.consent import ConsentChange
from waport.domain.contacts import ContactPatch, ContactQuery
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.listing import ConversationQuery, Cursor, MessageQuery
from waport.domain.ratelimit import RateLimit, gcra
from waport.domain.recipients import Recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    MessageRecord,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.status import MessageStatus, StatusChange
from waport.domain.templates import TemplateSpec, TemplateStatus
from waport.ports import StatusPatch, Store
from waport.testing import builders
from waport.testing.contracts.support import PHONE, T0, _sec, add_messages


class RecordsContract:
    """Part of ``StoreContract``: everything but messages, the outbox and media."""

    # ------------------------------------------------------------------ workspaces, keys, contacts, templates

    async def test_workspaces_and_senders_round_trip(self, store: Store) -> None:
        ws = Workspace(
            id="ws1",
            name="Acme",
            webhook_url="https://h.example.com",
            webhook_secret="whsec_x",
            balance=100,
        )
        await store.workspaces.put(ws)
        assert await store.workspaces.get("ws1") == ws
        assert await store.workspaces.get("nope") is None
        await store.workspaces.put_sender(Sender(id="s2", workspace_id="ws1", phone="255700000002"))
        await store.workspaces.put_sender(Sender(id="s1", workspace_id="ws1"))
        assert [s.id for s in await store.workspaces.senders("ws1")] == ["s1", "s2"]
        assert (await store.workspaces.get_sender("s2")) == Sender(
            id="s2", workspace_id="ws1", phone="255700000002"
        )
        assert [w.id for w in await store.workspaces.list()] == ["ws1"]

    async def test_api_keys(self, store: Store) -> None:
        key = ApiKey(
            id="k1",
            workspace_id="ws1",
            digest="d",
            scopes=frozenset({"messages:send"}),
            senders=frozenset({"s1"}),
            created_at=T0,
        )
        await store.api_keys.add(key)
        assert await store.api_keys.get("k1") == key
        with pytest.raises(WaportError):
            await store.api_keys.add(key)
        assert [k.id for k in await store.api_keys.list("ws1")] == ["k1"]
        assert await store.api_keys.list("other") == []
        assert await store.api_keys.revoke("k1", at=T0 + _sec(1))
        assert not await store.api_keys.revoke("k1", at=T0 + _sec(2))
        revoked = await store.api_keys.get("k1")
        assert revoked is not None
        assert revoked.revoked_at == T0 + _sec(1)

    async def test_contacts_merge_labels_and_aliases(self, store: Store) -> None:
        await store.contacts.upsert(
            Contact(
                workspace_id="ws1",
                recipient=PHONE,
                name="Ana",
                labels=("vip",),
                metadata={"a": 1},
                updated_at=T0,
            )
        )
        merged = await store.contacts.upsert(
            Contact(
                workspace_id="ws1",
                recipient=PHONE,
                labels=("new", "vip"),
                metadata={"b": 2},
                updated_at=T0,
            )
        )
        assert merged.name == "Ana"
        assert merged.labels == ("new", "vip")
        assert dict(merged.metadata) == {"a": 1, "b": 2}
        assert await store.contacts.get("ws1", PHONE) == merged
        assert await store.contacts.get("ws2", PHONE) is None
        await store.contacts.link_alias("123@lid", PHONE)
        assert await store.contacts.resolve_alias("123@lid") == PHONE
        assert await store.contacts.resolve_alias("999@lid") is None

    async def test_an_opt_out_is_kept_and_outlives_retention(self, store: Store) -> None:
        stop = ConsentChange(opted_out=True, at=T0, source="keyword", message_id="in_stop")
        made = await store.contacts.set_consent("ws1", PHONE, stop)
        assert made is not None
        assert made.opted_out
        assert made.consent == (stop,)
        # a send's contact merges labels and keeps the opt-out
        merged = await store.contacts.upsert(
            Contact(workspace_id="ws1", recipient=PHONE, labels=("vip",), updated_at=T0)
        )
        assert (merged.opted_out, merged.labels) == (True, ("vip",))
        assert await store.contacts.set_consent("ws1", PHONE, stop) is None  # the same again
        older = ConsentChange(opted_out=False, at=T0 - _sec(5), source="keyword")
        assert await store.contacts.set_consent("ws1", PHONE, older) is None
        found = await store.contacts.get("ws1", PHONE)
        assert found is not None
        assert found.opted_out
        # no message refers to the contact: retention keeps it all the same
        await store.messages.record_inbound(
            [
                builders.inbound(
                    "in_stop",
                    at=T0,
                    provider_message_id="wS",
                    contact=PHONE.value,
                    webhook_url=None,  # no webhook owed: purgeable
                )
            ]
        )
        await store.messages.purge_before(T0 + timedelta(days=60), limit=100)
        assert await store.messages.get("in_stop") is None
        kept = await store.contacts.get("ws1", PHONE)
        assert kept is not None
        assert kept.opted_out
        start = ConsentChange(opted_out=False, at=T0 + _sec(60), source="api")
        back = await store.contacts.set_consent("ws1", PHONE, start)
        assert back is not None
        assert not back.opted_out
        assert back.consent == (stop, start)
        assert await store.contacts.get("ws2", PHONE) is None

    async def test_templates(self, store: Store) -> None:
        a = TemplateSpec(sender_id="s1", name="a", language="en", body_params=("1",))
        b = TemplateSpec(sender_id="s1", name="b", language="en", status=TemplateStatus.PENDING)
        await store.templates.replace("s1", [a, b])
        assert await store.templates.get("s1", "a", "en") == a
        assert await store.templates.get("s1", "a", "pt") is None
        await store.templates.replace("s1", [b])
        assert await store.templates.get("s1", "a", "en") is None
        await store.templates.put(TemplateSpec(sender_id="s2", name="c", language="en"))
        assert [t.name for t in await store.templates.list(["s1", "s2"])] == ["b", "c"]

    async def test_a_template_is_deleted_in_every_language_and_keeps_its_rating(
        self, store: Store
    ) -> None:
        rated = TemplateSpec(
            sender_id="s1", name="a", language="en", quality="YELLOW", reason="NONE"
        )
        others = [
            attrs.evolve(rated, language="pt_BR"),
            TemplateSpec(sender_id="s1", name="b", language="en"),
            TemplateSpec(sender_id="s2", name="a", language="en"),
        ]
        await store.templates.replace("s1", [rated, *others[:2]])
        await store.templates.put(others[2])
        assert await store.templates.get("s1", "a", "en") == rated
        assert await store.templates.delete("s1", "a") == 2
        assert await store.templates.delete("s1", "a") == 0
        assert [t.key for t in await store.templates.list(["s1", "s2"])] == [
            ("s1", "b", "en"),
            ("s2", "a", "en"),
        ]

    # ------------------------------------------------------------------ transactions and idempotency

    async def test_transaction_commits_on_clean_exit(self, store: Store) -> None:
        async with store.transaction() as tx:
            tx.add_messages([builders.outbound("m1", at=T0), builders.outbound("m2", at=T0)])
            tx.claim_idempotency(builders.idempotency("k", "key1", at=T0))
            tx.upsert_contact(
                Contact(workspace_id="ws1", recipient=PHONE, labels=("a",), updated_at=T0)
            )
        assert (await store.messages.get("m1")) == builders.outbound("m1", at=T0)
        assert await store.messages.get("m2") is not None
        assert await store.idempotency.get("k", "key1", now=T0) is not None
        assert await store.contacts.get("ws1", PHONE) is not None

    async def test_an_exception_inside_a_transaction_persists_nothing(self, store: Store) -> None:
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                tx.add_messages([builders.outbound("m1", at=T0)])
                tx.claim_idempotency(builders.idempotency("k", "key1", at=T0))
                tx.upsert_contact(Contact(workspace_id="ws1", recipient=PHONE, updated_at=T0))
                raise RuntimeError("boom")
        assert await store.messages.get("m1") is None
        assert await store.idempotency.get("k", "key1", now=T0) is None
        assert await store.contacts.get("ws1", PHONE) is None

    async def test_a_taken_idempotency_key_fails_the_whole_transaction(self, store: Store) -> None:
        async with store.transaction() as tx:
            tx.claim_idempotency(builders.idempotency("k", "key1", at=T0))
        with pytest.raises(WaportError) as info:
            async with store.transaction() as tx:
                tx.add_messages([builders.outbound("m1", at=T0)])
                tx.claim_idempotency(builders.idempotency("k", "key1", at=T0 + _sec(1)))
        assert info.value.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
        assert await store.messages.get("m1") is None
        # another scope may use the same key
        async with store.transaction() as tx:
            tx.claim_idempotency(builders.idempotency("other", "key1", at=T0))

    async def test_concurrent_claims_of_one_key_have_one_winner(self, store: Store) -> None:
        outcomes: list[str] = []

        async def claim(i: int) -> None:
            try:
                async with store.transaction() as tx:
                    tx.add_messages([builders.outbound(f"m{i}", at=T0)])
                    tx.claim_idempotency(builders.idempotency("k", "race", at=T0))
                outcomes.append("won")
            except WaportError as err:
                assert err.code == ErrorCode.IDEMPOTENCY_IN_PROGRESS
                outcomes.append("lost")

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(claim, i)
        assert outcomes.count("won") == 1
        present = [i for i in range(8) if await store.messages.get(f"m{i}") is not None]
        assert len(present) == 1

    async def test_idempotency_records_complete_and_expire_by_the_given_clock(
        self, store: Store
    ) -> None:
        async with store.transaction() as tx:
            tx.claim_idempotency(builders.idempotency("k", "key1", at=T0, ttl=timedelta(hours=24)))
        response = StoredResponse(status=202, body=b'{"status":"pending"}')
        await store.idempotency.complete("k", "key1", response)
        record = await store.idempotency.get("k", "key1", now=T0 + timedelta(hours=23, minutes=59))
        assert record is not None
        assert record.response == response
        assert (
            await store.idempotency.get("k", "key1", now=T0 + timedelta(hours=24, seconds=1))
            is None
        )
        assert await store.idempotency.purge(T0 + timedelta(hours=25)) == 1
        # an expired key may be claimed again
        async with store.transaction() as tx:
            tx.claim_idempotency(builders.idempotency("k", "key1", at=T0 + timedelta(hours=25)))

    async def test_expired_but_unpurged_key_can_be_claimed(self, store: Store) -> None:
        async with store.transaction() as tx:
            tx.claim_idempotency(builders.idempotency("k", "key1", at=T0, ttl=_sec(10)))
        async with store.transaction() as tx:
            tx.claim_idempotency(
                builders.idempotency("k", "key1", at=T0 + _sec(11), fingerprint="g")
            )
        record = await store.idempotency.get("k", "key1", now=T0 + _sec(12))
        assert record is not None
        assert record.fingerprint == "g"

    # ------------------------------------------------------------------ rate limits

    async def test_rate_limit_buckets_follow_gcra_and_expire(self, store: Store) -> None:
        rate = RateLimit(3, timedelta(seconds=3))
        tat = None
        for step in [0, 0, 0, 0, 0.5, 1, 1, 1.2, 5]:
            now = T0 + _sec(step)
            expected = gcra(tat, now, rate)
            got = await store.rate_limits.hit("key", rate, now=now)
            assert (got.allowed, got.remaining) == (expected.allowed, expected.remaining)
            if expected.allowed:
                tat = expected.tat
        fresh = await store.rate_limits.hit("other", rate, now=T0 + _sec(5))
        assert fresh.allowed
        assert fresh.remaining == 2
        assert await store.rate_limits.purge(T0 + timedelta(hours=1)) >= 1

    async def test_concurrent_hits_never_over_admit(self, store: Store) -> None:
        rate = RateLimit(5, timedelta(minutes=1))
        allowed: list[bool] = []

        async def hit() -> None:
            allowed.append((await store.rate_limits.hit("shared", rate, now=T0)).allowed)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(hit)
        assert allowed.count(True) == 5

    async def test_a_hit_costs_its_units_and_one_above_the_burst_never_fits(
        self, store: Store
    ) -> None:
        rate = RateLimit(4, timedelta(seconds=4))  # one unit a second, bursts of 4
        never = await store.rate_limits.hit("costly", rate, now=T0, cost=5)
        assert (never.allowed, never.remaining) == (False, 0)
        tat, seen = None, []
        for step, cost in [(0, 3), (0, 2), (0, 1), (1, 2), (3, 4), (3, 2)]:
            now = T0 + _sec(step)
            expected = gcra(tat, now, rate, cost=cost)
            got = await store.rate_limits.hit("costly", rate, now=now, cost=cost)
            assert (got.allowed, got.remaining, got.retry_after) == (
                expected.allowed,
                expected.remaining,
                expected.retry_after,
            )
            if expected.allowed:
                tat = expected.tat
            seen.append(got.allowed)
        assert seen == [True, False, True, False, False, True]


class ListingContract:
    """``MessageStore.page``: newest first, filtered, and walked by cursor without a
    message shown twice or missed."""

    async def test_a_cursor_walk_shows_every_message_once_newest_first(self, store: Store) -> None:
        sends = [
            builders.outbound(f"m{n:02d}", at=T0 + _sec(n // 2), to=f"2557000000{n % 3}")
            for n in range(9)
        ]
        await add_messages(store, *sends)
        seen: list[str] = []
        query = MessageQuery(workspace_id="ws1", limit=2)
        while True:
            rows = list(await store.messages.page(query))
            assert len(rows) <= query.limit + 1
            seen += [r.id for r in rows[: query.limit]]
            if len(rows) <= query.limit:
                break
            # a message arriving mid-walk is newer: it never shifts the walk
            late = builders.outbound(f"late{len(seen)}", at=T0 + _sec(99))
            await add_messages(store, late)
            query = attrs.evolve(query, after=Cursor.at(rows[query.limit - 1]))
        by_place = sorted(sends, key=lambda r: (r.created_at, r.id), reverse=True)
        assert seen == [r.id for r in by_place]

    async def test_every_filter(self, store: Store) -> None:
        await add_messages(
            store,
            builders.outbound("a", at=T0, to="255700000001", sender_id="s1"),
            builders.outbound("b", at=T0 + _sec(1), to="255700000002", sender_id="s2"),
            builders.outbound("c", at=T0 + _sec(2), to="255700000001", broadcast_id="bc1"),
            builders.outbound("other_ws", at=T0, workspace_id="ws2"),
        )
        await store.messages.record_inbound(
            [
                builders.inbound(
                    "in", at=T0 + _sec(3), provider_message_id="wL", contact="255700000001"
                )
            ]
        )

        async def ids(**given: object) -> list[str]:
            query = MessageQuery(workspace_id="ws1", **given)  # type: ignore[arg-type]
            return [r.id for r in await store.messages.page(query)]

        ana = Recipient("phone", "255700000001")
        assert await ids() == ["in", "c", "b", "a"]
        assert await ids(contact=ana) == ["in", "c", "a"]
        assert await ids(sender_id="s2") == ["b"]
        assert await ids(senders=frozenset({"s2"})) == ["b"]
        assert await ids(senders=frozenset()) == []
        assert await ids(direction="inbound") == ["in"]
        assert await ids(direction="outbound", contact=ana) == ["c", "a"]
        assert await ids(status=MessageStatus.DELIVERED) == ["in"]
        assert await ids(mode="text") == ["in", "c", "b", "a"]
        assert await ids(mode="media") == []
        assert await ids(broadcast_id="bc1") == ["c"]
        assert await ids(since=T0 + _sec(1), until=T0 + _sec(3)) == ["c", "b"]
        assert await ids(limit=1) == ["in", "c"]  # one more than the page

    async def test_contacts_are_patched_and_listed_by_number(self, store: Store) -> None:
        def phone(n: int) -> Recipient:
            return Recipient("phone", f"25571234500{n}")

        for n in range(5):
            patch = ContactPatch(
                name=f"Client {n}" if n != 2 else "ana",
                add_labels=("vip",) if n % 2 == 0 else ("lead",),
                attributes={"city": "Dar", "n": n},
            )
            await store.contacts.patch("ws1", phone(n), patch, T0)
        changed = await store.contacts.patch(
            "ws1",
            phone(0),
            ContactPatch(add_labels=("new",), remove_labels=("vip",), attributes={"city": None}),
            T0 + _sec(1),
        )
        assert (changed.labels, dict(changed.metadata), changed.name) == (
            ("new",),
            {"n": 0},
            "Client 0",
        )
        await store.contacts.set_consent(
            "ws1", phone(4), ConsentChange(opted_out=True, at=T0, source="api")
        )
        await store.contacts.patch("ws2", phone(1), ContactPatch(add_labels=("vip",)), T0)

        async def numbers(**given: object) -> list[str]:
            query = ContactQuery(workspace_id="ws1", **given)  # type: ignore[arg-type]
            return [str(c.recipient)[-1] for c in await store.contacts.page(query)]

        assert await numbers() == ["0", "1", "2", "3", "4"]
        assert await numbers(label="vip") == ["2", "4"]
        assert await numbers(opted_out=True) == ["4"]
        assert await numbers(opted_out=False) == ["0", "1", "2", "3"]
        assert await numbers(prefix="255712345003") == ["3"]
        assert await numbers(prefix="AN") == ["2"]  # a name, in any case
        assert await numbers(prefix="25571234500", after=str(phone(2))) == ["3", "4"]
        assert await numbers(limit=1) == ["0", "1"]  # one more than the page
        assert await numbers(prefix="%") == []  # no wildcards
        assert await store.messages.contact_span("ws1", phone(0)) is None
        await add_messages(
            store,
            builders.outbound("x1", at=T0, to=phone(0).value),
            builders.outbound("x2", at=T0 + _sec(9), to=phone(0).value),
        )
        assert await store.messages.contact_span("ws1", phone(0)) == (T0, T0 + _sec(9))

    async def test_numbers_only_messaged_are_listed_as_contacts(self, store: Store) -> None:
        """A number waport has messages with but keeps no record of is listed too (no
        name, no labels, ``updated_at`` its latest message); groups are not."""
        await store.contacts.patch("ws1", PHONE, ContactPatch(name="Ana"), T0)
        await add_messages(
            store,
            builders.outbound("a", at=T0, to=PHONE.value),
            builders.outbound("b", at=T0 + _sec(1), to="255700000005"),
            builders.outbound("c", at=T0 + _sec(2), to="255700000005", sender_id="s2"),
            builders.outbound("d", at=T0 + _sec(3), to="255700000005", workspace_id="ws2"),
        )
        group = attrs.evolve(
            builders.outbound("g", at=T0), contact=Recipient("group", "1203630@g.us")
        )
        await add_messages(store, group)
        await store.messages.record_inbound(
            [
                builders.inbound(
                    "i", at=T0 + _sec(4), provider_message_id="w", contact="255700000009"
                )
            ]
        )

        async def listed(**given: object) -> list[tuple[str, str | None]]:
            query = ContactQuery(workspace_id="ws1", **given)  # type: ignore[arg-type]
            return [(str(c.recipient), c.name) for c in await store.contacts.page(query)]

        assert await listed() == [
            ("255700000005", None),
            ("255700000009", None),
            (PHONE.value, "Ana"),
        ]
        only = await store.contacts.page(ContactQuery(workspace_id="ws1", prefix="2557000000"))
        assert [(str(c.recipient), c.updated_at) for c in only] == [
            ("255700000005", T0 + _sec(2)),
            ("255700000009", T0 + _sec(4)),
        ]
        assert await listed(limit=1, after="255700000005") == [
            ("255700000009", None),
            (PHONE.value, "Ana"),
        ]
        assert await listed(opted_out=False) == await listed()
        assert await listed(opted_out=True) == []
        assert await listed(label="vip") == []
        assert await listed(prefix="Ana") == [(PHONE.value, "Ana")]

    async def test_conversations_by_latest_activity_with_unread_counts(self, store: Store) -> None:
        ana, ben = "255700000011", "255700000012"

        def heard(message_id: str, seconds: int, contact: str) -> MessageRecord:
            return builders.inbound(
                message_id,
                at=T0 + _sec(seconds),
                provider_message_id=f"w_{message_id}",
                contact=contact,
                webhook_url=None,  # nothing owed: retention may take it
            )

        await store.messages.record_inbound([heard(f"a_in{n}", n, ana) for n in range(3)])
        await add_messages(
            store,
            builders.outbound(
                "b_out", at=T0 + _sec(5), to=ben, status=MessageStatus.DELIVERED, webhook_url=None
            ),
            builders.outbound("a_other", at=T0 + _sec(1), to=ana, sender_id="s2"),
            builders.outbound("a_queued", at=T0 - _sec(1), to=ana),  # unsent: retention keeps it
        )
        await store.messages.record_inbound([heard("b_in", 6, ben)])

        async def rows(**given: object) -> list[tuple[str, str, str, int]]:
            query = ConversationQuery(workspace_id="ws1", **given)  # type: ignore[arg-type]
            return [
                (c.contact, c.sender_id, c.last.id, c.unread)
                for c in await store.messages.conversations(query)
            ]

        assert await rows() == [
            (ben, "s1", "b_in", 1),
            (ana, "s1", "a_in2", 3),
            (ana, "s2", "a_other", 0),
        ]
        # marking the second read reads the first too: one left
        change = StatusChange(status=MessageStatus.READ, at=T0)
        await store.messages.apply_statuses([StatusPatch(message_id="a_in1", change=change)])
        assert (await rows())[1] == (ana, "s1", "a_in2", 1)
        assert await rows(sender_id="s2") == [(ana, "s2", "a_other", 0)]
        assert await rows(senders=frozenset({"s2"})) == [(ana, "s2", "a_other", 0)]
        first = await store.messages.conversations(ConversationQuery(workspace_id="ws1", limit=1))
        after = await rows(limit=1, after=first[0].cursor)
        assert after == [(ana, "s1", "a_in2", 1), (ana, "s2", "a_other", 0)]
        # retention: a conversation goes with its messages, or falls back to those left
        await store.messages.purge_before(T0 + timedelta(days=90), limit=100)
        assert await store.messages.get("a_in2") is None
        assert await rows() == [(ana, "s2", "a_other", 0), (ana, "s1", "a_queued", 0)]
