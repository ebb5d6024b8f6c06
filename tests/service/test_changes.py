"""The change feed: numbered in order, bounded, a reader behind the window gets a ``Gap``;
wired in front of a store, every committed message change is published exactly once."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport import MessageStatus, parse_recipient
from waport.service import Messenger
from waport.service.changes import Change, Changes, Gap, visible
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider

pytestmark = pytest.mark.anyio
TO = "255712345678"


class _Record:
    def __init__(self, n: int) -> None:
        self.id, self.workspace_id, self.sender_id = f"m{n}", "ws", "s"


@given(
    capacity=st.integers(1, 8),
    batches=st.lists(st.integers(0, 5), max_size=12),
    reader=st.integers(0, 80),
)
def test_a_reader_gets_exactly_what_followed_or_a_gap(
    capacity: int, batches: list[int], reader: int
) -> None:
    feed, n = Changes(capacity=capacity), 0
    for size in batches:
        feed.publish([_Record(n + i) for i in range(size)])  # type: ignore[misc]
        n += size
    assert feed.last == n
    reader = min(reader, n)
    found = feed.after(reader)
    if reader == n:
        assert found == []
    elif reader < n - capacity:  # what followed it is no longer kept
        assert found == Gap(n)
    else:
        assert isinstance(found, list)
        assert [c.seq for c in found] == list(range(reader + 1, n + 1))
        assert [c.message_id for c in found] == [f"m{s - 1}" for s in range(reader + 1, n + 1)]


async def test_a_waiting_reader_wakes_on_a_change_or_the_close() -> None:
    feed = Changes()
    woke: list[int] = []

    async def reader() -> None:
        await feed.wait(0, within=10)
        woke.append(feed.last)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.01)
        assert woke == []
        feed.publish([_Record(0)])  # type: ignore[list-item]
    assert woke == [1]
    with anyio.fail_after(1):
        await feed.wait(0, within=10)  # a change after 0 exists: returns at once
    feed.close()
    with anyio.fail_after(1):
        await feed.wait(5, within=10)  # closed: returns at once
    assert feed.closed


def test_a_key_sees_its_workspace_and_its_senders_only() -> None:
    change = Change(1, "ws", "s1", "m")
    assert visible(change, "ws", None)
    assert visible(change, "ws", {"s1"})
    assert not visible(change, "ws", {"s2"})
    assert not visible(change, "other", None)


async def test_every_committed_change_through_the_messenger_is_published_once() -> None:
    clock, feed = FakeClock(), Changes()
    sandbox = SandboxProvider(clock=clock)
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=SequentialIds(), changes=feed
    ) as messenger:
        event = sandbox.inbound(
            contact=parse_recipient(TO), sender_id="sandbox-sender", text="hi", at=clock.now()
        )
        await messenger.ingest([event])
        await messenger.ingest([event])  # a redelivery changes nothing: not published
        received = feed.after(0)
        assert isinstance(received, list)
        assert len(received) == 1
        inbound_id = received[0].message_id

        result = await messenger.send({"to": TO, "text": "hello"})
        assert result.status == MessageStatus.SENT
        sent = feed.after(1)
        assert isinstance(sent, list)
        # accepted (committed in the transaction), then the attempt's outcome
        assert [c.message_id for c in sent] == [result.message_id, result.message_id]
        assert {c.workspace_id for c in sent} == {received[0].workspace_id}

        before = feed.last
        clock.advance(60)
        statuses = await sandbox.poll_events(clock.now())  # sent, then delivered and read
        assert statuses
        await messenger.ingest(statuses)
        delivered = feed.after(before)
        assert isinstance(delivered, list)
        # one per status that changed the message (sent again changes nothing)
        assert {c.message_id for c in delivered} == {result.message_id}
        assert len(delivered) == len(statuses) - 1
        assert inbound_id != result.message_id
