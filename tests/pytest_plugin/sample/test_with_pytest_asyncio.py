"""The same fixtures in a project that tests with pytest-asyncio (asyncio_mode = "auto")."""

from waport import MessageStatus
from waport.service import Messenger
from waport.testing import FakeClock


async def test_a_template_is_read_two_seconds_later(
    waport_messenger: Messenger, waport_clock: FakeClock
) -> None:
    template = {"name": "hello_world", "language": "en_US"}
    sent = await waport_messenger.send({"to": "+255712345678", "template": template})
    waport_clock.advance(2)
    await waport_messenger.dispatch_once()
    assert (await waport_messenger.get_message(sent.message_id)).status == MessageStatus.READ
