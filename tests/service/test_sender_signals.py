"""A sender the provider says is down (the sandbox, told so as WAHA would tell it): sends
and broadcasts are refused at once, queued messages wait their backoff without a call,
the workspace hears ``sender.updated`` once, and all goes out when it is back."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from waport import ErrorCode, WaportError
from waport.domain.events import SenderUpdate
from waport_memory.sandbox import SANDBOX_SENDER

from .conftest import Stack

pytestmark = pytest.mark.anyio
HELLO = {"name": "hello_world", "language": "en_US"}
SEND = {"to": "+255712345678", "template": HELLO}


def word(stack: Stack, status: str) -> SenderUpdate:
    return SenderUpdate(
        provider="sandbox",
        sender_ids=(SANDBOX_SENDER,),
        at=stack.clock.now(),
        available=status == "WORKING",
        state=status,
    )


async def test_a_sender_said_down_refuses_fast_and_queued_messages_wait(stack: Stack) -> None:
    workspace = await stack.messenger.bootstrap()
    await stack.store.workspaces.put(attrs.evolve(workspace, webhook_url="https://h.example/w"))
    queued = await stack.messenger.send(SEND, attempt=False)
    report = await stack.messenger.ingest([word(stack, "FAILED")] * 2)
    assert report.senders_changed == 1  # the repeat changes nothing
    calls = stack.sandbox.remote_calls
    for request in (
        lambda: stack.messenger.send(SEND),
        lambda: stack.messenger.broadcast(
            {"template": HELLO, "recipients": [{"to": "+255712345679"}]}
        ),
    ):
        with pytest.raises(WaportError) as refused:
            await request()
        assert (refused.value.code, refused.value.param) == (
            ErrorCode.PROVIDER_UNAVAILABLE,
            "sender_id",
        )
    await stack.messenger.dispatch_once()
    waiting = await stack.messenger.get_message(queued.message_id)
    assert waiting.status.value == "pending"
    assert waiting.error is not None
    assert waiting.error.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert stack.sandbox.remote_calls == calls  # nothing was sent

    stack.clock.advance(1)
    await stack.messenger.ingest([word(stack, "WORKING")])
    assert (await stack.messenger.send(SEND)).status.value == "sent"
    stack.clock.advance(3600)
    await stack.messenger.dispatch_once()
    assert (await stack.messenger.get_message(queued.message_id)).status.value == "sent"
    events = await stack.store.outbox.claim(
        stack.clock.now(), limit=100, lease=timedelta(seconds=30)
    )
    said = [e for e in events if e.type == "sender.updated"]
    assert [e.payload["data"]["health"]["state"] for e in said] == ["FAILED"]  # in order
    assert said[0].payload["data"]["previous"]["available"] is True
