"""The integrator guide's example: a Messenger composed by hand, on SQLite and the sandbox."""

from pathlib import Path

import pytest

from waport import MessageStatus


@pytest.mark.anyio
async def test_compose_a_messenger(tmp_path: Path) -> None:
    # --8<-- [start:compose]
    from waport.service import Messenger, RandomIds, SystemClock
    from waport_memory import SandboxProvider
    from waport_sqlite import open_sqlite

    clock = SystemClock()
    async with open_sqlite(str(tmp_path / "waport.db")) as store:
        provider = SandboxProvider(clock=clock)
        async with Messenger(
            store=store, provider=provider, clock=clock, ids=RandomIds(), run_background=True
        ) as messenger:
            result = await messenger.send(
                {
                    "to": "+255712345678",
                    "sender_id": "sandbox-sender",
                    "template": {"name": "hello_world", "language": "en_US"},
                }
            )
            print(result.message_id, result.status)  # msg_01... sent
    # --8<-- [end:compose]
    assert result.status == MessageStatus.SENT


@pytest.mark.anyio
async def test_compose_by_settings(tmp_path: Path) -> None:
    database = str(tmp_path / "waport.db")
    # --8<-- [start:settings]
    from waport.service.compose import Composition, open_messenger

    composition = Composition(database=database, provider="sandbox")
    async with open_messenger(composition) as messenger:
        result = await messenger.send(
            {
                "to": "+255712345678",
                "sender_id": "sandbox-sender",
                "template": {"name": "hello_world", "language": "en_US"},
            }
        )
    # --8<-- [end:settings]
    assert result.status == MessageStatus.SENT
