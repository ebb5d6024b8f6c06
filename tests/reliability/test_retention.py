"""Retention: after N days the bodies and phone numbers of finished messages are gone from
every table, from the WAL and from the file's free pages; recent conversations and their
24-hour windows are untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from waport import parse_recipient
from waport.service import Messenger, Policy
from waport.testing import FakeClock, SequentialIds
from waport_memory import SandboxProvider
from waport_sqlite import open_sqlite

pytestmark = pytest.mark.anyio

OLD = [f"2557100{i:05d}" for i in range(40)]
RECENT = "255799988877"


async def test_a_month_later_old_numbers_and_bodies_are_gone_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "waport.db"
    clock = FakeClock()
    policy = Policy(retention=timedelta(days=30))
    async with open_sqlite(str(path)) as store:
        sandbox = SandboxProvider(clock=clock)
        messenger = Messenger(
            store=store, provider=sandbox, clock=clock, ids=SequentialIds(), policy=policy
        )
        async with messenger:
            for i, number in enumerate(OLD):
                event = sandbox.inbound(
                    contact=parse_recipient(number),
                    sender_id="sandbox-sender",
                    text=f"secret-inbound-body-{i}",
                    at=clock.now(),
                )
                await messenger.ingest([event])
                result = await messenger.send({"to": number, "text": f"secret-reply-body-{i}"})
                assert result.status.value == "sent"
            clock.advance(seconds=5)
            await messenger.dispatch_once()  # the sandbox reports delivered and read
            assert await messenger.housekeeping() == 0  # nothing is 30 days old yet

            clock.advance(days=31)
            event = sandbox.inbound(
                contact=parse_recipient(RECENT),
                sender_id="sandbox-sender",
                text="recent-inbound-body",
                at=clock.now(),
            )
            await messenger.ingest([event])
            purged = await messenger.housekeeping()
            assert purged == 2 * len(OLD)
            window = await messenger.window_status(RECENT)
            assert window.within_window
            counts = await store.messages.counts()
            assert sum(counts.values()) == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("waport.db*"))  # noqa: ASYNC240
    assert b"recent-inbound-body" in raw  # the scan can see what is still there
    assert RECENT.encode() in raw
    for i, number in enumerate(OLD):
        assert number.encode() not in raw, number
        assert f"secret-inbound-body-{i}".encode() not in raw
        assert f"secret-reply-body-{i}".encode() not in raw


def test_retention_is_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="at least a day"):
        Policy(retention=timedelta(hours=23))
