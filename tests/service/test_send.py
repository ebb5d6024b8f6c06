"""Send, window gating, templates, scheduling and expiry on the in-memory stack."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import anyio
import pytest

from waport import ErrorCode, MessageStatus, WaportError, parse_recipient
from waport.domain.records import Workspace
from waport.ports import SendReceipt
from waport.service import Messenger, Policy, SendResult
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider

from .conftest import Stack

pytestmark = pytest.mark.anyio
TO = "255712345678"
HELLO = {"name": "hello_world", "language": "en_US"}


async def open_window(stack: Stack, to: str = TO) -> None:
    event = stack.sandbox.inbound(
        contact=parse_recipient(to), sender_id="sandbox-sender", text="hi", at=stack.clock.now()
    )
    await stack.messenger.ingest([event])


async def test_free_form_outside_the_window_is_refused_before_the_provider(stack: Stack) -> None:
    calls = stack.sandbox.remote_calls
    with pytest.raises(WaportError) as info:
        await stack.messenger.send({"to": TO, "text": "hello"})
    assert (info.value.code, info.value.param) == (ErrorCode.WINDOW_CLOSED, "to")
    assert stack.sandbox.remote_calls == calls
    assert stack.sandbox.sent == []
    assert await stack.store.messages.counts() == {}


async def test_after_an_inbound_message_free_form_goes_through(stack: Stack) -> None:
    await open_window(stack)
    result = await stack.messenger.send({"to": "+255 712-345-678", "text": "hello"})
    assert result.status == MessageStatus.SENT
    assert stack.sandbox.sent[-1].client_id == result.message_id
    stack.clock.advance(hours=24)
    with pytest.raises(WaportError) as info:
        await stack.messenger.send({"to": TO, "text": "too late"})
    assert info.value.code == ErrorCode.WINDOW_CLOSED


async def test_attempt_false_only_stores_and_the_dispatcher_sends(stack: Stack) -> None:
    result = await stack.messenger.send(
        {"to": TO, "sender_id": "sandbox-sender", "template": HELLO}, attempt=False
    )
    assert result.status == MessageStatus.PENDING
    assert stack.sandbox.sent == []
    stored = await stack.store.messages.get(result.message_id)
    assert stored is not None
    assert stored.status == MessageStatus.PENDING
    assert stored.attempting_since is None  # not claimed: the dispatcher may take it
    await stack.messenger.dispatch_once()
    assert [s.client_id for s in stack.sandbox.sent] == [result.message_id]
    sent = await stack.store.messages.get(result.message_id)
    assert sent is not None
    assert sent.status == MessageStatus.SENT
    # refusals are the same as an inline send's: nothing stored
    with pytest.raises(WaportError) as info:
        await stack.messenger.send({"to": TO, "text": "free-form"}, attempt=False)
    assert info.value.code == ErrorCode.WINDOW_CLOSED


async def test_check_window_false_skips_the_gate_and_the_sandbox_fails_like_meta(
    stack: Stack,
) -> None:
    result = await stack.messenger.send({"to": TO, "text": "hello", "check_window": False})
    assert result.status == MessageStatus.SENT
    stack.clock.advance(2)
    await stack.messenger.dispatch_once()
    record = await stack.messenger.get_message(result.message_id)
    assert record.status == MessageStatus.FAILED
    assert record.error is not None
    assert (record.error.code, record.error.provider_code) == ("WINDOW_CLOSED", "131047")


async def test_templates_are_never_gated_and_are_checked(stack: Stack) -> None:
    sent = await stack.messenger.send({"to": TO, "sender_id": "sandbox-sender", "template": HELLO})
    assert sent.status == MessageStatus.SENT
    assert sent.message.category == "UTILITY"
    assert sent.message.initiated
    with pytest.raises(WaportError) as info:
        await stack.messenger.send(
            {
                "to": TO,
                "sender_id": "sandbox-sender",
                "template": {"name": "nope", "language": "en_US"},
            }
        )
    assert info.value.code == ErrorCode.TEMPLATE_NOT_FOUND
    with pytest.raises(WaportError) as info:
        await stack.messenger.send(
            {
                "to": TO,
                "sender_id": "sandbox-sender",
                "template": {"name": "order_update", "language": "en_US", "params": ["Ana"]},
            }
        )
    assert (info.value.code, info.value.details) == (ErrorCode.MISSING_TEMPLATE_VARIABLES, ("2",))
    with pytest.raises(WaportError) as info:
        await stack.messenger.send({"to": TO, "sender_id": "other", "template": HELLO})
    assert info.value.code == ErrorCode.SENDER_NOT_FOUND


async def test_a_template_does_not_open_the_window_unless_the_policy_says_so(stack: Stack) -> None:
    await stack.messenger.send({"to": TO, "sender_id": "sandbox-sender", "template": HELLO})
    assert not (await stack.messenger.window_status(TO)).within_window
    ws = await stack.store.workspaces.get("default")
    assert ws is not None
    await stack.store.workspaces.put(Workspace(id=ws.id, name=ws.name, template_opens_window=True))
    answer = await stack.messenger.window_status(TO)
    assert answer.within_window
    result = await stack.messenger.send({"to": TO, "text": "now allowed"})
    assert result.status == MessageStatus.SENT


async def test_window_status_answers(stack: Stack) -> None:
    none = await stack.messenger.window_status(TO)
    assert (none.within_window, none.reason, none.last_inbound_at) == (
        False,
        "no_inbound_history",
        None,
    )
    await open_window(stack)
    stack.clock.advance(hours=2)
    open_ = await stack.messenger.window_status(TO, sender_id="sandbox-sender")
    assert (open_.within_window, open_.reason, open_.hours_since_last_inbound) == (
        True,
        "within_window",
        2.0,
    )
    stack.clock.advance(hours=22)
    closed = await stack.messenger.window_status(TO)
    assert (closed.within_window, closed.reason) == (False, "window_expired")
    with pytest.raises(WaportError):
        await stack.messenger.window_status(TO, sender_id="unknown")


async def test_scheduled_send_goes_out_when_due_and_expired_ends_expired(stack: Stack) -> None:
    t0 = stack.clock.now()
    due = await stack.messenger.send(
        {
            "to": TO,
            "sender_id": "sandbox-sender",
            "template": HELLO,
            "scheduled_at": (t0 + timedelta(hours=1)).isoformat(),
        }
    )
    late = await stack.messenger.send(
        {
            "to": "255712345679",
            "sender_id": "sandbox-sender",
            "template": HELLO,
            "scheduled_at": (t0 + timedelta(hours=2)).isoformat(),
            "expires_at": (t0 + timedelta(hours=2, minutes=30)).isoformat(),
        }
    )
    assert (due.status, late.status) == (MessageStatus.SCHEDULED, MessageStatus.SCHEDULED)
    assert stack.sandbox.sent == []
    stack.clock.advance(minutes=59)
    await stack.messenger.dispatch_once()
    assert stack.sandbox.sent == []
    stack.clock.advance(minutes=1)
    report = await stack.messenger.dispatch_once()
    assert report.attempted == 1
    assert (await stack.messenger.get_message(due.message_id)).status == MessageStatus.SENT
    # the second one's process was away past its deadline
    stack.clock.advance(hours=5)
    report = await stack.messenger.dispatch_once()
    assert report.expired == 1
    expired = await stack.messenger.get_message(late.message_id)
    assert expired.status == MessageStatus.EXPIRED
    assert expired.error is not None
    assert expired.error.code == "EXPIRED"
    assert len(stack.sandbox.sent) == 1


async def test_retryable_failures_are_retried_with_backoff(stack: Stack) -> None:
    await open_window(stack)
    stack.sandbox.script(to=parse_recipient(TO), fail_with=ErrorCode.PROVIDER_UNAVAILABLE, times=2)
    result = await stack.messenger.send({"to": TO, "text": "retry me"})
    assert result.status == MessageStatus.PENDING
    assert result.message.error is not None
    assert result.message.due_at is not None
    first_due = result.message.due_at
    await stack.messenger.dispatch_once()
    assert stack.sandbox.sent == []  # not due yet
    stack.clock.set(first_due)
    await stack.messenger.dispatch_once()
    stack.clock.advance(minutes=10)
    await stack.messenger.dispatch_once()
    record = await stack.messenger.get_message(result.message_id)
    assert record.status == MessageStatus.SENT
    assert record.attempts == 3
    assert len(stack.sandbox.sent) == 1


async def test_permanent_failures_are_stored_failed(stack: Stack) -> None:
    await open_window(stack)
    stack.sandbox.not_on_whatsapp.add(parse_recipient(TO))
    result = await stack.messenger.send({"to": TO, "text": "x"})
    assert result.status == MessageStatus.FAILED
    assert result.error is not None
    assert result.error.code == "RECIPIENT_NOT_ON_WHATSAPP"
    assert (await stack.messenger.get_message(result.message_id)).status == MessageStatus.FAILED


async def test_rate_limited_provider_pauses_for_retry_after(stack: Stack) -> None:
    await open_window(stack)
    stack.sandbox.script(fail_with=ErrorCode.RATE_LIMITED, retry_after=120)
    result = await stack.messenger.send({"to": TO, "text": "x"})
    assert result.message.due_at is not None
    assert result.message.due_at - stack.clock.now() >= timedelta(seconds=120)


async def test_pacing_queues_instead_of_collecting_errors(stack: Stack) -> None:
    stack.sandbox.max_rps = 5
    sent = []
    for i in range(8):
        r = await stack.messenger.send(
            {"to": f"2557000000{i:02d}", "sender_id": "sandbox-sender", "template": HELLO}
        )
        sent.append(r.status)
    assert sent.count(MessageStatus.SENT) == 5
    assert sent.count(MessageStatus.PENDING) == 3
    stack.clock.advance(1)
    await stack.messenger.dispatch_once()
    assert len(stack.sandbox.sent) == 8


@pytest.mark.parametrize("max_rps", [1_000_000, math.inf])
async def test_a_provider_of_a_million_per_second_or_more_is_not_paced(
    stack: Stack, max_rps: float
) -> None:
    stack.sandbox.max_rps = max_rps
    for i in range(50):  # all in the same instant of the fake clock
        r = await stack.messenger.send(
            {"to": f"2557000000{i:02d}", "sender_id": "sandbox-sender", "template": HELLO}
        )
        assert r.status is MessageStatus.SENT


async def test_pair_rate_and_category_pacing(stack: Stack) -> None:
    from waport import RateLimit
    from waport.service import Policy

    stack.messenger.policy = Policy(
        pair_rate=RateLimit(1, timedelta(seconds=6), burst=2),
        category_pacing={"MARKETING": (8, 25)},
    )
    await open_window(stack)
    statuses = [(await stack.messenger.send({"to": TO, "text": f"m{i}"})).status for i in range(3)]
    assert statuses == [MessageStatus.SENT, MessageStatus.SENT, MessageStatus.PENDING]


async def test_reply_and_reaction_resolve_our_ids_to_provider_ids(stack: Stack) -> None:
    await open_window(stack)
    first = await stack.messenger.send({"to": TO, "text": "first"})
    await stack.messenger.send({"to": TO, "text": "second", "reply_to": first.message_id})
    await stack.messenger.send(
        {"to": TO, "reaction": {"message_id": first.message_id, "emoji": "👍"}}
    )
    pid = first.message.provider_message_id
    assert stack.sandbox.sent[1].reply_to == pid
    assert stack.sandbox.sent[2].message.content.message_id == pid  # type: ignore[union-attr]


async def test_contact_details_are_upserted_with_the_send(stack: Stack) -> None:
    await stack.messenger.send(
        {
            "to": TO,
            "sender_id": "sandbox-sender",
            "template": HELLO,
            "contact": {"name": "Ana", "labels": ["vip"]},
        }
    )
    await stack.messenger.send(
        {
            "to": TO,
            "sender_id": "sandbox-sender",
            "template": HELLO,
            "contact": {"labels": ["lead"]},
        }
    )
    contact = await stack.store.contacts.get("default", parse_recipient(TO))
    assert contact is not None
    assert (contact.name, contact.labels) == ("Ana", ("lead", "vip"))


async def test_capabilities_are_checked_before_any_io(stack: Stack) -> None:
    from waport.ports import Capabilities

    calls = stack.sandbox.remote_calls
    stack.sandbox.limited_to = Capabilities(groups=False, base64_media=False)
    with pytest.raises(WaportError) as info:
        await stack.messenger.send({"to": "120363025246125486@g.us", "text": "x"})
    assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
    with pytest.raises(WaportError) as info:
        await stack.messenger.send(
            {
                "to": TO,
                "check_window": False,
                "media": {"data": "data:image/png;base64,iVBORw0KGgo="},
            }
        )
    assert (info.value.code, info.value.param) == (ErrorCode.BASE64_NOT_SUPPORTED, "media.data")
    assert stack.sandbox.remote_calls == calls


async def _reply_within_a_window(
    provider: SandboxProvider, clock: FakeClock, text: str
) -> SendResult:
    """One text reply to ``TO`` (whose window is open) on a Messenger whose
    ``provider_timeout`` is 0.05 s."""
    async with Messenger(
        store=MemoryStore(),
        provider=provider,
        clock=clock,
        ids=SequentialIds(),
        policy=Policy(provider_timeout=0.05),
    ) as messenger:
        inbound = provider.inbound(
            contact=parse_recipient(TO), sender_id="sandbox-sender", text="hi", at=clock.now()
        )
        await messenger.ingest([inbound])
        with anyio.fail_after(5):
            return await messenger.send({"to": TO, "text": text})


async def test_a_provider_that_never_answers_times_out_and_is_retried_later() -> None:
    """A hanging provider (a plugin's bug, a black-holed network) costs one
    ``provider_timeout``; the message is kept, pending a retry, never lost."""

    class Hanging(SandboxProvider):
        async def send(self, *args: Any, **kwargs: Any) -> SendReceipt:
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

    clock = FakeClock()
    result = await _reply_within_a_window(Hanging(clock=clock), clock, "anyone there?")
    assert result.status == MessageStatus.PENDING
    error = result.message.error
    assert error is not None
    assert (error.code, error.message) == (
        "PROVIDER_UNAVAILABLE",
        "the provider did not answer in time",
    )
    assert result.message.due_at is not None
    assert result.message.due_at > clock.now()
    assert result.message.attempting_since is None


@pytest.mark.parametrize(
    ("declared", "expected"),
    [(0.01, MessageStatus.SENT), (1.0, MessageStatus.PENDING), (None, MessageStatus.PENDING)],
)
async def test_a_provider_declaring_its_own_send_timeout_gets_no_second_deadline(
    declared: float | None, expected: MessageStatus
) -> None:
    """A provider whose ``capabilities.send_timeout`` is within ``provider_timeout`` is
    trusted to end its sends itself: the Messenger adds no deadline. This one breaks
    that promise (it answers after 0.2 s), which shows whose deadline applies: with
    none declared, or one longer than the policy's 0.05 s, the Messenger's own ends
    the attempt."""
    from waport.ports import Capabilities

    class Slow(SandboxProvider):
        async def send(self, *args: Any, **kwargs: Any) -> SendReceipt:
            await anyio.sleep(0.2)
            return await super().send(*args, **kwargs)

    clock = FakeClock()
    provider = Slow(clock=clock, limited_to=Capabilities(send_timeout=declared))
    result = await _reply_within_a_window(provider, clock, "still there?")
    assert result.status == expected
