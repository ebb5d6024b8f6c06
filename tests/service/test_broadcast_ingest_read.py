"""Broadcasts (persist-then-attempt), ingestion, mark-read, billing and messaging limits."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
import pytest

from waport import (
    ErrorCode,
    InboundMessage,
    MessageStatus,
    StatusUpdate,
    WaportError,
    parse_recipient,
)
from waport.domain.records import Workspace

from .conftest import Stack

pytestmark = pytest.mark.anyio
HELLO = {"name": "hello_world", "language": "en_US"}


def numbers(n: int) -> list[str]:
    return [f"2557{i:08d}" for i in range(n)]


def body(recipients: list[str], **extra: object) -> dict[str, object]:
    return {
        "template": HELLO,
        "sender_id": "sandbox-sender",
        "recipients": [{"to": r} for r in recipients],
        **extra,
    }


async def test_broadcast_of_256_with_3_scripted_failures(stack: Stack) -> None:
    to = numbers(256)
    for bad in (to[7], to[100], to[255]):
        stack.sandbox.script(to=parse_recipient(bad), fail_with=ErrorCode.RECIPIENT_NOT_ON_WHATSAPP)
    result = await stack.messenger.broadcast(body(to))
    summary = result.summary
    assert (summary.total, summary.sent, summary.pending, summary.failed) == (256, 253, 0, 3)
    rows = await stack.store.messages.by_broadcast(result.broadcast_id)
    assert len(rows) == 256
    failed = {str(r.contact) for r in rows if r.status == MessageStatus.FAILED}
    assert failed == {to[7], to[100], to[255]}
    assert len(stack.sandbox.sent) == 253
    again = await stack.messenger.get_broadcast(result.broadcast_id)
    assert again.summary == summary


async def test_duplicates_are_refused_and_nothing_is_stored(stack: Stack) -> None:
    with pytest.raises(WaportError) as info:
        await stack.messenger.broadcast(body(["+255 712 345 678", "255712345678"]))
    assert (info.value.code, info.value.param) == (
        ErrorCode.DUPLICATE_RECIPIENT,
        "recipients[1].to",
    )
    assert await stack.store.messages.counts() == {}


async def test_rows_refused_before_sending_become_failed_rows(stack: Stack) -> None:
    request = {
        "template": {"name": "order_update", "language": "en_US", "params": {"1": "Ana"}},
        "sender_id": "sandbox-sender",
        "recipients": [
            {"to": "255700000001", "template_params": {"2": "#1"}},
            {"to": "255700000002"},
        ],
    }
    result = await stack.messenger.broadcast(request)
    by_to = {str(r.contact): r for r in result.rows}
    assert by_to["255700000001"].status == MessageStatus.SENT
    refused = by_to["255700000002"]
    assert refused.status == MessageStatus.FAILED
    assert refused.error is not None
    assert refused.error.code == "MISSING_TEMPLATE_VARIABLES"
    assert result.summary.failed == 1
    unknown = await stack.messenger.broadcast(
        {**body(["255700000003"]), "template": {"name": "nope", "language": "en_US"}}
    )
    assert unknown.summary.failed == 1
    assert unknown.rows[0].error is not None
    assert unknown.rows[0].error.code == "TEMPLATE_NOT_FOUND"


async def test_scheduled_broadcast_rows_wait(stack: Stack) -> None:
    result = await stack.messenger.broadcast(body(numbers(3), scheduled_at="2026-01-02T00:00:00Z"))
    assert result.summary.pending == 3
    assert all(r.status == MessageStatus.SCHEDULED for r in result.rows)
    assert stack.sandbox.sent == []


async def test_messaging_limit_tier(stack: Stack) -> None:
    await stack.store.workspaces.put(Workspace(id="default", messaging_tier=5))
    await stack.messenger.broadcast(body(numbers(4)))
    with pytest.raises(WaportError) as info:
        await stack.messenger.broadcast(body([*numbers(4)[2:], "255799999999", "255799999998"]))
    assert info.value.code == ErrorCode.MESSAGING_LIMIT_REACHED
    # contacts already reached in the moving 24 h do not count again
    again = await stack.messenger.broadcast(body([*numbers(4)[:3], "255799999999"]))
    assert again.summary.sent == 4
    stack.clock.advance(hours=24)
    await stack.messenger.broadcast(body(["255711111111", "255722222222"]))


async def test_prepaid_billing(stack: Stack) -> None:
    stack.messenger.core.policy = attrs.evolve(stack.messenger.core.policy, prices={"UTILITY": 10})
    await stack.store.workspaces.put(Workspace(id="default", messaging_tier=None))  # unlimited
    await stack.store.workspaces.put(Workspace(id="default", balance=25))  # now prepaid
    await stack.messenger.send(
        {"to": "255700000001", "sender_id": "sandbox-sender", "template": HELLO}
    )
    with pytest.raises(WaportError) as info:
        await stack.messenger.broadcast(body(numbers(2)))
    assert info.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert await stack.store.messages.counts() == {"sent": 1}
    stack.sandbox.not_on_whatsapp.add(parse_recipient("255700000009"))
    failed = await stack.messenger.send(
        {"to": "255700000009", "sender_id": "sandbox-sender", "template": HELLO}
    )
    assert failed.status == MessageStatus.FAILED
    ws = await stack.store.workspaces.get("default")
    assert ws is not None
    assert ws.balance == 15  # the failed send was refunded
    kinds = [
        e.kind.value for e in await stack.store.workspaces.ledger("default", after=None, limit=9)
    ]
    assert sorted(kinds) == ["debit", "debit", "refund"]
    await stack.store.workspaces.put(Workspace(id="default", balance=100, billing_suspended=True))
    with pytest.raises(WaportError) as info:
        await stack.messenger.send(
            {"to": "255700000001", "sender_id": "sandbox-sender", "template": HELLO}
        )
    assert info.value.code == ErrorCode.BILLING_SUSPENDED


async def test_inbound_is_stored_once_even_when_delivered_twice(stack: Stack) -> None:
    await stack.store.workspaces.put(
        Workspace(id="default", webhook_url="https://hooks.example.com/in")
    )
    event = stack.sandbox.inbound(
        contact=parse_recipient("255712345678"),
        sender_id="sandbox-sender",
        text="hi",
        at=stack.clock.now(),
    )
    first = await stack.messenger.ingest([event, event])
    second = await stack.messenger.ingest([event])
    assert (first.inbound_new, first.inbound_duplicate, second.inbound_new) == (1, 1, 0)
    pending = await stack.store.outbox.claim(
        stack.clock.now(), limit=10, lease=__import__("datetime").timedelta(seconds=30)
    )
    assert [e.type for e in pending] == ["message.received"]
    unknown = InboundMessage(
        provider="sandbox",
        provider_message_id="x",
        sender_id="nobody",
        contact=parse_recipient("255712345678"),
        received_at=stack.clock.now(),
        kind="text",
        text="?",
    )
    assert (await stack.messenger.ingest([unknown])).unknown_sender == 1


async def test_statuses_merge_forward_whatever_order_they_arrive_in(stack: Stack) -> None:
    sent = await stack.messenger.send(
        {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
    )
    pid = sent.message.provider_message_id
    assert pid is not None
    now = stack.clock.now()

    def update(status: MessageStatus) -> StatusUpdate:
        return StatusUpdate(provider="sandbox", provider_message_id=pid, status=status, at=now)

    report = await stack.messenger.ingest(
        [update(MessageStatus.READ), update(MessageStatus.DELIVERED), update(MessageStatus.READ)]
    )
    assert (report.statuses_applied, report.statuses_ignored) == (1, 2)
    record = await stack.messenger.get_message(sent.message_id)
    assert record.status == MessageStatus.READ


async def test_a_reply_to_our_message_is_a_reply_event(stack: Stack) -> None:
    await stack.store.workspaces.put(
        Workspace(id="default", webhook_url="https://hooks.example.com/in")
    )
    sent = await stack.messenger.send(
        {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
    )
    reply = InboundMessage(
        provider="sandbox",
        provider_message_id="in-1",
        sender_id="sandbox-sender",
        contact=parse_recipient("255712345678"),
        received_at=stack.clock.now(),
        kind="button",
        text="Yes",
        reply_to=sent.message.provider_message_id,
    )
    await stack.messenger.ingest([reply])
    inbound = await stack.store.messages.find_by_provider_id("sandbox", "in-1")
    assert inbound is not None
    assert inbound.reply_to == sent.message_id
    events = await stack.store.outbox.for_message(inbound.id)
    assert [e.type for e in events] == ["message.reply"]
    assert events[0].payload["data"]["reply_to_message_id"] == sent.message_id


async def test_mark_read(stack: Stack) -> None:
    event = stack.sandbox.inbound(
        contact=parse_recipient("255712345678"),
        sender_id="sandbox-sender",
        text="hi",
        at=stack.clock.now(),
    )
    await stack.messenger.ingest([event])
    inbound = await stack.store.messages.find_by_provider_id("sandbox", event.provider_message_id)
    assert inbound is not None
    record = await stack.messenger.mark_read(inbound.id)
    assert record.status == MessageStatus.READ
    assert stack.sandbox.marked_read == [event.provider_message_id]
    with pytest.raises(WaportError) as info:
        await stack.messenger.mark_read(inbound.id, workspace_id="other")
    assert info.value.code == ErrorCode.FORBIDDEN
    sent = await stack.messenger.send({"to": "255712345678", "text": "hello"})
    with pytest.raises(WaportError) as info:
        await stack.messenger.mark_read(sent.message_id)
    assert info.value.code == ErrorCode.INVALID_MESSAGE
    with pytest.raises(WaportError) as info:
        await stack.messenger.mark_read("msg_unknown")
    assert info.value.code == ErrorCode.INVALID_MESSAGE


async def test_another_workspaces_message_is_not_found(stack: Stack) -> None:
    sent = await stack.messenger.send(
        {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
    )
    with pytest.raises(WaportError) as info:
        await stack.messenger.get_message(sent.message_id, workspace_id="other")
    assert info.value.code == ErrorCode.MESSAGE_NOT_FOUND


async def test_template_sync_and_listing(stack: Stack) -> None:
    assert await stack.messenger.sync_templates(sender_id="sandbox-sender") == 3
    names = [t.name for t in await stack.messenger.list_templates()]
    assert names == ["hello_world", "order_update", "spring_sale"]
    with pytest.raises(WaportError):
        await stack.messenger.list_templates(sender_id="other")


async def test_crash_recovery_retries_with_the_same_client_id(stack: Stack) -> None:
    """A claim left behind by a dead process is retried, and the sandbox de-duplicates by id."""
    from datetime import timedelta

    result = await stack.messenger.send(
        {
            "to": "255712345678",
            "sender_id": "sandbox-sender",
            "template": HELLO,
            "scheduled_at": "2026-01-01T00:00:10Z",
        }
    )
    stack.clock.advance(10)
    await stack.store.messages.claim(result.message_id, now=stack.clock.now())  # the "dead" attempt
    await stack.messenger.dispatch_once()
    assert stack.sandbox.sent == []
    stack.clock.advance(timedelta(minutes=2).total_seconds())
    report = await stack.messenger.dispatch_once()
    assert report.recovered == 1
    await stack.messenger.dispatch_once()
    assert (await stack.messenger.get_message(result.message_id)).status == MessageStatus.SENT
    assert len(stack.sandbox.sent) == 1


async def test_ingest_looks_senders_and_workspaces_up_through_the_lookup_cache(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.messenger.policy = attrs.evolve(
        stack.messenger.policy, lookup_cache_ttl=timedelta(seconds=1)
    )
    reads: Counter[str] = Counter()
    part = type(stack.store.workspaces)
    for name in ("get", "get_sender"):
        original = getattr(part, name)

        async def counted(self: object, key: str, _read: Any = original, _name: str = name) -> Any:
            reads[_name] += 1
            return await _read(self, key)

        monkeypatch.setattr(part, name, counted)

    async def inbound(n: int) -> int:
        event = stack.sandbox.inbound(
            contact=parse_recipient(f"25571234567{n}"),
            sender_id="sandbox-sender",
            text="hi",
            at=stack.clock.now(),
        )
        return (await stack.messenger.ingest([event])).inbound_new

    assert [await inbound(n) for n in range(3)] == [1, 1, 1]
    assert reads == {"get": 1, "get_sender": 1}  # once for three webhooks
    stack.clock.advance(2)
    assert await inbound(3) == 1
    assert reads == {"get": 2, "get_sender": 2}  # looked up again once the entry expired
