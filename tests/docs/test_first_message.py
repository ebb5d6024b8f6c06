"""Your first message, in Python: the Messenger over the memory store and the sandbox."""

import pytest

from waport import ErrorCode, MessageStatus, WaportError, parse_recipient
from waport.service import Messenger, RandomIds, SystemClock
from waport_memory import MemoryStore, SandboxProvider


@pytest.mark.anyio
async def test_first_message() -> None:
    clock = SystemClock()
    sandbox = SandboxProvider(clock=clock)
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=RandomIds()
    ) as messenger:
        with pytest.raises(WaportError) as refused:
            await messenger.send({"to": "+255 712 345 678", "text": "Hello!"})
        assert refused.value.code == ErrorCode.WINDOW_CLOSED

        template = {"name": "order_update", "language": "en_US", "params": ["Ana", "#42"]}
        sent = await messenger.send(
            {"to": "+255712345678", "sender_id": "sandbox-sender", "template": template}
        )
        assert sent.status == MessageStatus.SENT

        contact = parse_recipient("+255712345678")
        inbound = sandbox.inbound(
            contact=contact, sender_id="sandbox-sender", text="Where is my order?", at=clock.now()
        )
        await messenger.ingest([inbound])

        reply = await messenger.send({"to": "+255712345678", "text": "It ships today."})
        assert reply.status == MessageStatus.SENT
        assert (await messenger.window_status(contact)).within_window
