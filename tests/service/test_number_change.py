"""A contact who changed number (Meta's system message ``user_changed_number``): the new
number's contact takes the old one's name and labels and notes the old number; the old
one notes the new; the old number's opt-out stays with it."""

from __future__ import annotations

import pytest

from waport.domain.consent import ConsentChange
from waport.domain.events import InboundMessage
from waport.domain.recipients import parse_recipient
from waport.domain.records import Contact
from waport_memory.sandbox import SANDBOX_SENDER

from .conftest import Stack

pytestmark = pytest.mark.anyio
OLD = parse_recipient("+16505551234")
NEW = parse_recipient("+12195555358")


def changed(stack: Stack, wamid: str, new: str = "12195555358") -> InboundMessage:
    return InboundMessage(
        provider="sandbox",
        provider_message_id=wamid,
        sender_id=SANDBOX_SENDER,
        contact=OLD,
        received_at=stack.clock.now(),
        kind="system",
        text="User Ana changed from 16505551234 to 12195555358",
        payload={"system": {"type": "user_changed_number", "wa_id": new, "body": "..."}},
    )


async def test_a_changed_number_carries_the_contact_over(stack: Stack) -> None:
    workspace = await stack.messenger.bootstrap()
    await stack.store.contacts.upsert(
        Contact(
            workspace_id=workspace.id,
            recipient=OLD,
            name="Ana",
            labels=("vip",),
            updated_at=stack.clock.now(),
        )
    )
    await stack.store.contacts.set_consent(
        workspace.id, OLD, ConsentChange(opted_out=True, at=stack.clock.now(), source="api")
    )
    await stack.messenger.ingest([changed(stack, "wamid.SYS1")])
    new = await stack.store.contacts.get(workspace.id, NEW)
    old = await stack.store.contacts.get(workspace.id, OLD)
    assert new is not None
    assert old is not None
    assert (new.name, new.labels, new.metadata["previous_number"]) == ("Ana", ("vip",), str(OLD))
    assert old.metadata["new_number"] == str(NEW)
    assert not new.opted_out  # a new number has said nothing yet
    assert old.opted_out


async def test_a_system_message_without_a_usable_number_changes_no_contact(stack: Stack) -> None:
    workspace = await stack.messenger.bootstrap()
    report = await stack.messenger.ingest([changed(stack, "wamid.SYS2", new="not-a-number")])
    assert report.inbound_new == 1  # kept, not dropped
    assert await stack.store.contacts.get(workspace.id, OLD) is None
