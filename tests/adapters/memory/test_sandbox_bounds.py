"""The sandbox provider's memory is bounded however long it runs (issue 23): it keeps the
newest sent messages for inspection and forgets the oldest receipts and windows."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.messages import OutboundMessage, TemplateMessage
from waport.domain.recipients import parse_recipient
from waport.service import SystemClock
from waport_memory.sandbox import SANDBOX_SENDER, SandboxProvider

pytestmark = pytest.mark.anyio


def _message(n: int) -> OutboundMessage:
    return OutboundMessage(
        to=parse_recipient(f"2557{n:08d}"),
        content=TemplateMessage(name="hello_world", language="en_US"),
        sender_id=SANDBOX_SENDER,
    )


async def test_memory_stays_bounded_over_many_sends() -> None:
    sandbox = SandboxProvider(clock=SystemClock(), keep_sent=100, remember=1_000, read_after=None)
    tracemalloc.start()
    for n in range(3_000):
        await sandbox.send(_message(n), sender=SANDBOX_SENDER, client_id=f"m{n}")
        await sandbox.poll_events(datetime.max.replace(tzinfo=UTC))
    after_warm, _ = tracemalloc.get_traced_memory()
    for n in range(3_000, 12_000):
        await sandbox.send(_message(n), sender=SANDBOX_SENDER, client_id=f"m{n}")
        await sandbox.poll_events(datetime.max.replace(tzinfo=UTC))
    after_more, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert 100 <= len(sandbox.sent) < 200
    assert sandbox.sent[-1].client_id == "m11999"
    assert len(sandbox.successes) == 1_000
    # 9,000 more sends cost (close to) nothing more: nothing grows with the count
    assert after_more - after_warm < 200_000, after_more - after_warm
    # a recent message re-sent is still answered with its first receipt
    again = await sandbox.send(_message(11_999), sender=SANDBOX_SENDER, client_id="m11999")
    assert again.provider_message_id == "sbx.m11999"
    assert sandbox.successes["m11999"] == 2


async def test_scripts_wait_in_a_bounded_queue_and_only_for_their_senders() -> None:
    sandbox = SandboxProvider(
        clock=SystemClock(), sender_ids=(SANDBOX_SENDER, "other"), max_scripts=3
    )
    for _ in range(3):
        sandbox.script(fail_with=ErrorCode.PROVIDER_UNAVAILABLE, senders=frozenset({"other"}))
    with pytest.raises(WaportError) as refused:
        sandbox.script(fail_with=ErrorCode.PROVIDER_UNAVAILABLE)
    assert refused.value.code is ErrorCode.RATE_LIMITED
    # a send from another sender does not take them
    await sandbox.send(_message(1), sender=SANDBOX_SENDER, client_id="a")
    with pytest.raises(WaportError) as failed:
        await sandbox.send(_message(1), sender="other", client_id="b")
    assert failed.value.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_each_sandbox_has_its_own_webhook_secret() -> None:
    one, two = SandboxProvider(clock=SystemClock()), SandboxProvider(clock=SystemClock())
    assert one.webhook_secret != two.webhook_secret
    assert len(one.webhook_secret) >= 32
    body = b'{"events": []}'
    assert one.parse_webhook(one.sign(body), body) == ()
    with pytest.raises(WaportError) as forged:
        one.parse_webhook(two.sign(body), body)
    assert forged.value.code is ErrorCode.INVALID_SIGNATURE
