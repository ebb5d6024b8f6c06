"""A user's tests of their own code on waport, with only the plugin's fixtures
(anyio's pytest plugin, on asyncio and on trio)."""

import pytest

from waport import ErrorCode, MessageStatus, WaportError, parse_recipient
from waport.service import Messenger
from waport.testing import FakeClock
from waport_memory import SandboxProvider

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]

UPDATE = {"name": "order_update", "language": "en_US", "params": ["Ana", "#42"]}


async def notify_shipped(messenger: Messenger, number: str) -> str:
    """The user's code under test: an order update by template."""
    result = await messenger.send({"to": number, "template": UPDATE})
    return result.message_id


async def test_a_template_is_sent_then_delivered_and_read(
    waport_messenger: Messenger, waport_sandbox: SandboxProvider, waport_clock: FakeClock
) -> None:
    message_id = await notify_shipped(waport_messenger, "+255 712 345 678")
    assert len(waport_sandbox.sent) == 1
    waport_clock.advance(2)
    await waport_messenger.dispatch_once()
    assert (await waport_messenger.get_message(message_id)).status == MessageStatus.READ


async def test_free_form_waits_for_the_customer(
    waport_messenger: Messenger, waport_sandbox: SandboxProvider, waport_clock: FakeClock
) -> None:
    ana = parse_recipient("+255 712 345 678")
    with pytest.raises(WaportError) as refused:
        await waport_messenger.send({"to": str(ana), "text": "Your order shipped"})
    assert refused.value.code == ErrorCode.WINDOW_CLOSED
    sender = waport_sandbox.sender_ids[0]
    hello = waport_sandbox.inbound(contact=ana, sender_id=sender, text="Hi", at=waport_clock.now())
    await waport_messenger.ingest([hello])
    reply = await waport_messenger.send({"to": str(ana), "text": "Your order shipped"})
    assert reply.status == MessageStatus.SENT


async def test_the_durable_messenger_keeps_what_it_sent(
    waport_sqlite_messenger: Messenger, waport_sandbox: SandboxProvider
) -> None:
    bob = parse_recipient("+255 700 000 001")
    waport_sandbox.script(to=bob, fail_with=ErrorCode.RECIPIENT_NOT_ON_WHATSAPP)
    message_id = await notify_shipped(waport_sqlite_messenger, str(bob))
    stored = await waport_sqlite_messenger.get_message(message_id)
    assert stored.status == MessageStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "RECIPIENT_NOT_ON_WHATSAPP"
