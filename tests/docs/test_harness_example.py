"""Testing an integration with waport: the whole stack in memory, with a fake clock."""

import pytest

from waport import ErrorCode, MessageStatus, WaportError, parse_recipient
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider


@pytest.mark.anyio
async def test_order_notifications() -> None:
    clock = FakeClock()
    sandbox = SandboxProvider(clock=clock)
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=SequentialIds()
    ) as messenger:
        ana = parse_recipient("+255 712 345 678")

        # Outside the window only a template may go out; nothing reaches WhatsApp.
        with pytest.raises(WaportError) as refused:
            await messenger.send({"to": str(ana), "text": "Your order shipped"})
        assert refused.value.code == ErrorCode.WINDOW_CLOSED
        assert sandbox.sent == []

        update = {"name": "order_update", "language": "en_US", "params": ["Ana", "#42"]}
        sent = await messenger.send(
            {"to": str(ana), "sender_id": "sandbox-sender", "template": update}
        )
        assert sent.status == MessageStatus.SENT

        # Ana answers: the window opens and free-form replies go through.
        await messenger.ingest(
            [
                sandbox.inbound(
                    contact=ana, sender_id="sandbox-sender", text="Thanks!", at=clock.now()
                )
            ]
        )
        reply = await messenger.send({"to": str(ana), "text": "You're welcome"})
        assert reply.status == MessageStatus.SENT

        # Two seconds later WhatsApp reports delivered, then read.
        clock.advance(2)
        await messenger.dispatch_once()
        assert (await messenger.get_message(sent.message_id)).status == MessageStatus.READ

        # A number that is not on WhatsApp fails, and the failure is stored.
        bob = parse_recipient("+255 700 000 001")
        sandbox.script(to=bob, fail_with=ErrorCode.RECIPIENT_NOT_ON_WHATSAPP)
        failed = await messenger.send(
            {"to": str(bob), "sender_id": "sandbox-sender", "template": update}
        )
        assert failed.status == MessageStatus.FAILED
        assert failed.error is not None
        assert failed.error.code == "RECIPIENT_NOT_ON_WHATSAPP"

        # A day later the window has closed again.
        clock.advance(hours=24)
        assert not (await messenger.window_status(ana)).within_window
